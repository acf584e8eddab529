"""Headless Chromium (Debian's `chromium` and `chromium-driver`) driven by Selenium, as a person would use the
dashboards: log in, open a dashboard, wait for every chart, look at what each one shows, take a screenshot."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

CHROMEDRIVER = "/usr/bin/chromedriver"  # explicit: Selenium Manager would try to download a driver
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1600,2000", "--hide-scrollbars")
EMPTY = ("No results were returned", "No data after filtering", "No data\n")
ERRORS = ("Data error", "Unexpected error", "An error occurred while rendering")


@contextmanager
def chrome() -> Iterator[webdriver.Chrome]:
    """A fresh browser (its own profile folder), closed at the end."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        opts = webdriver.ChromeOptions()
        for flag in FLAGS:
            opts.add_argument(flag)
        opts.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        driver.set_page_load_timeout(120)
        try:
            yield driver
        finally:
            driver.quit()


def login(driver: webdriver.Chrome, url: str, user: str, password: str) -> None:
    driver.get(f"{url}/login/")
    _wait(lambda: driver.find_elements(By.ID, "username"), 60, "the login form")
    for _attempt in range(2):
        # One login under the full suite's load once stayed on /login for 60 s, cause not found. The suspicion:
        # Superset's login page is a React form that may re-render after the first keys and drop them. So: type
        # until the fields hold what was typed, as a person would see and retype, then submit; a wrong password
        # fails both attempts, and the error says what the page showed.
        _wait(lambda: _typed(driver, "username", user) and _typed(driver, "password", password), 30,
              "the login form to hold what was typed")
        driver.find_element(By.CSS_SELECTOR, "[type=submit]").click()
        try:
            _wait(lambda: "/login" not in driver.current_url, 45, "the login to finish")
            return
        except TimeoutError:
            page = driver.find_element(By.TAG_NAME, "body").text[:300].replace("\n", " | ")
    raise TimeoutError(f"the login as {user} did not finish after two attempts; the page says: {page}")


def _typed(driver: webdriver.Chrome, field_id: str, text: str) -> bool:
    """Whether the field holds `text`, typing it (after clearing the field) if not."""
    field = driver.find_element(By.ID, field_id)
    if field.get_attribute("value") != text:
        field.send_keys(Keys.CONTROL, "a")  # keys, not clear(): React keeps the value in its state
        field.send_keys(Keys.DELETE)
        field.send_keys(text)
    return field.get_attribute("value") == text


@dataclass(frozen=True)
class ChartView:
    """What one chart shows on the page."""

    chart_id: int
    name: str
    viz: str
    state: str  # rendered | empty | error | loading
    text: str
    table_rows: int


def _chart_view(el) -> ChartView:
    body = el.find_elements(By.CSS_SELECTOR, ".slice_container")
    text = el.text
    viz = el.get_attribute("data-test-viz-type") or ""
    rows = len(el.find_elements(By.CSS_SELECTOR, ".slice_container table tbody tr"))
    if any(e in text for e in ERRORS) or el.find_elements(By.CSS_SELECTOR, ".ant-alert-error"):
        state = "error"
    elif any(e in text + "\n" for e in EMPTY):
        state = "empty"
    elif not body:
        state = "loading"
    elif viz == "big_number_total":
        # drawn when the number is there (under load the header line appears before its text)
        header = el.find_elements(By.CSS_SELECTOR, ".header-line")
        state = "rendered" if header and any(ch.isdigit() for ch in header[0].text) else "loading"
    elif viz == "table":
        state = "rendered" if rows else "loading"
    else:  # ECharts draws on a canvas of the chart's size
        canvases = [c for c in body[0].find_elements(By.TAG_NAME, "canvas") if c.size["width"] > 50]
        state = "rendered" if canvases else "loading"
    return ChartView(int(el.get_attribute("data-test-chart-id")), el.get_attribute("data-test-chart-name") or "",
                     viz, state, text, rows)


def open_dashboard(driver: webdriver.Chrome, url: str, slug: str, timeout: float = 120) -> list[ChartView]:
    """Open a dashboard and wait until no chart is still loading; what each chart shows then."""
    driver.get(f"{url}/superset/dashboard/{slug}/")
    views: list[ChartView] = []

    def settled() -> bool:
        nonlocal views
        if "Not found" in driver.title or "404" in driver.find_element(By.TAG_NAME, "body").text[:200]:
            views = []
            return True
        views = [_chart_view(el) for el in driver.find_elements(By.CSS_SELECTOR, "[data-test-chart-id]")]
        return bool(views) and all(v.state != "loading" for v in views)

    _wait(settled, timeout, f"the charts of {slug}")
    time.sleep(1.5)  # let the last canvas finish its animation before the screenshot
    return views


def screenshot(driver: webdriver.Chrome, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return path


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"waited {timeout:.0f}s for {what}")
