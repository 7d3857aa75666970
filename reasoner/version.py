"""The version of the dorsum package (kept apart so every layer can import it)."""

__version__ = "0.1.0"
