"""The fixed phrases the IVR flows play: prompt id -> Russian text (AI-10, HL-3, HL-7 … HL-11).

Ids are stable: flows and scenarios refer to them and audio/<id>.wav is built from the text, so
changing a text makes `autoinform audio check` report the prompt as changed until it is rebuilt.
Digits in menus are written as words so that any TTS engine reads them the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

PHRASES: Final[Mapping[str, str]] = MappingProxyType({
    # /selftest route: an administrator checks the Asterisk connection.
    "selftest/hello": "Здравствуйте! Это проверка голосового меню автоинформатора.",
    "selftest/press_key": "Нажмите любую клавишу на телефоне.",
    "selftest/you_pressed": "Вы нажали",
    "selftest/no_key": "Вы не нажали ни одной клавиши.",
    "selftest/sample_amount": "Пример суммы:",
    "selftest/goodbye": "Проверка завершена. До свидания.",

    # Hotline greeting (HL-1) and the recording notice at the start of every call (HL-3).
    "hotline/welcome": "Здравствуйте! Вы позвонили на горячую линию гарантирующего поставщика "
                       "электроэнергии.",
    "hotline/recording_notice": "Ваш звонок записывается в целях контроля качества обслуживания.",

    # Main menu, one prompt per option so that a flow can offer a subset (HL-4, HL-6 … HL-10).
    "hotline/menu_info": "Чтобы узнать тарифы, адреса и часы работы офисов, способы оплаты, "
                         "нажмите один.",
    "hotline/menu_readings": "Чтобы передать показания счётчика, нажмите два.",
    "hotline/menu_balance": "Чтобы узнать задолженность по лицевому счёту, нажмите три.",
    "hotline/menu_feedback": "Чтобы оставить жалобу, предложение или отзыв, нажмите четыре.",
    "hotline/menu_visit": "Чтобы записаться на личный приём, нажмите пять.",
    "hotline/menu_operator": "Чтобы соединиться с оператором, нажмите ноль.",
    "hotline/menu_repeat": "Чтобы прослушать меню ещё раз, нажмите звёздочку.",

    # Information sub-menu (HL-6); the answers themselves come from the shared information base.
    "hotline/info_tariffs": "Тарифы на электроэнергию: нажмите один.",
    "hotline/info_offices": "Адреса и часы работы офисов: нажмите два.",
    "hotline/info_payment": "Способы оплаты: нажмите три.",
    "hotline/info_readings": "Как передать показания счётчика: нажмите четыре.",
    "hotline/back_to_menu": "Чтобы вернуться в главное меню, нажмите звёздочку.",

    # Keypad input with readback and confirmation (HL-7, HL-8).
    "hotline/enter_account": "Введите номер лицевого счёта и нажмите решётку.",
    "hotline/enter_reading": "Введите показания счётчика, только целые киловатт-часы, "
                             "и нажмите решётку.",
    "hotline/enter_reading_day": "Введите показания дневной зоны и нажмите решётку.",
    "hotline/enter_reading_night": "Введите показания ночной зоны и нажмите решётку.",
    "hotline/you_entered": "Вы ввели",
    "hotline/account_number": "Номер лицевого счёта",
    "hotline/reading": "Показания",
    "hotline/confirm": "Если верно, нажмите один. Чтобы ввести заново, нажмите два.",
    "hotline/retry": "Попробуйте ещё раз.",
    "hotline/no_input": "Вы ничего не ввели.",
    "hotline/invalid_input": "Неверный ввод.",
    "hotline/account_not_found": "Лицевой счёт с таким номером не найден.",
    "hotline/reading_too_low": "Показания меньше предыдущих. Проверьте и введите заново.",
    "hotline/reading_accepted": "Показания приняты. Спасибо.",

    # Balance (HL-8): a phrase, then the amount from say.money(), then the date from say.date().
    "hotline/balance_debt": "Задолженность по лицевому счёту составляет",
    "hotline/balance_overpaid": "Переплата по лицевому счёту составляет",
    "hotline/balance_zero": "Задолженности по лицевому счёту нет.",
    "hotline/as_of": "по состоянию на",

    # Operator (HL-4, AI-8).
    "hotline/connecting_operator": "Соединяю с оператором. Пожалуйста, оставайтесь на линии.",
    "hotline/operators_busy": "Все операторы заняты. Пожалуйста, оставайтесь на линии.",

    # After hours: the call is recorded and becomes a callback task (HL-2).
    "hotline/after_hours": "Сейчас нерабочее время.",
    "hotline/record_after_beep": "Оставьте после сигнала сообщение: назовите своё имя, номер "
                                 "лицевого счёта и суть обращения. Чтобы закончить запись, "
                                 "нажмите решётку.",
    "hotline/callback_promise": "Мы перезвоним вам в рабочее время.",

    # Feedback by voice (HL-9) and pre-registration for a visit (HL-10).
    "hotline/feedback_record": "Оставьте после сигнала жалобу, предложение или отзыв. "
                               "Чтобы закончить запись, нажмите решётку.",
    "hotline/message_saved": "Ваше сообщение записано.",
    "hotline/visit_registered": "Ваша заявка на личный приём принята. Специалист перезвонит вам, "
                                "чтобы согласовать время.",

    # Post-call survey (HL-11).
    "hotline/survey_question": "Оцените, пожалуйста, качество обслуживания: нажмите цифру от "
                               "одного до пяти, где пять — отлично.",
    "hotline/survey_thanks": "Спасибо за оценку.",

    # The /hotline flow's own (ivr/hotline/flow.py; issue 11).
    "hotline/next_open": "Приём звонков возобновится",
    "hotline/at": "в",
    "hotline/info_missing": "Эти сведения сейчас уточняются. Обратитесь к оператору.",
    "hotline/submenu_repeat": "Чтобы прослушать ещё раз, нажмите девять.",
    "hotline/feedback_complaint": "Жалоба: нажмите один.",
    "hotline/feedback_suggestion": "Предложение: нажмите два.",
    "hotline/feedback_review": "Отзыв: нажмите три.",
    "hotline/balance_unknown": "Сведений о расчётах по этому счёту пока нет.",
    "hotline/meter_type": "Если счётчик однотарифный, нажмите один. Если день и ночь, нажмите два.",
    "hotline/day_zone": "дневная зона",
    "hotline/night_zone": "ночная зона",
    "hotline/previous_reading": "Предыдущие показания",
    "hotline/reading_too_high": "Показания намного больше предыдущих. Проверьте и введите заново.",
    "hotline/reading_wrong_registers": "Число показаний не подходит к вашему счётчику.",
    "hotline/reading_duplicate": "Эти показания уже приняты.",
    "hotline/nothing_recorded": "Сообщение не записано.",
    "hotline/offer_callback": "Операторы заняты. Чтобы оставить сообщение, и мы вам перезвоним, "
                              "нажмите один.",

    "hotline/technical_error": "Извините, произошла техническая ошибка. Пожалуйста, позвоните позже.",
    "hotline/goodbye": "Спасибо за обращение, до свидания.",

    # Notification calls (AI-8, AI-14): choices offered after a scenario's message.
    "notify/press_confirm": "Чтобы подтвердить, что вы прослушали сообщение, нажмите один.",
    "notify/press_repeat": "Чтобы прослушать сообщение ещё раз, нажмите звёздочку.",
    "notify/press_operator": "Чтобы соединиться с оператором, нажмите ноль.",
    "notify/goodbye": "Спасибо, до свидания.",
})
