"""The README's promises: its two commands, and docs that match the code."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click

from reasoner.cli.main import main

from .conftest import ROOT

README = (ROOT / "README.md").read_text()


def _commands() -> list[str]:
    return re.findall(r"```sh\n(python3 -m venv .*?)\n```", README)


def test_readme_gives_an_install_and_run_command_and_an_install_and_test_command() -> None:
    commands = _commands()
    assert any("pip install ." in c and "dorsum evaluate examples/" in c for c in commands)
    assert any("pip install '.[test]'" in c and "pytest" in c for c in commands)


def test_ci_runs_the_readme_test_command() -> None:
    test_command = next(c for c in _commands() if "pytest" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_readme_example_case_exists() -> None:
    run_command = next(c for c in _commands() if "dorsum evaluate" in c)
    case = run_command.split("dorsum evaluate ")[1].split()[0]
    assert (ROOT / case).is_file()


def test_every_command_is_documented_in_the_readme() -> None:
    for name in main.list_commands(click.Context(main)):
        assert f"dorsum {name}" in README, name


def test_every_finding_key_is_in_the_case_form_reference(knowledge) -> None:  # type: ignore[no-untyped-def]
    from reasoner.knowledge import DX

    for key in knowledge.ontology.objects(None, DX.formKey):
        assert f"`{key}`" in README, key


def _shown_commands() -> list[str]:
    """Every `dorsum ...` line of the README's sh blocks, without its comment; servers (which run
    until stopped) and the Dask example (which needs a scheduler) are left out."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            command = line.split("  #", 1)[0].strip()
            if not command.startswith("dorsum ") or " serve" in command or "--executor dask" in command:
                continue
            lines.append(command)
    return lines


def test_every_command_the_readme_shows_runs_as_written(tmp_path: Path) -> None:
    """Each shown command, in order, from a copy of the examples: exit 0, or 1 for an incomplete case
    (3 for a batch whose generated cases include invalid ones); never a usage error or a traceback."""
    for folder in ("examples", "queries"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    env = {**os.environ, "DORSUM_STORE": str(tmp_path / "store")}
    commands = _shown_commands()
    assert len(commands) >= 15
    for command in commands:
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command.replace("dorsum ", f"{sys.executable} -m reasoner ")],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        allowed = (0, 1, 3) if "batch" in command else (0, 1)  # generated batches hold invalid cases on purpose
        assert done.returncode in allowed, (command, done.returncode, done.stderr[-500:])
        assert "Traceback" not in done.stderr, (command, done.stderr[-500:])


def test_the_readme_sample_output_is_what_dorsum_prints(knowledge) -> None:  # type: ignore[no-untyped-def]
    """The sample answer in the README is the current one (the knowledge's hash and the version aside):
    a knowledge change that alters it must update the README too."""
    from reasoner import read_case, render_text, triage

    heading = "Sample output (`dorsum evaluate examples/lumbar-mass-back-pain.yaml`):\n\n```text\n"
    sample = README.split(heading, 1)[1].split("```\n", 1)[0]
    result = triage(read_case(ROOT / "examples" / "lumbar-mass-back-pain.yaml", knowledge), knowledge)
    printed = render_text(result, "summary")

    def comparable(text: str) -> list[str]:
        return [re.sub(r"\(sha256 [0-9a-f]+\), dorsum \S+", "", line) for line in text.splitlines()[1:]]

    assert comparable(sample) == comparable(printed)
