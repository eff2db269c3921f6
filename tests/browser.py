"""A real headless Chromium for the dashboard's tests, driven through chromedriver.

Debian's `chromium` and `chromium-driver` packages are used (`make test` installs them
with apt-get when missing, through `make chromium`). Without them the tests fail, never
skip, pointing back to that target. Screenshots go to build/screenshots/<run>/, one
folder per test run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("MUSICSIM_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("MUSICSIM_CHROMEDRIVER", "/usr/bin/chromedriver")
RUN = os.environ.get("MUSICSIM_RUN") or time.strftime("run-%Y%m%d-%H%M%S") + f"-{os.getpid()}"
SHOTS = ROOT / "build" / "screenshots" / RUN
# Chromium's own calls home, which this machine's closed network would refuse noisily.
QUIET = ("--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-quic", "--no-first-run", "--disable-default-apps")


class Browser:
    """One Chromium window: pages opened, waited on and looked at."""

    def __init__(self) -> None:
        for program in (CHROMIUM, CHROMEDRIVER):
            if shutil.which(program) is None:
                pytest.fail(f"{program} is not installed; `make chromium` installs Debian's "
                            f"chromium and chromium-driver (apt-get, as root)")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        self.profile = tempfile.mkdtemp(prefix="musicsim-chromium-")
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required",
                         "--window-size=1280,900", f"--user-data-dir={self.profile}", *QUIET):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_script_timeout(30)

    def open(self, url: str, width: int = 1280, height: int = 900) -> None:
        self.driver.set_window_size(width, height)
        self.driver.get(url)
        self.logs()  # what an earlier page said is not this page's

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def js_async(self, script: str, *args: Any) -> Any:
        """``script`` calls ``done(value)`` (the last argument) when it has its answer."""
        return self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];" + script, *args)

    def one(self, selector: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def wait(self, test: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                found = test()
                if found:
                    return found
            except (WebDriverException, LookupError, ValueError, TypeError) as exc:
                last = exc
            time.sleep(0.1)
        raise AssertionError(f"waited {timeout:g} s for {what}" + (f" ({last})" if last else ""))

    def click(self, selector: str) -> None:
        """Click what ``selector`` finds; a list redrawn under the click (the live stream
        rebuilds rows) is looked up again."""
        for attempt in range(5):
            try:
                element = self.one(selector)
                self.js("arguments[0].scrollIntoView({block: 'center'})", element)
                element.click()
                return
            except StaleElementReferenceException:
                if attempt == 4:
                    raise

    def type(self, selector: str, text: str) -> None:
        element = self.one(selector)
        element.clear()
        element.send_keys(text)

    def choose(self, selector: str, value: str) -> None:
        self.js("const s = document.querySelector(arguments[0]); s.value = arguments[1];"
                "s.dispatchEvent(new Event('input', {bubbles: true}));"
                "s.dispatchEvent(new Event('change', {bubbles: true}));", selector, value)

    def view(self, name: str) -> None:
        self.click(f'nav button[data-view="{name}"]')
        self.wait(lambda: not self.one(f"#view-{name}").get_attribute("hidden"),
                  f"the {name} view")

    def live(self) -> None:
        """The page shows its data and its stream is open."""
        self.wait(lambda: self.one("#live").text == "live", "the live stream")

    def logs(self) -> list[dict]:
        return self.driver.get_log("browser")

    def errors(self) -> list[dict]:
        return [entry for entry in self.logs() if entry["level"] == "SEVERE"]

    def screenshot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)
