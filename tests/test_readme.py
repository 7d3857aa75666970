"""The README's promises: its two commands, and docs that match the code."""

from __future__ import annotations

import re

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
