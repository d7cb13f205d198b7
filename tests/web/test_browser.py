"""The campaign page in a real browser (issue 12 tests): Debian's headless Chromium through
chromedriver and Selenium. A manager approves and starts a campaign; as deliveries end (through
the engine's own functions) the progress bar moves on the open page, by its live stream, without
a reload. Screenshots are kept under test-artifacts/browser/.

Skipped with the reason when the browser is missing, unless AUTOINFORM_TEST_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autoinform.config import SmtpSettings
from autoinform.models import Outcome
from autoinform.runtime import Runtime
from tests.conftest import ROOT
from tests.fakes.smtp_sink import SmtpSink
from tests.web.pages_fixtures import draft, finish, serve, web_app

REQUIRE = os.environ.get("AUTOINFORM_TEST_REQUIRE_BROWSER") == "1"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = ROOT / "test-artifacts" / "browser"


def _missing() -> str | None:
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).exists():
            return f"{path} not found: apt-get install {package}"
    return None


@pytest.fixture
def browser() -> Iterator[Any]:
    reason = _missing()
    if reason:
        if REQUIRE:
            pytest.fail(reason + " (AUTOINFORM_TEST_REQUIRE_BROWSER=1)")
        pytest.skip(reason)
    driver = new_chromium()
    try:
        yield driver
    finally:
        driver.quit()


def new_chromium(height: int = 1800) -> Any:
    """Debian's Chromium, headless, through its chromedriver: a browser of its own (cookies too)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size=1280,{height}", "--lang=ru"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


class Shots:
    def __init__(self, driver: Any, name: str) -> None:
        self.driver = driver
        self.dir = ARTIFACTS / name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.n = 0

    def __call__(self, label: str) -> None:
        self.n += 1
        path = self.dir / f"{self.n:02d}-{label}.png"
        assert self.driver.save_screenshot(str(path)), path
        assert path.stat().st_size > 1000


def test_a_manager_approves_and_watches_the_progress_bar_move(browser: Any, page_rt: Runtime,
                                                                request: pytest.FixtureRequest) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    shot = Shots(browser, request.node.name)
    built = draft(page_rt, 6)
    cid = built.campaign_id

    def wait(condition: Any, timeout: float) -> None:
        """Until `condition` holds; an element replaced under it (the page loading) is asked again."""
        WebDriverWait(browser, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(condition)

    def text(css: str) -> str:
        return str(browser.find_element(By.CSS_SELECTOR, css).text)

    def positive_width(bar: str = "#live > .bar") -> float:
        """The positive segment's width in per cent, as its style says."""
        seg = browser.find_element(By.CSS_SELECTOR, f'{bar} [data-seg="positive"]')
        return float(browser.execute_script("return parseFloat(arguments[0].style.width)", seg))

    with SmtpSink() as smtp, serve(web_app(page_rt)) as base:
        page_rt.settings.smtp = SmtpSettings(port=smtp.port)  # the start's preflight asks the relay
        browser.get(f"{base}/static/app.css")  # the site's origin, for its cookie
        browser.add_cookie({"name": "test_user", "value": "boss", "path": "/"})
        browser.get(f"{base}/campaigns/{cid}")
        assert text("#state") == "draft" and "boss (manager)" in text("header")
        shot("draft")

        browser.find_element(By.NAME, "comment").send_keys("Суммы и список сверены")
        browser.find_element(By.ID, "approve").click()
        wait(timeout=10, condition=lambda d: text("#state") == "approved")
        assert "boss: утвердил — «Суммы и список сверены»" in text("#history")
        shot("approved")

        browser.find_element(By.ID, "start").click()
        wait(timeout=10, condition=lambda d: text("#state") == "running")
        assert text("#count-pending") == "6" and positive_width() == 0
        # The live stream is open (its first state arrived); a reload from now on would lose this mark.
        wait(timeout=10, condition=lambda d: int(d.find_element(By.ID, "live").get_attribute("data-updates")
                                                       or 0) >= 1)
        browser.execute_script("window.stillThisPage = true")
        shot("running")

        assert finish(page_rt, 2) == 2
        wait(timeout=5, condition=lambda d: text("#count-positive") == "2")
        assert abs(positive_width() - 100 / 3) < 0.01 and text("#count-pending") == "4"
        assert len(browser.find_elements(By.CSS_SELECTOR, "#feed tbody tr")) == 2
        shot("two-delivered")

        assert finish(page_rt, 3, Outcome.NEGATIVE, "bounced") == 3
        wait(timeout=5, condition=lambda d: text("#count-negative") == "3")
        assert text("#count-pending") == "1"
        assert "the mail server returned it" in text("#results")
        assert finish(page_rt, 1) == 1
        wait(timeout=5, condition=lambda d: text("#count-positive") == "3")
        assert positive_width() == 50 and text("#count-pending") == "0"
        assert positive_width('#channels [data-bar="email"]') == 50  # the per-channel bar, redrawn live
        assert browser.execute_script("return window.stillThisPage") is True  # moved live, not reloaded
        shot("all-ended")

        browser.get(f"{base}/")
        assert "3" in text(f'tr[data-campaign="{cid}"] [data-field="counts.positive"]')
        shot("campaigns")
