"""A real headless Chromium for the page tests (Debian packages chromium and, through Playwright, its driver)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CHROMIUM = "/usr/bin/chromium"  # Debian package chromium; Playwright's own browser download is not used


@contextmanager
def chromium() -> Iterator:
    """A launched headless Chromium (skips the test where the package is missing), closed after use."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("Debian package chromium not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-extensions", "--no-first-run"])
        try:
            yield browser
        finally:
            browser.close()
