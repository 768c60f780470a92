"""The cart's web page in headless Chromium (Debian's chromium + chromium-driver, via selenium):
add an item on node A's page, see it appear on node B's page without a reload, toggle offline.
Screenshots land in the test's tmp folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from examples.cart._procs import NodeProcess, http_json
from tests.examples.conftest import ensure_chromium

WAIT = 30.0  # s: the most the test waits for the page to show something


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    chromium, chromedriver = ensure_chromium()
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1200,800",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        opts.add_argument(flag)
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=chromedriver))
    try:
        yield driver
    finally:
        driver.quit()


def cart_rows(driver: WebDriver) -> dict[str, str]:
    """The cart as the page shows it, read in one script (the page re-renders on every event)."""
    rows: dict[str, str] = driver.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('#cart tr[data-item]')]"
        ".map(r => [r.dataset.item, r.querySelector('input.qty').value]))"
    )
    return rows


def click(driver: WebDriver, css: str) -> None:
    """Click the element ``css`` names as it is now (a re-render may replace it at any time)."""

    def attempt(d: WebDriver) -> bool:
        d.find_element(By.CSS_SELECTOR, css).click()
        return True

    WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,)).until(attempt)


def test_an_item_added_on_a_shows_on_b_without_reload_and_offline_toggles(
    browser: WebDriver, cluster: list[NodeProcess], tmp_path: Path
) -> None:
    a, b, _ = cluster
    wait = WebDriverWait(
        browser, WAIT, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
    )
    browser.get(f"{b.url}/?user=browser")
    b_tab = browser.current_window_handle
    wait.until(lambda d: d.find_element(By.ID, "node-name").text == "b")
    wait.until(lambda d: d.find_element(By.ID, "conn").text == "live")
    assert cart_rows(browser) == {}
    assert not browser.find_element(By.ID, "insecure").is_displayed()  # the cluster has a key

    browser.switch_to.new_window("tab")
    browser.get(f"{a.url}/?user=browser")
    a_tab = browser.current_window_handle
    wait.until(lambda d: d.find_element(By.ID, "node-name").text == "a")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#members tr")) == 3)
    browser.find_element(By.ID, "item").send_keys("teapot")
    qty = browser.find_element(By.ID, "qty")
    qty.clear()
    qty.send_keys("3")
    browser.find_element(By.ID, "add").click()
    wait.until(lambda d: cart_rows(d) == {"teapot": "3"})
    assert http_json("GET", f"{a.url}/carts/browser")[1]["items"] == {"teapot": 3}
    browser.save_screenshot(str(tmp_path / "node-a.png"))

    # B's page was never reloaded: the item arrives over its event stream
    browser.switch_to.window(b_tab)
    nav_before = browser.execute_script("return performance.timeOrigin")
    wait.until(lambda d: cart_rows(d) == {"teapot": "3"})
    assert browser.execute_script("return performance.timeOrigin") == nav_before
    browser.save_screenshot(str(tmp_path / "node-b.png"))

    # the offline switch on B's page cuts B off, and brings it back
    assert browser.find_element(By.ID, "offline-toggle").text == "Go offline"
    click(browser, "#offline-toggle")
    wait.until(lambda d: d.find_element(By.ID, "offline-toggle").text == "Go online")
    assert http_json("GET", f"{b.url}/cluster")[1]["offline"] is True
    assert browser.find_element(By.ID, "offline-badge").is_displayed()
    browser.save_screenshot(str(tmp_path / "node-b-offline.png"))
    click(browser, "#offline-toggle")
    wait.until(lambda d: d.find_element(By.ID, "offline-toggle").text == "Go offline")
    assert http_json("GET", f"{b.url}/cluster")[1]["offline"] is False

    # remove on A's page: gone on both pages
    browser.switch_to.window(a_tab)
    click(browser, "#cart tr[data-item='teapot'] button.remove")
    wait.until(lambda d: cart_rows(d) == {})
    browser.switch_to.window(b_tab)
    wait.until(lambda d: cart_rows(d) == {})
    for name in ("node-a.png", "node-b.png", "node-b-offline.png"):
        assert (tmp_path / name).stat().st_size > 1000
