"""On-disk caches of what dorsum derives from a knowledge base (parsed graphs, compiled rules).

Every cache file is named and stamped with a key: the knowledge's content hash plus a hash of the
dorsum source (and library versions) that builds the cached value. A changed knowledge file or a
new dorsum therefore never reuses a stale value. A file whose stamp does not match, or that does
not load, is ignored and rebuilt; writes are atomic, so concurrent processes see an old file or a
whole new one.

``DORSUM_CACHE_DIR`` sets the folder (default ``$XDG_CACHE_HOME/dorsum`` or ``~/.cache/dorsum``);
``off`` (or ``none``, ``0``, empty) turns caching off. Only the most recently written files of
each kind are kept (:func:`prune`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import TypeVar

CACHE_ENV = "DORSUM_CACHE_DIR"
_MAGIC = b"dorsum-cache/1 "
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
            pickle.dump(value, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)  # atomic: readers see the old file or the whole new one
        temporary = None
    except Exception:  # unwritable folder, full disk, unpicklable value: run without the cache
        pass
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


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
