"""The errors labkit raises.

Every error a learner can meet carries three things: what went wrong, the
cause (often a few lines of the tool's own output) and what to do about it.
In a notebook they render as a short box instead of a long traceback.

    LabError
     ├── ToolchainError        a tool is missing, too old or unusable
     ├── BuildError            `go build` failed; carries Go diagnostics
     ├── ModuleError           the Go SDK could not be downloaded
     ├── ConfigError           Envoy rejected a configuration
     ├── ProcessError          a process labkit manages misbehaved
     │    ├── PortInUseError   a port we need is taken
     │    ├── ProcessExited    the process died while starting or running
     │    ├── StartTimeout     it did not become ready in time
     │    └── ClusterError     the local Kubernetes control plane could not start
     ├── HTTPError             a request could not be sent / got no answer
     ├── KubeError             the Kubernetes API refused a request (carries its message)
     │    └── ClusterNotFound  there is no cluster to talk to
     ├── MetricNotFound        a statistic is not (yet) there
     └── CheckFailed           a checkpoint's expectation was not met
"""

from __future__ import annotations

import html

__all__ = [
    "LabError",
    "ToolchainError",
    "BuildError",
    "ModuleError",
    "ConfigError",
    "ProcessError",
    "PortInUseError",
    "ProcessExited",
    "StartTimeout",
    "ClusterError",
    "HTTPError",
    "KubeError",
    "ClusterNotFound",
    "MetricNotFound",
    "CheckFailed",
]


class LabError(Exception):
    """Base class: a message, an optional cause and an optional fix."""

    title = "Something went wrong"

    def __init__(self, message: str, *, cause: str | None = None, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.cause = cause
        self.fix = fix

    def __str__(self) -> str:
        parts = [self.message]
        if self.cause:
            parts.append("cause:\n" + _indent(self.cause))
        if self.fix:
            parts.append("fix: " + self.fix)
        return "\n".join(parts)

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback: the learner's cell line,
        then the message, cause and fix (labkit's own frames are left out)."""
        import traceback

        frames = [f for f in traceback.extract_tb(self.__traceback__)
                  if "/labkit/" not in f.filename.replace("\\", "/")]
        where = [f"\x1b[2m(raised by: {frames[-1].line})\x1b[0m"] if frames and frames[-1].line else []
        return [f"\x1b[1;31m{type(self).__name__}\x1b[0m: {self}", *where]

    def _repr_html_(self) -> str:
        cause = f"<pre style='margin:4px 0'>{html.escape(self.cause)}</pre>" if self.cause else ""
        fix = f"<div><b>Fix:</b> {html.escape(self.fix)}</div>" if self.fix else ""
        return (
            "<div style='border-left:4px solid #d9534f;padding:4px 10px'>"
            f"<b>{html.escape(type(self).__name__)}</b>: {html.escape(self.message)}{cause}{fix}</div>"
        )


class ToolchainError(LabError):
    """A tool labkit needs is missing, too old or does not run."""


class BuildError(LabError):
    """`go build` (or `tinygo build`) failed.

    ``diagnostics`` holds one :class:`labkit.Diagnostic` per compiler message.
    """

    def __init__(self, message: str, *, diagnostics=(), output: str = "", fix: str | None = None):
        self.diagnostics = list(diagnostics)
        self.output = output
        cause = "\n".join(d.pretty() for d in self.diagnostics) or output.strip()[-2000:]
        super().__init__(message, cause=cause, fix=fix)

    def _repr_html_(self) -> str:
        from ._extension import render_diagnostics_html

        if not self.diagnostics:
            return super()._repr_html_()
        return (
            "<div style='border-left:4px solid #d9534f;padding:4px 10px'>"
            f"<b>BuildError</b>: {html.escape(self.message)}"
            f"{render_diagnostics_html(self.diagnostics)}"
            f"<div><b>Fix:</b> {html.escape(self.fix or '')}</div></div>"
        )


class ModuleError(LabError):
    """A Go module (usually the proxy-wasm SDK) could not be resolved."""


class ConfigError(LabError):
    """Envoy rejected a configuration (``envoy --mode validate`` or at start)."""

    def __init__(self, message: str, *, path: str | None = None, cause: str | None = None,
                 fix: str | None = None):
        self.path = path
        super().__init__(message, cause=cause, fix=fix)


class ProcessError(LabError):
    """A process that labkit manages did not behave."""


class PortInUseError(ProcessError):
    """A port labkit was asked to use is already taken."""

    def __init__(self, port: int, *, holder: str | None = None, fix: str | None = None):
        self.port = port
        self.holder = holder
        who = f" by {holder}" if holder else ""
        super().__init__(
            f"port {port} on 127.0.0.1 is already in use{who}",
            fix=fix or "stop whatever holds it (`labkit clean` stops everything labkit started) "
            "or leave the port out and labkit picks a free one",
        )


class ProcessExited(ProcessError):
    """The process exited (while starting, or when it was expected to run)."""

    def __init__(self, message: str, *, returncode: int | None, log_tail: str = "",
                 fix: str | None = None):
        self.returncode = returncode
        self.log_tail = log_tail
        super().__init__(message, cause=log_tail or None, fix=fix)


class StartTimeout(ProcessError):
    """The process is running but did not become ready in time."""

    def __init__(self, message: str, *, log_tail: str = "", fix: str | None = None):
        self.log_tail = log_tail
        super().__init__(message, cause=log_tail or None, fix=fix)


class ClusterError(ProcessError):
    """The local control plane (etcd, kube-apiserver, Istio's CRDs) could not start."""


class HTTPError(LabError):
    """A request could not be completed (connection refused, timeout...)."""


class KubeError(LabError):
    """The Kubernetes API refused a request, or could not be reached.

    ``status`` is the HTTP status (404, 422...) and ``reason`` the server's
    reason (``NotFound``, ``Invalid``...) when the server answered.
    """

    def __init__(self, message: str, *, status: int | None = None, reason: str = "",
                 cause: str | None = None, fix: str | None = None):
        self.status = status
        self.reason = reason
        super().__init__(message, cause=cause, fix=fix)


class ClusterNotFound(KubeError):
    """No kubeconfig, no in-cluster credentials and no local control plane."""


class MetricNotFound(LabError, LookupError):
    """A metric (or a metric with those labels) is not in Envoy's statistics."""


class CheckFailed(LabError, AssertionError):
    """A checkpoint did not see what it expected.

    It is also an ``AssertionError`` so that plain test runners report it as
    a failed assertion.
    """


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.rstrip().splitlines())
