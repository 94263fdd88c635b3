"""Screenshots of the browser tests: under test-output/screenshots/, copied to docs/screenshots/."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-output" / "screenshots"
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under test-output/screenshots/ and copy it to docs/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    shutil.copyfile(path, DOCS_SCREENSHOTS / path.name)
    return path
