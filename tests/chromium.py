"""Driving a Gradio app in headless Chromium (Selenium + Debian's chromedriver): the browser, and the few
moves the browser tests make. The `browser` fixture is in conftest.py."""

import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_browser():
    """A headless Chromium, installed first if missing (tests/install_browser.sh)."""
    subprocess.run(["bash", str(Path(__file__).with_name("install_browser.sh"))], check=True)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1500,1400"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.implicitly_wait(0)
    return driver


def wait_for(condition, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return False


def page_text(driver) -> str:
    return driver.find_element("tag name", "body").text


def click_tab(driver, title):
    for button in driver.find_elements("css selector", "button[role='tab']"):
        if button.text.strip() == title:
            button.click()
            return
    raise AssertionError(f"no tab {title!r}")


def choose(driver, element_id: str, text: str) -> None:
    """Pick the option of a Gradio dropdown that matches text, by typing it as a person would."""
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element("css selector", f"#{element_id} input")
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def type_into(driver, element_id: str, text: str) -> None:
    driver.find_element("css selector", f"#{element_id} textarea, #{element_id} input").send_keys(text)
