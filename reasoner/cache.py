"""On-disk caches of what dorsum derives from a knowledge base (parsed graphs, compiled rules).

Every cache file is named and stamped with a key: the knowledge's content hash plus a hash of the
dorsum source (and library versions) that builds the cached value. A changed knowledge file or a
new dorsum therefore never reuses a stale value. A file whose stamp does not match, or that does
not load, is ignored and rebuilt; writes are atomic, so concurrent processes see an old file or a
whole new one.

``DORSUM_CACHE_DIR`` sets the folder (default ``$XDG_CACHE_HOME/dorsum`` or ``~/.cache/dorsum``);
``off`` (or ``none``, ``0``, empty) turns caching off. Only the most recently written files of
each kind are kept (:func:`prune`).

RDF terms are pickled as their parts (:data:`TERM_REDUCERS`): rdflib would rebuild each one
through its constructor, which checks every IRI and re-reads every literal's lexical form, and
that was most of the time a warm process spent loading. The cyclic garbage collector is paused
while a file loads: it would otherwise walk the growing heap of new objects again and again.
"""

from __future__ import annotations

import contextlib
import copyreg
import datetime
import gc
import hashlib
import io
import os
import pickle
import sys
import tempfile
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, TypeVar

from rdflib.term import BNode, Literal, URIRef

from reasoner.terms import blank_term, iri_term

CACHE_ENV = "DORSUM_CACHE_DIR"
_MAGIC = b"dorsum-cache/3 "
_PACKAGE = Path(__file__).resolve().parent

T = TypeVar("T")


def cache_dir() -> Path | None:
    """The cache folder, or None if caching is off."""
    setting = os.environ.get(CACHE_ENV)
    if setting is not None and setting.strip().lower() in ("", "off", "none", "0"):
        return None
    if setting:
        return Path(setting)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dorsum"


def source_hash(modules: tuple[str, ...], versions: tuple[str, ...] = ()) -> str:
    """A short hash of the named ``reasoner`` source files, the Python version and ``versions``
    (for example the version of the library whose objects are pickled)."""
    digest = hashlib.sha256(f"{sys.version_info[0]}.{sys.version_info[1]}".encode())
    for version in versions:
        digest.update(b"\0" + version.encode())
    for module in modules:
        digest.update(b"\0" + module.encode() + b"\0")
        digest.update((_PACKAGE / module).read_bytes())
    return digest.hexdigest()[:16]


def cache_file(kind: str, content_hash: str, source: str) -> Path | None:
    """Where the ``kind`` value for this knowledge and this dorsum source is cached (None: off)."""
    base = cache_dir()
    if base is None:
        return None
    return base / f"{kind}-{content_hash[:32]}-{source}.pickle"


def read_cached(path: Path | None, key: str, expected: type[T]) -> T | None:
    """The value cached at ``path`` under ``key``, or None if absent, foreign, damaged or stale."""
    if path is None:
        return None
    stamp = _MAGIC + key.encode() + b"\n"
    try:
        with path.open("rb") as stream:
            if stream.read(len(stamp)) != stamp:
                return None  # not written by this dorsum for this knowledge: never unpickled
            with _collector_paused:
                value = pickle.load(stream)
    except Exception:  # a missing, damaged or foreign cache file is rebuilt, never trusted
        return None
    return value if isinstance(value, expected) else None


def write_cached(path: Path | None, key: str, value: object) -> None:
    """Cache ``value`` at ``path`` under ``key``, atomically. Failures are ignored: caching is an
    optimisation, and a read-only home must not stop dorsum."""
    if path is None:
        return
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".tmp", delete=False) as stream:
            temporary = stream.name
            stream.write(_MAGIC + key.encode() + b"\n")
            _dump(value, stream)
        os.replace(temporary, path)  # atomic: readers see the old file or the whole new one
        temporary = None
    except Exception:  # unwritable folder, full disk, unpicklable value: run without the cache
        pass
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _dump(value: object, stream: IO[bytes]) -> None:
    pickler = pickle.Pickler(stream, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, **TERM_REDUCERS}
    pickler.dump(value)


def pickled(value: object) -> bytes:
    """``value`` pickled as the cache pickles it, for a part of a cached value that is read back
    only when it is needed (:func:`unpickled`)."""
    stream = io.BytesIO()
    _dump(value, stream)
    return stream.getvalue()


def unpickled(data: bytes, expected: type[T]) -> T:
    """The value :func:`pickled` made (from a cache file this dorsum read and trusted); raises
    TypeError if it is not an ``expected``."""
    with _collector_paused:
        value = pickle.loads(data)
    if not isinstance(value, expected):
        raise TypeError(f"expected a pickled {expected.__name__}, found {type(value).__name__}")
    return value


def prune(kind: str, keep: int) -> None:
    """Delete all but the ``keep`` most recently written ``kind`` cache files (every edit of the
    knowledge leaves one behind). A process still reading a deleted file is not disturbed."""
    base = cache_dir()
    if base is None:
        return
    try:
        found = [(path.stat().st_mtime, path) for path in base.glob(f"{kind}-*.pickle")]
    except OSError:
        return
    for _mtime, path in sorted(found, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            path.unlink()


class _CollectorPause:
    """Pause the cyclic garbage collector (if it runs) for the block, then move every object to
    its oldest generation: an unpickled value is one large graph of new, long-lived objects, none
    of them garbage, which the collector would otherwise walk again and again while they age
    (about as long as reading them took). Nothing is kept from collection: the next full
    collection sees them all, as it would have. Blocks in several threads at once share one
    pause, and the last to leave restores the collector."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blocks = 0
        self._was_running = False

    def __enter__(self) -> None:
        with self._lock:
            if self._blocks == 0:
                self._was_running = gc.isenabled()
                gc.disable()
            self._blocks += 1

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            self._blocks -= 1
            if self._blocks == 0:
                gc.freeze()  # every tracked object into the permanent generation...
                gc.unfreeze()  # ...and back into the oldest one: promoted without being walked
                if self._was_running:
                    gc.enable()


_collector_paused = _CollectorPause()


# ------------------------------------------------------------------ RDF terms in a pickle

_NEW_STR = str.__new__  # builds a str subclass without running its constructor
#: The Python values a literal's value is pickled as (anything else is computed again on load).
_PLAIN_VALUES = frozenset(
    {type(None), str, bytes, int, float, bool, Decimal}
    | {datetime.date, datetime.datetime, datetime.time, datetime.timedelta}
)


def _reduce_iri(term: URIRef) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    # checked when it was first made: not checked again; one object per IRI in the process
    return iri_term, (str(term),)


def _reduce_blank(term: BNode) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    return blank_term, (str(term),)


def _reduce_literal(term: Literal) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    value = term.value
    if type(value) not in _PLAIN_VALUES:
        return term.__reduce__()  # rdflib's own: the value is computed again from the lexical form
    lexical = str(term)
    if type(value) is str and value == lexical:
        value = lexical  # one string in the pickle for both
    return literal_from_parts, (lexical, term.language, term.datatype, value, term.ill_typed)


def literal_from_parts(
    lexical: str, language: str | None, datatype: URIRef | None, value: Any, ill_typed: bool | None
) -> Literal:
    """The literal with exactly these parts (as a pickled one had them), without rdflib's
    constructor, which would check the language tag and datatype and parse the lexical form."""
    literal: Literal = _NEW_STR(Literal, lexical)
    literal._language = language
    literal._datatype = datatype
    literal._value = value
    literal._ill_typed = ill_typed
    return literal


#: How the cache pickles RDF terms: by their parts, rebuilt without rdflib's constructors (exact
#: types only: a subclass of a term pickles as rdflib pickles it).
TERM_REDUCERS: dict[type, Callable[[Any], tuple[Callable[..., Any], tuple[Any, ...]]]] = {
    URIRef: _reduce_iri,
    BNode: _reduce_blank,
    Literal: _reduce_literal,
}
