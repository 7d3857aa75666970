"""Renderers of triage results: text, JSON and Turtle."""
