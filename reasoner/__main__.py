"""``python -m reasoner``: the dorsum command line."""

from reasoner.cli.main import main

main()
