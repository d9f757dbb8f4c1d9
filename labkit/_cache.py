"""Cache entries for what is slow to make: built binaries, downloaded files.

An entry is a folder in the per-user cache named after what it holds and its
version (``kubernetes-v1.37.2``), with a stamp file recording the versions it
was made from. It counts as present only when the stamp matches what is asked
for and the files it promises exist, so a build that stopped half-way (or an
entry made for other versions) is never used. A lock file lets one process
build an entry while others wait, then find it made.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from ._files import atomic_write
from ._paths import cache_dir

__all__ = ["CacheEntry"]


class CacheEntry:
    """``<cache>/<name>``, valid when its stamp holds ``key`` and ``files`` exist."""

    STAMP = "build.json"

    def __init__(self, name: str, key: dict[str, Any], *, files: Iterable[str] = (),
                 root: Path | None = None):
        self.name = name
        self.key = dict(key)
        self.files = tuple(files)
        self.dir = (root or cache_dir()) / name

    def stamp(self) -> dict[str, Any] | None:
        """The stamp, if this entry is complete and made from ``key``; else None."""
        try:
            stamp = json.loads((self.dir / self.STAMP).read_text())
        except (OSError, ValueError):
            return None
        if any(stamp.get(k) != v for k, v in self.key.items()):
            return None
        if not all((self.dir / f).exists() for f in self.files):
            return None
        return stamp

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the entry's lock: one build at a time (two kernels, pytest and a terminal)."""
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        with open(self.dir.with_name(self.dir.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def commit(self, **info: Any) -> dict[str, Any]:
        """Mark the entry complete (write its stamp last, in one step)."""
        stamp = {**self.key, **info}
        atomic_write(self.dir / self.STAMP, json.dumps(stamp, indent=1))
        return stamp

    def __repr__(self) -> str:
        return f"<CacheEntry {self.dir} {'ready' if self.stamp() else 'missing'}>"
