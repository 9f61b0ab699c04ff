"""Debian's headless Chromium driven by Selenium, as a person's browser opens a page: the DOM
after its scripts ran (and the navigations they made), a click on a link, a screenshot kept
as a test artifact.

Chromium and its driver come from Debian (`chromium`, `chromium-driver`; `make test` installs
them as root); the driver is named explicitly, so Selenium fetches nothing from the network.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

# A closed network, as root: no sandbox, no background connections to Google.
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--window-size=1280,1600")
WAIT = 15  # seconds a page may take to load and run its scripts


class Browser:
    """One Chromium window; each call leaves it on the page it opened."""

    def __init__(self, profile: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = _which("chromium")
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(options=options,
                                       service=Service(_which("chromedriver")))
        self.driver.set_page_load_timeout(WAIT)

    def open(self, url: str, until: Callable[[str], bool] | None = None) -> str:
        """The DOM of `url` once loaded; with `until`, once the current URL satisfies it (a
        page whose script navigates elsewhere)."""
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver.get(url)
        if until is not None:
            WebDriverWait(self.driver, WAIT).until(lambda d: until(d.current_url))
        return self._loaded()

    def _loaded(self) -> str:
        """The current page's DOM, once the document is complete."""
        from selenium.webdriver.support.ui import WebDriverWait

        def complete(_driver: object) -> str | bool:
            ready = self.driver.execute_script("return document.readyState") == "complete"
            return ready and self.driver.page_source

        return WebDriverWait(self.driver, WAIT).until(complete)

    @property
    def url(self) -> str:
        return self.driver.current_url

    def click(self, link_text: str) -> str:
        """Follow the first link showing `link_text`; the DOM of the page it opens."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        link = self.driver.find_element(By.PARTIAL_LINK_TEXT, link_text)
        link.click()
        WebDriverWait(self.driver, WAIT).until(expected_conditions.staleness_of(link))
        return self._loaded()

    def hrefs(self) -> list[str]:
        """The absolute targets of the current page's links."""
        from selenium.webdriver.common.by import By

        return [a.get_property("href") for a in self.driver.find_elements(By.TAG_NAME, "a")]

    def screenshot(self, path: Path) -> Path:
        """A PNG of the current page at `path`."""
        assert self.driver.save_screenshot(str(path)), f"Chromium drew nothing for {self.url}"
        return path

    def close(self) -> None:
        self.driver.quit()


def _which(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"needs Debian's {name} (apt-get install chromium chromium-driver; "
                    "make test installs them when run as root)")
    return found


def available() -> None:
    """Skip the test when Chromium, its driver or Selenium is missing."""
    _which("chromium")
    _which("chromedriver")
    pytest.importorskip("selenium", reason="needs selenium (pip install -e '.[test]')")
