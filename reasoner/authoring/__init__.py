"""Tools for guideline authors: knowledge checks, scenario runs, impact of a change, traceability and
the documentation site."""
