"""What tests/unit/analysis/test_page.py and tests/e2e/test_page.py share."""

import shutil

import pytest

from korsquad.data.datasets import get_spec


SQUAD2 = get_spec("squad_v2.0")


# ---- the page in a real browser ----------------------------------------------------------------------------


def chromium():
    """A headless Chromium driven by selenium, or skip with the reason."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("needs selenium: pip install -e '.[test]'")
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip("needs Chromium and its driver: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1500"):
        options.add_argument(flag)
    return options, Service(driver)


@pytest.fixture
def browser(tmp_path, monkeypatch):
    options, service = chromium()
    from selenium import webdriver

    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium must not look for drivers on the network
    driver = webdriver.Chrome(options=options, service=service)
    yield driver
    driver.quit()

