"""The architecture, enforced: layers without cycles (import-linter), small modules, simple functions,
and a command line that starts without the heavy libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reasoner"
MAX_MODULE_LINES = 600


def test_the_import_contracts_hold() -> None:
    """cli > authoring | store | batch > render > pipeline > knowledge > engines > errors: no cycle,
    no upward import, and the engines import nothing of dorsum but the term pool (the contracts
    are in pyproject.toml)."""
    pytest.importorskip("importlinter")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_module_is_over_600_lines() -> None:
    big = {
        str(path.relative_to(ROOT)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not big, f"modules over {MAX_MODULE_LINES} lines: {big}"


def test_each_layer_is_a_subpackage() -> None:
    for layer in ("pipeline", "engines", "render", "batch", "store", "authoring", "cli"):
        assert (PACKAGE / layer / "__init__.py").is_file(), layer
    assert (PACKAGE / "py.typed").is_file()
    assert (PACKAGE / "__main__.py").is_file()


def test_help_imports_no_heavy_library() -> None:
    """``dorsum --help`` must not pay for rdflib, owlrl, pyshacl or pyoxigraph."""
    program = (
        "import sys\n"
        "from reasoner.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('rdflib', 'owlrl', 'pyshacl', 'pyoxigraph') if m in sys.modules)\n"
        "print('heavy:' + ','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "heavy:", done.stdout
