"""A real upstream to proxy to: go-httpbin, the Go port of httpbin.org.

    httpbin = labkit.Httpbin().start()     # on 127.0.0.1, a free port
    labkit.curl(httpbin, "/headers")       # echoes the request's headers as JSON

It is ``github.com/mccutchen/go-httpbin/v2`` at a pinned version, ``go install``-ed
once like func-e, and runs as a labkit ManagedProcess (tracked, dies with the
kernel). The Istio notebook routes its gateway to it; an EnvoyConfig can use it
as the upstream of its routes.
"""

from __future__ import annotations

from ._gotools import go_install
from ._ports import pick_ports
from .processes import HTTPWait, ManagedProcess, ProcessOwner

__all__ = ["Httpbin", "HTTPBIN_MODULE", "HTTPBIN_VERSION"]

HTTPBIN_MODULE = "github.com/mccutchen/go-httpbin/v2"
HTTPBIN_VERSION = "v2.26.0"


class Httpbin(ProcessOwner):
    """go-httpbin on ``host`` (a loopback address) and a free port (or ``port``)."""

    what = "httpbin"

    def __init__(self, name: str = "httpbin", *, port: int | None = None, host: str = "127.0.0.1"):
        self.name = name
        self.host = host
        self._want_port = port
        self.port: int | None = None
        self._process: ManagedProcess | None = None

    def start(self) -> "Httpbin":
        binary = go_install(f"{HTTPBIN_MODULE}/cmd/go-httpbin", HTTPBIN_VERSION)
        self.port = pick_ports({"httpbin": self._want_port})["httpbin"]
        self._process = ManagedProcess(
            self.name, [binary, "-host", self.host, "-port", str(self.port)],
            wait=HTTPWait(f"http://{self.host}:{self.port}/status/200"), what="httpbin").start()
        return self

    @property
    def url(self) -> str:
        if self.port is None:
            self.require_running()
        return f"http://{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"<Httpbin {self.name!r} {'at ' + self.url if self.running else 'stopped'}>"
