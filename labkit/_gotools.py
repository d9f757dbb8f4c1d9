"""Go programs the lab runs (go-httpbin, a load generator), ``go install``-ed once.

Like func-e, each comes from the Go module proxy at a pinned version and is
built with the lab's Go into the per-user cache, ``<cache>/go-tools/<name>-<version>/``:
a second clone, a test run or a notebook reuses it.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from ._cache import CacheEntry
from .errors import BuildError, Interrupted
from .toolchain import find_go

__all__ = ["go_install"]


def go_install(package: str, version: str, *, binary: str | None = None) -> Path:
    """The binary of ``package@version`` (``go install``-ed on first use); ``binary`` is
    its file name when it is not the package path's last element."""
    name = binary or package.rstrip("/").rsplit("/", 1)[-1]
    entry = CacheEntry(f"go-tools/{name}-{version}", {"package": package, "version": version},
                       files=[f"bin/{name}"])
    with entry.lock():
        if entry.stamp() is None:
            go = find_go().require()
            t0 = time.monotonic()
            env = {**os.environ, "GOBIN": str(entry.dir / "bin"), "CGO_ENABLED": "0",
                   "GOFLAGS": "-trimpath"}
            try:
                out = subprocess.run([go, "install", f"{package}@{version}"], env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            except KeyboardInterrupt:
                raise Interrupted(f"stopped installing {name}; nothing was cached") from None
            if out.returncode != 0:
                unreachable = any(s in out.stdout for s in ("dial tcp", "no such host", "i/o timeout"))
                raise BuildError(
                    f"could not install {package}@{version}", output=out.stdout,
                    fix="the Go module proxy could not be reached: check the network (and GOPROXY)"
                    if unreachable else "read Go's output above")
            entry.commit(seconds=round(time.monotonic() - t0, 1))
    return entry.dir / "bin" / name
