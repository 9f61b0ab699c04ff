"""The browser tests' Chromium: one fresh window per test, its profile in the test's folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.chromium import Browser, available


@pytest.fixture
def browser(tmp_path) -> Iterator[Browser]:
    available()
    opened = Browser(tmp_path / "profile")
    try:
        yield opened
    finally:
        opened.close()
