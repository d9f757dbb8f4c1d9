"""The errors labkit raises, all in one place.

Every error a learner can meet carries three things: what went wrong, the
cause (often a few lines of the tool's own output) and what to do about it.
In a notebook they render as a short box instead of a long traceback.

    LabError
     ├── ToolchainError        a tool is missing, too old or unusable
     ├── BuildError            `go build` / `tinygo build` failed; carries Diagnostics
     ├── ModuleError           a Go module could not be resolved or downloaded
     ├── ConfigError           Envoy rejected a configuration (carries its path)
     │    └── ReloadRejected   Envoy refused a filter update; the previous filter serves
     ├── RemoteModuleError     a remote module could not be fetched, did not match its
     │                         sha256, or Envoy never activated it
     ├── ProcessError          a process labkit manages misbehaved (carries its name
     │    │                    and the last lines of its log)
     │    ├── PortInUseError   a port it needs is taken (which port, by whom)
     │    ├── ProcessExited    it died while starting or running
     │    ├── StartTimeout     it did not become ready in time
     │    ├── NotRunning       it was used before start() or after stop()
     │    └── ClusterError     the local Kubernetes control plane could not start
     ├── WaitTimeout           something labkit waited for did not happen in time
     ├── HTTPError             a request could not be sent / got no answer
     ├── KubeError             the Kubernetes API refused a request (carries its message)
     │    └── ClusterNotFound  there is no cluster to talk to
     ├── MetricNotFound        a statistic is not (yet) there
     └── CheckFailed           a checkpoint's expectation was not met

    Interrupted (a KeyboardInterrupt)  the Stop button, shown as one line saying
                                       what labkit stopped
"""

from __future__ import annotations

import html

from ._diagnostics import Diagnostic, render_html

__all__ = [
    "LabError", "ToolchainError", "BuildError", "ModuleError", "ConfigError", "ReloadRejected",
    "RemoteModuleError", "ProcessError", "PortInUseError", "ProcessExited", "StartTimeout",
    "NotRunning", "ClusterError", "WaitTimeout", "HTTPError", "KubeError", "ClusterNotFound",
    "MetricNotFound", "CheckFailed", "Interrupted",
]


class LabError(Exception):
    """Base class: a message, an optional cause and an optional fix."""

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
        """What IPython shows instead of a traceback: the message, cause and fix,
        then the learner's line that raised it (labkit's own frames are left out)."""
        return [f"\x1b[1;31m{type(self).__name__}\x1b[0m: {self}", *_raised_by(self)]

    def _repr_html_(self) -> str:
        cause = f"<pre style='margin:4px 0'>{html.escape(self.cause)}</pre>" if self.cause else ""
        return _box(type(self).__name__, self.message, cause, self.fix)


class ToolchainError(LabError):
    """A tool labkit needs is missing, too old or does not run."""


class BuildError(LabError):
    """`go build` (or `tinygo build`) failed, or built something Envoy cannot load.

    ``diagnostics`` holds one :class:`Diagnostic` per compiler message.
    """

    def __init__(self, message: str, *, diagnostics: list[Diagnostic] | tuple = (), output: str = "",
                 cause: str | None = None, fix: str | None = None):
        self.diagnostics = list(diagnostics)
        self.output = output
        cause = cause or "\n".join(d.pretty() for d in self.diagnostics) or output.strip()[-2000:]
        super().__init__(message, cause=cause or None, fix=fix)

    def _repr_html_(self) -> str:
        if not self.diagnostics:
            return super()._repr_html_()
        return _box("BuildError", self.message, render_html(self.diagnostics), self.fix)


class ModuleError(LabError):
    """A Go module could not be resolved (not on the proxy, proxy unreachable, go.mod broken)."""


class ConfigError(LabError):
    """Envoy rejected a configuration (``envoy --mode validate`` or at start)."""

    def __init__(self, message: str, *, path: str | None = None, cause: str | None = None,
                 fix: str | None = None):
        self.path = path
        super().__init__(message, cause=cause, fix=fix)


class ReloadRejected(ConfigError):
    """Envoy refused a filter update; the previous filter keeps serving."""


class RemoteModuleError(LabError):
    """A remote module could not be fetched, did not match its sha256, or Envoy never
    activated it. The previous filter keeps serving."""


class ProcessError(LabError):
    """A process that labkit manages did not behave.

    ``name`` is the process's labkit name (``"nb02"``), ``log_tail`` the last
    lines of its log when there is one.
    """

    def __init__(self, message: str, *, name: str = "", log_tail: str = "", cause: str | None = None,
                 fix: str | None = None):
        self.name = name
        self.log_tail = log_tail
        super().__init__(message, cause=cause if cause is not None else (log_tail or None), fix=fix)


class PortInUseError(ProcessError):
    """A port labkit was asked to use is already taken.

    ``role`` says which one (``"listener"``, ``"admin"``...), ``holder`` who has it.
    """

    def __init__(self, port: int, *, role: str = "", holder: str | None = None, name: str = "",
                 fix: str | None = None):
        self.port = port
        self.role = role
        self.holder = holder
        what = f"the {role} port {port}" if role else f"port {port}"
        who = f", held by {holder}" if holder else ""
        super().__init__(
            f"{what} on 127.0.0.1 is already in use{who}", name=name,
            fix=fix or "stop whatever holds it (`labkit clean` stops everything labkit started), "
                       "or leave the port out and labkit picks a free one")


class ProcessExited(ProcessError):
    """The process exited (while starting, or when it was expected to run)."""

    def __init__(self, message: str, *, returncode: int | None, name: str = "", log_tail: str = "",
                 cause: str | None = None, fix: str | None = None):
        self.returncode = returncode
        super().__init__(message, name=name, log_tail=log_tail, cause=cause, fix=fix)


class StartTimeout(ProcessError):
    """The process is running but did not become ready in time."""


class NotRunning(ProcessError):
    """Something labkit manages was used before ``start()`` or after ``stop()``."""


class ClusterError(ProcessError):
    """The local control plane (etcd, kube-apiserver, Istio's CRDs) could not start."""


class WaitTimeout(LabError):
    """Something labkit waited for did not happen within its deadline.

    ``last_seen`` is what the last look found, for the message.
    """

    def __init__(self, message: str, *, last_seen: str = "", fix: str | None = None):
        self.last_seen = last_seen
        super().__init__(message, cause=last_seen or None, fix=fix)


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


class Interrupted(KeyboardInterrupt):
    """The Stop button (or Ctrl+C) interrupted a labkit step.

    It is a KeyboardInterrupt, so the cell still stops; in a notebook it shows
    as one line saying what was stopped instead of a traceback through labkit.
    """

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what

    def __str__(self) -> str:
        return self.what

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[1;33mInterrupted\x1b[0m: {self.what}"]


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.rstrip().splitlines())


def _raised_by(error: BaseException) -> list[str]:
    import traceback

    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if "/labkit/" not in f.filename.replace("\\", "/")]
    return [f"\x1b[2m(raised by: {frames[-1].line})\x1b[0m"] if frames and frames[-1].line else []


def _box(kind: str, message: str, body: str, fix: str | None) -> str:
    fix_html = f"<div><b>Fix:</b> {html.escape(fix)}</div>" if fix else ""
    return ("<div style='border-left:4px solid #d9534f;padding:4px 10px'>"
            f"<b>{html.escape(kind)}</b>: {html.escape(message)}{body}{fix_html}</div>")
