from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reasoner import Knowledge, load_knowledge

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "cases"
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return load_knowledge()


#: Flags for headless Chromium on a machine with a closed network (no background connections).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_command(profile: Path | str) -> list[str] | None:
    """The Chromium binary with headless flags and a fresh profile, or None if not installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return [found, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    if Path("/usr/bin/chromium").exists():
        return ["/usr/bin/chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    return None
