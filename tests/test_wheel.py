"""What the wheel ships: the knowledge and its scenarios, found from the installed package in any folder.

.ci/run builds and installs the real wheel; these tests check the same promises quickly, on the
layout the wheel installs (``reasoner/`` with the knowledge in ``reasoner/kb``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from .conftest import ROOT

FORCE_INCLUDE = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"][
    "force-include"
]


def test_the_wheel_ships_the_knowledge_and_the_scenarios() -> None:
    assert FORCE_INCLUDE == {
        "ontology": "reasoner/kb/ontology",
        "shapes": "reasoner/kb/shapes",
        "queries": "reasoner/kb/queries",
        "tests/cases": "reasoner/kb/cases",
    }


def test_an_installed_layout_finds_its_knowledge_and_scenarios_in_any_folder(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "reasoner", site / "reasoner", ignore=shutil.ignore_patterns("__pycache__"))
    for source, target in FORCE_INCLUDE.items():
        shutil.copytree(ROOT / source, site / target)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "DORSUM_KB"} | {"PYTHONPATH": str(site)}

    def python(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args], cwd=elsewhere, env=env, capture_output=True, text=True, check=False
        )

    def dorsum(*args: str) -> subprocess.CompletedProcess[str]:
        return python("-m", "reasoner", *args)

    found = python("-c", "from reasoner.knowledge import default_kb_root; print(default_kb_root())")
    assert found.stdout.strip() == str(site / "reasoner" / "kb"), found.stderr

    tested = dorsum("test", "--format", "json")
    assert tested.returncode == 0, tested.stderr
    paths = [Path(item["path"]) for item in json.loads(tested.stdout)["vignettes"]]
    assert len(paths) == len(list((ROOT / "tests" / "cases").glob("*.yaml")))
    assert all(path.parent == site / "reasoner" / "kb" / "cases" for path in paths)
    evaluated = dorsum("evaluate", str(ROOT / "examples" / "lumbar-mass-back-pain.yaml"), "-f", "json")
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["status"] == "complete"
