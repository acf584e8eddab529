"""`lake check` on a lake with a planted violation: exit 1 with the rule in the message, results in the ops zone,
and Data Docs that a headless Chromium opens, showing the failed expectation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from expectations import gates
from lake.config import LakeConfig
from lake.storage import Lake
from tests.unit import gates_fixture as fx

pytestmark = pytest.mark.integration

CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def lake_check(lake: Lake, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lake.cli", "check", "--lake", lake.cfg.uri, *args],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, subprocess.CompletedProcess]:
    lake = Lake(LakeConfig.resolve(str(tmp_path_factory.mktemp("check") / "lake")))
    fx.group_zone(lake)
    assert lake_check(lake, "--gate", "group").returncode == 0
    fx.write_table(lake, "campaigns", [{"campaign_id": "CP9", "company": "cvs", "target_company": "gms",
                                        "description": "連絡先 ０９０－１２３４－５６７８", "starts_on": fx.DAY,
                                        "ends_on": fx.DAY}])
    return lake, lake_check(lake, "--gate", "group", "--docs")


def test_lake_check_fails_and_names_the_rule(checked) -> None:
    lake, proc = checked
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "rule pii.value_patterns" in proc.stdout
    assert "group/campaigns, column description: 1 of 1 rows" in proc.stdout
    assert "1234" not in proc.stdout  # the offending value is shown masked
    results = gates.read_results(lake, "raw_to_group").to_pylist()
    failed = [r for r in results if not r["success"]]
    assert [(r["table_name"], r["column_name"], r["rows_failed"]) for r in failed] == [
        ("group/campaigns", "description", 1)]
    assert len({r["run_id"] for r in results}) == 2  # the passing run and the failing one


def test_data_docs_open_in_chromium_and_show_the_failure(checked, tmp_path: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    lake, proc = checked
    index = Path(lake.path("ops", "quality/data_docs/gates.html"))
    assert index.exists() and str(index) in proc.stdout
    # two validations of group.campaigns: the pass/fail run, then the one fetching counts and offending values of
    # what failed; the summary links the newest (run folders are UTC times)
    page = max((p for p in (index.parent / "validations").rglob("*.html") if "group.campaigns" in str(p)),
               key=lambda p: p.parent.name)
    opts = webdriver.ChromeOptions()
    for flag in [*CHROME_FLAGS, f"--user-data-dir={tmp_path / 'chrome'}"]:
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        driver.set_page_load_timeout(60)
        driver.get(index.as_uri())
        first = driver.find_elements(By.CSS_SELECTOR, "tr.failed a")[0]
        assert first.text == "group.campaigns"
        first.click()
        assert driver.current_url == page.as_uri()
        text = driver.find_element(By.TAG_NAME, "body").text
        driver.save_screenshot(str(tmp_path / "data_docs.png"))
    finally:
        driver.quit()
    assert "description" in text and "Failed" in text, text[:2000]
    assert "pii.value_patterns" in text or "regular expression" in text
