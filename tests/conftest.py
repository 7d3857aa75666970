from __future__ import annotations

from pathlib import Path

import pytest

from reasoner import Knowledge, load_knowledge

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "cases"
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return load_knowledge()
