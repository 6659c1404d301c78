"""Debian's Chromium for the browser tests (the report, the board, its map): found on this
machine, never downloaded; without CI a missing piece skips with its reason, with CI it fails."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ARGS = ["--no-sandbox", "--disable-gpu"]


def missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser tests: {reason}")
    pytest.skip(reason)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if found is None:
        missing("no Chromium (apt-get install chromium)")
    assert found is not None
    return found
