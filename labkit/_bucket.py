"""A local "bucket": modules served over HTTP on 127.0.0.1, named by sha256.

    bucket = labkit.Bucket().start()
    module = bucket.put(build)          # RemoteModule(url, sha256)
    labkit.WasmFilter(module, reloadable=True)

It stands in for the object store a team would publish modules to. Envoy
fetches from it through a cluster (``EnvoyConfig(bucket=bucket.url)``).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ._envoy_config import RemoteModule
from ._extension import Build, sha256_of
from ._paths import state_dir
from ._processes import ManagedProcess, ProcessOwner, TCPWait, ensure_port_free, free_port

__all__ = ["Bucket"]


class Bucket(ProcessOwner):
    """A static file server for modules, managed like every labkit process."""

    def __init__(self, name: str = "bucket", *, port: int | None = None):
        self.name = name
        self.dir = state_dir("buckets", name)
        self._want_port = port
        self.port: int | None = None
        self._process: ManagedProcess | None = None

    def start(self) -> "Bucket":
        if self._want_port is not None:
            ensure_port_free(self._want_port)
        self.port = self._want_port or free_port()
        self._process = ManagedProcess(
            self.name, [sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                        "--directory", str(self.dir), str(self.port)],
            wait=TCPWait(self.port), what="bucket").start()
        return self

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("start the bucket first")
        return f"http://127.0.0.1:{self.port}"

    def put(self, module: Build | str | os.PathLike) -> RemoteModule:
        """Publish a module; returns where Envoy can fetch it and its sha256."""
        path = module.path if isinstance(module, Build) else Path(module)
        sha = sha256_of(path)
        target = self.dir / f"{sha}.wasm"
        if not target.exists():
            shutil.copyfile(path, target.with_suffix(".tmp"))
            os.replace(target.with_suffix(".tmp"), target)
        return RemoteModule(url=f"{self.url}/{target.name}", sha256=sha)

    def __repr__(self) -> str:
        return f"<Bucket {self.name!r} {'at ' + self.url if self.running else 'stopped'}>"
