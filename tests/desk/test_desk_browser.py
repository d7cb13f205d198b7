"""The desk in a real browser (issue 13 tests): Debian's headless Chromium through Selenium, two
operators' desks open side by side. The queue connects a caller to op1 (the AgentConnect as
DeskControl stores it): op1's open page shows the customer's card by its live stream, without a
reload; op2's page never does. op1 then records the wrap-up through the form. Screenshots are kept
under test-artifacts/browser/. Skipped like tests/web/test_browser.py when the browser is missing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from autoinform import db
from autoinform.desk import store
from autoinform.desk.events import connect_from
from autoinform.models import DeskCall, Role
from autoinform.runtime import Runtime
from autoinform.web.app import create_app
from tests.desk.conftest import CALLER, NOW, OP1, agent_connect, seed
from tests.web.pages_fixtures import TestUserMiddleware as UserHeader
from tests.web.pages_fixtures import serve
from tests.web.test_browser import Shots, browser, new_chromium

__all__ = ["browser"]
ROLES = {"op1": Role.OPERATOR, "op2": Role.OPERATOR}


@pytest.fixture
def second_browser(browser: Any) -> Iterator[Any]:
    """Another Chromium like `browser` (its own cookies: the other operator)."""
    driver = new_chromium(1400)
    try:
        yield driver
    finally:
        driver.quit()


def test_the_card_pops_up_on_the_connected_operators_open_page(browser: Any, second_browser: Any,
                                                                sqlite_rt: Runtime,
                                                                request: pytest.FixtureRequest) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    seed(sqlite_rt)
    app = create_app(sqlite_rt)
    app.add_middleware(UserHeader, roles=ROLES)
    shot = Shots(browser, request.node.name)

    def text(driver: Any, css: str) -> str:
        """The element's text; the card is redrawn whole on every state, so a node can go stale."""
        for _ in range(20):
            try:
                return str(driver.find_element(By.CSS_SELECTOR, css).text)
            except StaleElementReferenceException:
                continue
        raise AssertionError(f"{css} kept being replaced")

    def wait(driver: Any, condition: Any, timeout: float = 5) -> None:
        WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(condition)

    with serve(app) as base:
        for driver, login in ((browser, "op1"), (second_browser, "op2")):
            driver.get(f"{base}/static/app.css")
            driver.add_cookie({"name": "test_user", "value": login, "path": "/"})
            driver.get(f"{base}/desk")
            wait(driver, lambda d: text(d, "#no-call") == "Сейчас звонка нет.")
            driver.execute_script("window.stillThisPage = true")
        assert browser.find_element(By.ID, "wrapup").is_displayed() is False
        shot("waiting")

        connect = connect_from(agent_connect("hl-call-1", OP1, hold="12"))
        assert connect is not None
        with db.transaction(sqlite_rt.sessions) as s:
            store.record_connect(s, connect, NOW)
        wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '#card .customer[data-account="300100000001"]'))
        assert browser.execute_script("return window.stillThisPage") is True  # live, not reloaded
        facts = text(browser, "#call-facts")
        assert CALLER in facts and "300100000001" in facts and "balance → operator" in facts
        assert "1234.56 ₽ на 2026-12-01 (долг)" in text(browser, "#card .customer .balance")
        assert "4567" in text(browser, "#readings")
        assert browser.find_element(By.ID, "wrapup").is_displayed()
        shot("card")
        # op2's open page saw the same change go by and shows nothing of it
        assert second_browser.execute_script("return window.stillThisPage") is True
        assert text(second_browser, "#no-call") == "Сейчас звонка нет." and CALLER not in text(second_browser, "#desk")

        with db.transaction(sqlite_rt.sessions) as s:
            store.record_end(s, "hl-call-1", NOW)
        wait(browser, lambda d: "Звонок завершён" in text(d, "#card"))
        Select(browser.find_element(By.NAME, "topic")).select_by_visible_text("Показания счётчика")
        browser.find_element(By.NAME, "note").send_keys("передал показания")
        Select(browser.find_element(By.NAME, "task")).select_by_value("callback")
        browser.find_element(By.CSS_SELECTOR, "#wrapup-form button").click()
        wait(browser, lambda d: d.find_elements(By.ID, "desk-message"))
        assert text(browser, "#no-call") == "Сейчас звонка нет."
        shot("wrapped-up")
    with sqlite_rt.sessions() as s:
        row = s.scalar(select(DeskCall).where(DeskCall.call_id == "hl-call-1"))
        assert row is not None and (row.topic, row.note) == ("Показания счётчика", "передал показания")
        assert row.task_id is not None
