"""A triage result as plain, JSON-ready data: dictionaries, lists or tuples, strings and numbers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reasoner.pipeline.result import TriageResult

__all__ = ["as_mapping"]


def as_mapping(result: TriageResult, *, lists: bool = False) -> Mapping[str, Any]:
    """A plain, JSON-ready view of a result (used by the JSON renderer and tests): what
    ``dataclasses.asdict`` gives, built without its deep copies (the result is immutable). With
    ``lists``, every tuple becomes a list, as JSON reads back."""
    data = {name: _plain(getattr(result, name), lists) for name in result.__dataclass_fields__ if name != "trace"}
    data["exit_code"] = result.exit_code
    data["effective_urgency"] = _plain(result.effective_urgency, lists)
    return data


_LEAVES = frozenset({str, int, float, bool, type(None)})
_FIELDS: dict[type, tuple[str, ...]] = {}  # each dataclass's field names (empty: not one), by exact type


def _plain(value: Any, lists: bool) -> Any:
    cls = value.__class__
    if cls in _LEAVES:
        return value
    names = _FIELDS.get(cls)
    if names is None:
        fields = getattr(cls, "__dataclass_fields__", None)
        names = _FIELDS[cls] = tuple(fields) if fields is not None else ()
    if names:  # a dataclass: most fields are leaves, kept without a call
        mapping = {name: getattr(value, name) for name in names}
        for name, field in mapping.items():
            if field.__class__ not in _LEAVES:
                mapping[name] = _plain(field, lists)
        return mapping
    if cls is tuple or cls is list or isinstance(value, tuple | list):
        items = [item if item.__class__ in _LEAVES else _plain(item, lists) for item in value]
        return items if lists or cls is list else type(value)(items)
    if isinstance(value, dict):
        return {_plain(key, lists): _plain(item, lists) for key, item in value.items()}
    return value  # anything else is a leaf (a subclass of str or int: an IRI, a literal)
