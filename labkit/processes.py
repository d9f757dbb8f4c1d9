"""Processes labkit starts: run, wait until ready, stop, and never leak.

Three promises, each with its mechanism:

* **Survive the Stop button.** Jupyter interrupts the kernel's whole process
  group, so every child starts in its own session (``start_new_session``).
* **Never outlive the kernel**, even when it is SIGKILLed (nbval does that).
  On Linux the child asks the kernel for ``PR_SET_PDEATHSIG``: when the thread
  that started it dies, it receives SIGTERM (SIGKILL for a control plane).
  Everywhere, each child carries a ``LABKIT_TAG`` environment variable and a
  record in the registry folder, so ``labkit clean`` (and the CI sweep) can
  find what is left.
* **Re-running is safe.** A name is a slot: starting a process under a name
  that is already running stops the old one first.

Readiness is a *wait strategy*, in the spirit of mirakuru's executors: an
object with a ``description`` and a ``ready()`` method, polled by
:func:`labkit._wait.wait_for`. :class:`HTTPWait`, :class:`TCPWait` and
:class:`OutputWait` cover what labkit needs.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import httpx
import psutil

from ._http import shared_client
from ._paths import OWNER_VAR, STATE_VAR, TAG_VAR, state_dir
from ._wait import wait_for
from .errors import Interrupted, NotRunning, ProcessExited, StartTimeout, WaitTimeout

__all__ = [
    "ManagedProcess",
    "Wait",
    "HTTPWait",
    "TCPWait",
    "OutputWait",
    "running_processes",
    "clean",
    "stop_slot",
    "ProcessOwner",
    "read_log",
    "log_size",
]


# --------------------------------------------------------------------- waits
class Wait(Protocol):
    description: str

    def ready(self, process: "ManagedProcess") -> bool: ...


@dataclass
class HTTPWait:
    """Ready when ``url`` answers with ``status`` (and ``body`` if given).

    ``ca`` is a CA certificate file to check an HTTPS server against (the local
    kube-apiserver's); without it, plain HTTP through labkit's shared client.
    """

    url: str
    status: int = 200
    body: str | None = None
    ca: str | os.PathLike | None = None

    @property
    def description(self) -> str:
        return f"{self.url} to answer {self.status}" + (f" with {self.body!r}" if self.body else "")

    def ready(self, process: "ManagedProcess") -> bool:
        try:
            if self.ca is None:
                r = shared_client().get(self.url, timeout=0.5)
            else:
                with httpx.Client(verify=ssl.create_default_context(cafile=str(self.ca)),
                                  timeout=1.0) as client:
                    r = client.get(self.url)
        except httpx.HTTPError:
            return False
        return r.status_code == self.status and (self.body is None or self.body in r.text)


@dataclass
class TCPWait:
    """Ready when something accepts connections on ``host:port``."""

    port: int
    host: str = "127.0.0.1"

    @property
    def description(self) -> str:
        return f"{self.host}:{self.port} to accept connections"

    def ready(self, process: "ManagedProcess") -> bool:
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex((self.host, self.port)) == 0


@dataclass
class OutputWait:
    """Ready when the process's log matches ``pattern``."""

    pattern: str

    @property
    def description(self) -> str:
        return f"a log line matching {self.pattern!r}"

    def ready(self, process: "ManagedProcess") -> bool:
        return re.search(self.pattern, process.logs()) is not None


# ------------------------------------------------------------------ registry
def _registry() -> Path:
    return state_dir("processes")


def _record_path(name: str) -> Path:
    return _registry() / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".json")


def _alive(record: dict) -> psutil.Process | None:
    """The live process a record describes, checked by its tag (pids get reused)."""
    try:
        p = psutil.Process(record["pid"])
        if p.status() == psutil.STATUS_ZOMBIE:
            return None
        if p.environ().get(TAG_VAR) == record["tag"]:
            return p
    except (psutil.Error, OSError):
        pass
    return None


def running_processes() -> list[dict]:
    """Records of the labkit processes that are running now."""
    out = []
    for path in sorted(_registry().glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if _alive(record):
            out.append(record)
        else:
            path.unlink(missing_ok=True)
    return out


def _members(pid: int, pgid: int | None) -> list[psutil.Process]:
    """Live (non-zombie) processes of the group, or just ``pid``."""
    procs = []
    for p in psutil.process_iter(["status"]):
        try:
            if (os.getpgid(p.pid) == pgid) if pgid else (p.pid == pid):
                if p.info["status"] != psutil.STATUS_ZOMBIE:
                    procs.append(p)
        except (ProcessLookupError, psutil.Error):
            continue
    return procs


def _terminate_group(pid: int, pgid: int | None, timeout: float = 5.0) -> None:
    """SIGTERM the process group (or the lone pid), then SIGKILL what is left."""

    def gone() -> bool:
        try:  # reap our own child so it does not linger as a zombie
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return not _members(pid, pgid)

    for sig, patience in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig) if pgid else os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            wait_for(gone, timeout=patience, what=f"process group {pgid or pid} to exit")
            return
        except WaitTimeout:
            continue


def clean(verbose: bool = True) -> list[str]:
    """Stop every process labkit started, from any kernel. Returns their names.

    Also sweeps untracked leftovers that carry the ``LABKIT_TAG`` variable.
    """
    stopped = []
    # Newest first: what started later usually depends on what started earlier
    # (kube-apiserver on etcd), and stops quickly while its dependency still runs.
    for record in sorted(running_processes(), key=lambda r: r.get("started_at") or 0, reverse=True):
        _terminate_group(record["pid"], record.get("pgid"))
        _record_path(record["name"]).unlink(missing_ok=True)
        stopped.append(f"{record['name']} (pid {record['pid']})")
    ours = str(state_dir())
    for p in psutil.process_iter(["pid", "environ"]):
        try:
            environ = p.info.get("environ") or {}
            tag = environ.get(TAG_VAR)
        except psutil.Error:
            continue
        if environ.get(STATE_VAR, ours) != ours:
            continue
        if tag and p.pid != os.getpid():
            try:
                pgid = os.getpgid(p.pid)
            except ProcessLookupError:
                continue
            _terminate_group(p.pid, pgid if pgid != os.getpgid(0) else None)
            stopped.append(f"{tag.split(':')[0]} (pid {p.pid}, untracked)")
    if verbose:
        print("stopped: " + ", ".join(stopped) if stopped else "nothing to stop")
    return stopped


def stop_slot(name: str) -> None:
    """Stop the running process registered under ``name``, if any.

    A name is a slot: this is what makes re-running a notebook safe.
    """
    path = _record_path(name)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if _alive(record):
        _terminate_group(record["pid"], record.get("pgid"))
        print(f"labkit: stopped the previous '{name}' (pid {record['pid']})")
    path.unlink(missing_ok=True)


# ---------------------------------------------------------------- log files
def read_log(path: Path, *, since: int = 0, tail: int | None = None) -> str:
    """A log file's text from byte ``since`` on; ``tail`` keeps only the last lines."""
    try:
        with open(path, "rb") as f:
            f.seek(since)
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-tail:]) if tail is not None else text


def log_size(path: Path) -> int:
    """Where the log ends now (a bookmark for ``read_log(since=...)``)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


# ---------------------------------------------------------------- processes
def _death_signal(sig: int):
    def die_with_parent() -> None:  # runs in the child, between fork and exec
        if sys.platform.startswith("linux"):
            PR_SET_PDEATHSIG = 1
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig)
    return die_with_parent


class ManagedProcess:
    """One named, tracked background process with a log file.

    >>> p = ManagedProcess("web", ["python", "-m", "http.server", "8000"],
    ...                    wait=TCPWait(8000))
    >>> p.start(); ...; p.stop()
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        wait: Wait | None = None,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike | None = None,
        timeout: float = 30.0,
        what: str = "process",
        death_signal: int | None = signal.SIGTERM,
    ):
        self.name = name
        self.command = [str(c) for c in command]
        self.wait = wait
        self.env = env
        self.cwd = cwd
        self.timeout = timeout
        self.what = what
        # What the process gets when its parent dies. None only for what a
        # terminal command starts and leaves running (`labkit cluster up`);
        # `labkit clean` still finds those.
        self.death_signal = death_signal
        self.log_path = state_dir("logs") / f"{_record_path(name).stem}.log"
        self._popen: subprocess.Popen | None = None
        self.stopped = False  # stop() was called (as opposed to the process dying by itself)
        self._tag = ""
        self.started_at: float | None = None
        self.ready_after: float | None = None  # seconds from spawn to ready

    # -- lifecycle
    def start(self) -> "ManagedProcess":
        stop_slot(self.name)
        self.stopped = False
        self._tag = f"{self.name}:{uuid.uuid4().hex[:12]}"
        env = {**os.environ, **(self.env or {}), TAG_VAR: self._tag, STATE_VAR: str(state_dir()),
               OWNER_VAR: str(os.getpid())}
        t0 = time.monotonic()
        with open(self.log_path, "wb") as log:
            try:
                self._popen = subprocess.Popen(
                    self.command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=self.cwd,
                    env=env,
                    start_new_session=True,
                    preexec_fn=_death_signal(self.death_signal) if self.death_signal else None,
                )
            except FileNotFoundError as e:
                raise ProcessExited(
                    f"could not start {self.what} '{self.name}': {e.strerror}: {self.command[0]}",
                    returncode=None, name=self.name,
                    fix="run `labkit doctor` to see which tool is missing",
                ) from None
        self.started_at = time.time()
        self._write_record()
        try:
            self._wait_until_ready()
        except KeyboardInterrupt:
            # The Stop button: never leave a half-started process behind, and say
            # so in one line instead of a traceback through labkit.
            self.stop()
            raise Interrupted(f"stopped {self.what} '{self.name}' while it was starting; "
                              "nothing is left running") from None
        except BaseException:
            self.stop()
            raise
        self.ready_after = time.monotonic() - t0
        return self

    def _wait_until_ready(self) -> None:
        if self.wait is None:
            return

        def ready() -> bool:
            code = self._popen.poll()
            if code is not None:
                raise ProcessExited(
                    f"{self.what} '{self.name}' exited with code {code} while starting",
                    returncode=code, name=self.name, log_tail=self.logs(tail=20))
            return self.wait.ready(self)

        def timed_out(message: str, last_seen: str) -> StartTimeout:
            return StartTimeout(
                f"{self.what} '{self.name}' did not become ready within {self.timeout:.0f} s "
                f"(waited for {self.wait.description})",
                name=self.name, log_tail=self.logs(tail=20),
                fix="read the log lines above; raise `timeout=` if the machine is just slow")

        wait_for(ready, timeout=self.timeout, what=self.wait.description, error=timed_out)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the process and its children. Safe to call twice."""
        self.stopped = True
        if self._popen is not None:
            _terminate_group(self._popen.pid, self._popen.pid, timeout)
            try:
                self._popen.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        path = _record_path(self.name)
        try:
            if json.loads(path.read_text()).get("tag") == self._tag:
                path.unlink()
        except (OSError, ValueError):
            pass

    def __enter__(self) -> "ManagedProcess":
        return self.start() if not self.running else self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- state
    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen else None

    def logs(self, tail: int | None = None, since: int = 0) -> str:
        """The process's output; ``tail`` keeps the last lines, ``since`` is a byte offset."""
        return read_log(self.log_path, since=since, tail=tail)

    def log_offset(self) -> int:
        """Current end of the log, to pass as ``since=`` later."""
        return log_size(self.log_path)

    # -- registry
    def _write_record(self) -> None:
        record = {
            "name": self.name,
            "pid": self._popen.pid,
            "pgid": self._popen.pid,  # own session: the pgid is its pid
            "tag": self._tag,
            "command": self.command,
            "log": str(self.log_path),
            "owner_pid": os.getpid(),
            "started_at": self.started_at,
        }
        _record_path(self.name).write_text(json.dumps(record, indent=1))

    def __repr__(self) -> str:
        state = f"running, pid {self.pid}" if self.running else "stopped"
        return f"<{type(self).__name__} {self.name!r} {state}>"


class ProcessOwner:
    """What Envoy, Bucket and the other servers share: one ManagedProcess behind ``start()``.

    Subclasses set ``self._process`` in ``start()``; stopping, ``running``,
    ``pid``, logs and the context manager come from here.
    """

    name: str = ""
    what: str = "process"
    _process: ManagedProcess | None = None

    def start(self):  # pragma: no cover - every owner defines it
        raise NotImplementedError

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def logs(self, tail: int | None = None, since: int = 0) -> str:
        return self._process.logs(tail=tail, since=since) if self._process else ""

    def log_offset(self) -> int:
        """A bookmark in the log, for ``logs(since=...)``."""
        return self._process.log_offset() if self._process else 0

    def require_running(self) -> None:
        """Raise :class:`NotRunning` unless the process runs."""
        if self.running:
            return
        process = self._process
        if process is None:
            raise NotRunning(f"{self.what} {self.name!r} has not been started", name=self.name,
                             fix="call .start() first")
        if process.stopped:
            raise NotRunning(f"{self.what} {self.name!r} was stopped", name=self.name,
                             fix="call .start() to run it again")
        raise NotRunning(f"{self.what} {self.name!r} exited by itself (code {process.returncode})",
                         name=self.name, log_tail=self.logs(tail=15),
                         fix="read its last log lines above, then .start() it again")

    def __enter__(self):
        return self if self.running else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
