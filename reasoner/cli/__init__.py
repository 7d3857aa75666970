"""The ``dorsum`` command line: one module per command group, thin over the library."""

from reasoner.cli.main import main

__all__ = ["main"]
