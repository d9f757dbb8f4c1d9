"""A local "bucket": modules served over HTTP on 127.0.0.1, named by sha256.

    bucket = labkit.Bucket().start()
    module = bucket.put(build)          # RemoteModule(url, sha256)
    labkit.WasmFilter(module, reloadable=True)

It stands in for the object store a team would publish modules to. Envoy
fetches from it through a cluster (``EnvoyConfig(bucket=bucket.url)``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .._extension import Build
from .._files import atomic_copy, sha256_of
from .._paths import state_dir
from .._ports import pick_ports
from ..processes import ManagedProcess, ProcessOwner, TCPWait
from .config import RemoteModule

__all__ = ["Bucket"]


class Bucket(ProcessOwner):
    """A static file server for modules, managed like every labkit process."""

    what = "bucket"

    def __init__(self, name: str = "bucket", *, port: int | None = None):
        self.name = name
        self.dir = state_dir("buckets", name)
        self._want_port = port
        self.port: int | None = None
        self._process: ManagedProcess | None = None

    def start(self) -> "Bucket":
        self.port = pick_ports({"bucket": self._want_port})["bucket"]
        self._process = ManagedProcess(
            self.name, [sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                        "--directory", str(self.dir), str(self.port)],
            wait=TCPWait(self.port), what="bucket").start()
        return self

    @property
    def url(self) -> str:
        if self.port is None:
            self.require_running()
        return f"http://127.0.0.1:{self.port}"

    def put(self, module: Build | str | os.PathLike) -> RemoteModule:
        """Publish a module; returns where Envoy can fetch it and its sha256."""
        path = module.verify().path if isinstance(module, Build) else Path(module)
        sha = sha256_of(path)
        target = self.dir / f"{sha}.wasm"
        if not target.exists():
            atomic_copy(path, target)
        name = module.name if isinstance(module, Build) else ""
        return RemoteModule(url=f"{self.url}/{target.name}", sha256=sha, name=name)

    def __repr__(self) -> str:
        return f"<Bucket {self.name!r} {'at ' + self.url if self.running else 'stopped'}>"
