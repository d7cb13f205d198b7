"""The web app in a real browser with the REAL log-in (issue 12 tests): Debian's headless Chromium
through chromedriver and Selenium, the app exactly as `autoinform web` builds it (no test user
middleware). A manager logs in through /login, approves a specialist's campaign, starts it and
watches its progress bar move as deliveries end; downloads the campaign's report and the file is
checked; logs out. An operator logs in, takes a callback and closes it with an outcome; logs out.
Screenshots are kept under test-artifacts/browser/.

Skipped with the reason when the browser is missing, unless AUTOINFORM_TEST_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from autoinform import db
from autoinform.config import SmtpSettings
from autoinform.hotline import tasks
from autoinform.models import HotlineTask, utcnow
from autoinform.report_files.csv_file import RESULTS_TITLE
from autoinform.runtime import Runtime
from autoinform.users import set_password
from autoinform.web.app import create_app
from ivr.hotline.backend import NewTask, TaskKind
from tests.fakes.smtp_sink import SmtpSink
from tests.web.pages_fixtures import draft, finish, serve
from tests.web.test_browser import Shots, browser

__all__ = ["browser"]
PASSWORD = "Пароль для браузера 42"


def test_log_in_approve_watch_download_take_a_callback_log_out(browser: Any, page_rt: Runtime, tmp_path: Path,
                                                               request: pytest.FixtureRequest) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    shot = Shots(browser, request.node.name)
    page_rt.settings.web = page_rt.settings.web.model_copy(update={"cookie_secure": False})  # plain http here
    with db.transaction(page_rt.sessions) as s:
        for login in ("boss", "op"):
            set_password(s, login, PASSWORD, actor="root")
        now = utcnow()
        task_id = tasks.create(s, NewTask(TaskKind.CALLBACK, "+79990001122", "call-1", account="300100000001",
                                          note="после 20:00"), now - timedelta(hours=1), now - timedelta(hours=5),
                               retention_days=30).id
    cid = draft(page_rt, 4).campaign_id  # formed by "spec": "boss" may approve it
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})

    def wait(condition: Any, timeout: float = 10) -> None:
        WebDriverWait(browser, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(condition)

    def text(css: str) -> str:
        return str(browser.find_element(By.CSS_SELECTOR, css).text)

    def log_in(login: str) -> None:
        browser.find_element(By.NAME, "login").send_keys(login)
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "form.login button").click()

    def log_out() -> None:
        browser.find_element(By.CSS_SELECTOR, 'header form[action="/logout"] button').click()
        wait(lambda d: "/login" in d.current_url)

    with SmtpSink() as smtp, serve(create_app(page_rt)) as base:
        page_rt.settings.smtp = SmtpSettings(port=smtp.port)  # the start's preflight asks the relay
        browser.get(f"{base}/campaigns/{cid}")
        wait(lambda d: "/login" in d.current_url)  # no session: sent to log in, and back afterwards
        browser.find_element(By.NAME, "login").send_keys("boss")
        browser.find_element(By.NAME, "password").send_keys("not the password")
        browser.find_element(By.CSS_SELECTOR, "form.login button").click()
        wait(lambda d: "wrong login or password" in text("main"))
        shot("wrong-password")
        browser.find_element(By.NAME, "login").clear()
        log_in("boss")
        wait(lambda d: d.current_url.endswith(f"/campaigns/{cid}"))
        assert text("#state") == "draft" and "boss (manager)" in text("header")
        assert all(c["httpOnly"] for c in browser.get_cookies())  # the session cookie: not for scripts
        shot("logged-in")

        browser.find_element(By.NAME, "comment").send_keys("Проверено")
        browser.find_element(By.ID, "approve").click()
        wait(lambda d: text("#state") == "approved")
        assert "boss: утвердил — «Проверено»" in text("#history")
        browser.find_element(By.ID, "start").click()
        wait(lambda d: text("#state") == "running")
        wait(lambda d: int(d.find_element(By.ID, "live").get_attribute("data-updates") or 0) >= 1)
        browser.execute_script("window.stillThisPage = true")
        shot("running")

        def positive_width() -> float:
            seg = browser.find_element(By.CSS_SELECTOR, '#live > .bar [data-seg="positive"]')
            return float(browser.execute_script("return parseFloat(arguments[0].style.width)", seg))

        assert positive_width() == 0
        assert finish(page_rt, 1) == 1
        wait(lambda d: text("#count-positive") == "1")
        assert positive_width() == 25
        assert finish(page_rt, 3) == 3
        wait(lambda d: text("#count-positive") == "4")
        assert positive_width() == 100 and browser.execute_script("return window.stillThisPage") is True
        shot("delivered")

        browser.find_element(By.ID, "download-csv").click()
        target = downloads / f"campaign-{cid}-report.csv"
        deadline = time.monotonic() + 20
        while not target.exists():
            assert time.monotonic() < deadline, list(downloads.iterdir())
            time.sleep(0.1)
        rows = list(csv.reader(io.StringIO(target.read_bytes().decode("utf-8-sig")), delimiter=";"))
        start = next(i for i, r in enumerate(rows) if r[:1] == [RESULTS_TITLE]) + 2
        results = rows[start:next(i for i in range(start, len(rows)) if not rows[i])]
        assert len(results) == 4 and sum("client700001@example.ru" in r for r in results) == 1  # a manager: clear
        log_out()
        shot("logged-out")
        browser.get(f"{base}/campaigns/{cid}")
        wait(lambda d: "/login" in d.current_url)  # the session is gone

        browser.get(f"{base}/login?next=/callbacks")
        log_in("op")
        wait(lambda d: d.current_url.endswith("/callbacks"))
        row = f"#task-{task_id}"
        assert "просрочена" in text(row) and "+79990001122" not in text(row)  # masked until taken
        shot("callbacks")
        browser.find_element(By.ID, f"take-{task_id}").click()
        wait(lambda d: "+79990001122" in text(row))  # the operator working it must call it
        assert "op" in text(f"{row} .state")
        shot("taken")
        browser.find_element(By.ID, f"done-{task_id}").click()  # no outcome: the browser asks for one
        assert browser.find_element(By.ID, f"outcome-{task_id}").get_attribute("validationMessage")
        Select(browser.find_element(By.ID, f"outcome-{task_id}")).select_by_value("reached")
        browser.find_element(By.ID, f"note-{task_id}").send_keys("объяснил порядок оплаты")
        browser.find_element(By.ID, f"done-{task_id}").click()
        wait(lambda d: not d.find_elements(By.CSS_SELECTOR, row))
        shot("closed")
        with page_rt.sessions() as s:
            done = s.get(HotlineTask, task_id)
            assert done is not None and (done.state, done.outcome, done.done_by) == ("done", "reached", "op")
        log_out()


def test_an_operator_watches_the_hotline_now(browser: Any, page_rt: Runtime, tmp_path: Path,
                                            request: pytest.FixtureRequest) -> None:
    """The hotline page after a real log-in: a caller's wait counts up in the page and turns red
    past the 40 s target; a caller the hotline backend records appears without a reload."""
    import asyncio

    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from autoinform.hotline import calls
    from autoinform.hotline.backend import DbHotlineBackend
    from ivr.hotline.backend import CallRecord, QueueEvent

    shot = Shots(browser, request.node.name)
    page_rt.settings.web = page_rt.settings.web.model_copy(update={"cookie_secure": False})
    page_rt.settings.hotline.recordings_dir = tmp_path / "rec"
    now = utcnow()
    with db.transaction(page_rt.sessions) as s:
        set_password(s, "op", PASSWORD, actor="root")
        calls.upsert_call(s, CallRecord("W1", "+79990003344", now - timedelta(seconds=60)))
        calls.add_queue_event(s, QueueEvent("W1", "operators", "join", now - timedelta(seconds=37)))

    def wait(condition: Any, timeout: float = 10) -> None:
        WebDriverWait(browser, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(condition)

    def text(css: str) -> str:
        return str(browser.find_element(By.CSS_SELECTOR, css).text)

    with serve(create_app(page_rt)) as base:
        browser.get(f"{base}/hotline")
        browser.find_element(By.NAME, "login").send_keys("op")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "form.login button").click()
        wait(lambda d: d.current_url.endswith("/hotline"))
        assert text("#waiting-count") == "1" and "+79990003344" not in text("#waiting")  # masked for operators
        first = int(text("#waiting tbody td:last-child"))
        assert 36 <= first <= 40
        wait(lambda d: int(text("#waiting tbody td:last-child")) > 40, timeout=15)  # counts up in the page
        assert "over" in str(browser.find_element(By.CSS_SELECTOR, "#waiting tbody tr").get_attribute("class"))
        shot("waiting-past-target")
        browser.execute_script("window.stillThisPage = true")
        backend = DbHotlineBackend(page_rt)
        try:
            asyncio.run(backend.record_call(CallRecord("W2", "+79990005566", utcnow())))
            wait(lambda d: text("#in-ivr-count") == "1")  # W1 is in the queue, not the menu
            asyncio.run(backend.queue_event(QueueEvent("W1", "operators", "connect", utcnow(), 45.0)))
        finally:
            backend.close()
        wait(lambda d: text("#waiting-count") == "0" and text("#breaches") == "1")
        assert browser.execute_script("return window.stillThisPage") is True  # live, not reloaded
        shot("answered-late")
