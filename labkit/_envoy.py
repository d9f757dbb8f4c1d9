"""Run Envoy as a managed process.

    envoy = labkit.Envoy(cfg)           # ports are picked for you
    envoy.start()                       # validate, start, wait for /ready
    labkit.curl(envoy)                  # talk to it
    envoy.wasm_logs()                   # what the plugin logged
    envoy.stop()

``runner="func-e"`` starts the same Envoy through ``func-e run`` (with
``ENVOY_PATH`` pointing at labkit's Envoy, so nothing is downloaded).
"""

from __future__ import annotations

import dataclasses
import html
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from ._envoy_config import EnvoyConfig, WasmFilter, explain, validate
from ._reload import Reload, reload_filter, write_resource
from ._errors import CheckFailed, ConfigError, HTTPError, LabError, ProcessExited, StartTimeout
from ._paths import state_dir
from ._stats import Stats
from ._processes import HTTPWait, ManagedProcess, ProcessOwner, ensure_port_free, free_port, stop_slot
from ._toolchain import find_envoy, find_func_e

__all__ = ["Envoy", "LogLine"]

Runner = Literal["envoy", "func-e"]

_LOG = re.compile(r"^\[(?P<time>[^]]+)\]\[\d+\]\[(?P<level>\w+)\]\[(?P<component>[\w-]+)\] \[[^]]+\] (?P<msg>.*)$")
_WASM = re.compile(r"^wasm log(?: (?P<plugin>[^:]*))?: (?P<msg>.*)$")


@dataclass(frozen=True)
class LogLine:
    """One ``wasm log`` line: what the plugin said, at which level."""

    time: str
    level: str
    plugin: str
    message: str

    def __str__(self) -> str:
        return f"[{self.level}] {self.plugin}: {self.message}" if self.plugin else f"[{self.level}] {self.message}"


class Envoy(ProcessOwner):
    """One Envoy process, configured from an :class:`EnvoyConfig` or a YAML file.

    With an ``EnvoyConfig``, ports are picked at start unless ``port`` /
    ``admin_port`` are given. With a file, its own ports are used (and checked).
    """

    def __init__(
        self,
        config: EnvoyConfig | str | os.PathLike,
        *,
        name: str = "envoy",
        port: int | None = None,
        admin_port: int | None = None,
        runner: Runner = "envoy",
        log_level: str = "warning",
        wasm_log_level: str = "info",
        concurrency: int = 1,
        timeout: float = 30.0,
    ):
        if runner not in ("envoy", "func-e"):
            raise LabError(f"unknown runner {runner!r}", fix="use runner='envoy' or runner='func-e'")
        self.config = config
        self.name = name
        self.runner = runner
        self.log_level = log_level
        self.wasm_log_level = wasm_log_level
        self.concurrency = concurrency
        self.timeout = timeout
        self._want_port, self._want_admin = port, admin_port
        self.port: int | None = None
        self.admin_port: int | None = None
        self.config_path: Path | None = None
        self._process: ManagedProcess | None = None

    # --------------------------------------------------------------- ports
    def _prepare(self) -> None:
        """Fix the ports and write the config file Envoy will read."""
        if isinstance(self.config, EnvoyConfig):
            for wanted in (self._want_port, self._want_admin):
                if wanted is not None:
                    ensure_port_free(wanted)
            self.port = self._want_port or free_port()
            self.admin_port = self._want_admin or free_port()
            while self.admin_port == self.port:
                self.admin_port = free_port()
            config = dataclasses.replace(self.config, port=self.port, admin_port=self.admin_port,
                                         ecds_dir=str(self.ecds_dir))
            for f in self.reloadable_filters():
                write_resource(self.ecds_dir, f)
            self.config_path = config.write(state_dir("envoy") / f"{self.name}.yaml")
        else:
            self.config_path = Path(self.config).resolve()
            if not self.config_path.is_file():
                raise ConfigError(f"no Envoy config at {self.config_path}", path=str(self.config_path),
                                  fix="check the path; EnvoyConfig(...).write(path) writes one")
            self.port, self.admin_port = _ports_in_file(self.config_path)
            for p in (self.port, self.admin_port):
                if p:
                    ensure_port_free(p)
            if not self.admin_port:
                raise ConfigError(f"{self.config_path} has no admin address", path=str(self.config_path),
                                  fix="add `admin: {address: {socket_address: {address: 127.0.0.1, "
                                      "port_value: 9901}}}`: labkit needs it to know when Envoy is ready")

    def _command(self) -> tuple[list[str], dict[str, str]]:
        envoy = find_envoy().require()
        args = ["-c", str(self.config_path),
                # Hot restart shares memory between Envoys with the same base id;
                # the lab never hot-restarts, so turn it off and avoid clashes.
                "--disable-hot-restart",
                # Each worker thread runs its own copy of every Wasm VM: one worker
                # keeps memory low and log lines in one thread; plenty for a lab.
                "--concurrency", str(self.concurrency),
                "-l", self.log_level, "--component-log-level", f"wasm:{self.wasm_log_level}"]
        if self.runner == "func-e":
            return [find_func_e().require(), "run", *args], {"ENVOY_PATH": envoy}
        return [envoy, *args], {}

    # ----------------------------------------------------------- lifecycle
    def start(self, *, validate_first: bool = False) -> "Envoy":
        """Start Envoy and wait until its admin endpoint answers LIVE.

        A config Envoy rejects raises ConfigError with Envoy's reason, the
        same as :func:`labkit.validate` would (``validate_first`` runs that
        check before starting, at the cost of loading the module twice).
        """
        # Stop the previous Envoy of this name before checking ports: a config
        # file's fixed ports are held by that very Envoy.
        stop_slot(self.name)
        self._prepare()
        if validate_first:
            validate(self.config_path)
        command, env = self._command()
        self._process = ManagedProcess(
            self.name, command, env=env, cwd=self.config_path.parent, timeout=self.timeout,
            wait=HTTPWait(f"{self.admin_url}/ready", 200, "LIVE"), what="Envoy")
        try:
            self._process.start()
        except (ProcessExited, StartTimeout) as e:
            log = self._process.logs()
            reason, fix, relevant = explain(log)
            # Envoy reports a bind failure like a config error, but the config is
            # fine: the address or port is the problem, so keep ProcessExited.
            if (re.search(r"error initializing config|error `.*` initializing config", log)
                    and "cannot bind" not in log):
                raise ConfigError(f"Envoy rejected {self.config_path}: {reason}",
                                  path=str(self.config_path), cause=relevant,
                                  fix=fix or "correct the config at the place Envoy names") from None
            e.message = f"{e.message}: {reason}"
            e.cause = relevant
            e.fix = fix or e.fix or "read Envoy's log lines above"
            e.args = (e.message,)
            raise e from None
        return self

    def restart(self) -> "Envoy":
        """Stop and start again, e.g. to load a rebuilt module. Ports stay the same."""
        self.stop()
        if isinstance(self.config, EnvoyConfig):
            self._want_port, self._want_admin = self.port, self.admin_port
        return self.start()

    # --------------------------------------------------------------- state
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    @property
    def ready_seconds(self) -> float | None:
        """Seconds from process start to the admin endpoint answering LIVE."""
        return self._process.ready_after if self._process else None

    @property
    def command(self) -> list[str]:
        return self._process.command if self._process else self._command()[0]

    # ---------------------------------------------------------------- logs
    def logs(self, tail: int | None = None, since: int = 0) -> str:
        return self._process.logs(tail=tail, since=since) if self._process else ""

    def log_offset(self) -> int:
        """A bookmark in the log, for ``wasm_logs(since=...)``."""
        return self._process.log_offset() if self._process else 0

    def wasm_logs(self, since: int = 0) -> list[LogLine]:
        """The plugin's ``wasm log`` lines (optionally only those after a bookmark)."""
        out = []
        for line in self.logs(since=since).splitlines():
            m = _LOG.match(line)
            if m and m["component"] == "wasm" and (w := _WASM.match(m["msg"])):
                out.append(LogLine(m["time"], m["level"], w["plugin"] or "", w["msg"]))
        return out

    def expect_wasm_logs(self, *messages: str, since: int = 0, timeout: float = 3.0) -> list[LogLine]:
        """Wait until each message appears in a ``wasm log`` line after ``since``.

        Envoy writes some lines (stream done, for one) just after the response,
        hence the short wait. Raises CheckFailed naming what never appeared.
        """
        deadline = time.monotonic() + timeout
        while True:
            lines = self.wasm_logs(since=since)
            missing = [m for m in messages if not any(m in line.message for line in lines)]
            if not missing:
                for m in messages:
                    print(f"✔ wasm log: {m}")
                return lines
            if time.monotonic() > deadline:
                seen = "\n".join(str(line) for line in lines) or "(no wasm log lines)"
                raise CheckFailed(
                    f"expected wasm log line(s) {missing} within {timeout:.0f} s",
                    cause=seen,
                    fix="check the LogInfo calls in your Go code, rebuild, and restart Envoy")
            time.sleep(0.05)

    # -------------------------------------------------------------- reload
    @property
    def ecds_dir(self) -> Path:
        """Where this Envoy's reloadable filters' ECDS files live."""
        return state_dir("ecds", self.name)

    def reloadable_filters(self) -> list[WasmFilter]:
        if not isinstance(self.config, EnvoyConfig):
            return []
        return [f for f in self.config.filters if f.reloadable]

    def reload(self, new: WasmFilter, *, timeout: float = 30.0, via: str = "labkit") -> Reload:
        """Swap the reloadable filter named ``new.name`` while Envoy keeps serving.

        Returns once Envoy's ECDS statistics confirm the update (with how long
        it took); raises ReloadRejected, with Envoy's reason, when Envoy refuses
        it, and the previous filter keeps serving.

        A remote module (``bucket.put(build)``) is fetched and checked by labkit,
        which hands Envoy a local copy (what Istio's agent does); ``via="envoy"``
        leaves the fetch to Envoy, which a running Envoy silently skips: labkit
        then detects the inactive filter, restores the previous one and says why.
        """
        return reload_filter(self, new, timeout, via)

    def _replace_filter(self, new: WasmFilter) -> None:
        # Remember the applied filter, so a restart starts from what is serving.
        self.config = dataclasses.replace(
            self.config, filters=[new if f.name == new.name else f for f in self.config.filters])

    # --------------------------------------------------------------- stats
    def stats(self) -> Stats:
        """Scrape ``/stats/prometheus`` once (see :class:`labkit.Stats`)."""
        if not self.admin_port:
            raise HTTPError(f"Envoy {self.name!r} has not been started", fix="call envoy.start() first")
        return Stats.scrape(self.admin_url)

    def __repr__(self) -> str:
        state = f"running on {self.url} (admin {self.admin_url}, pid {self.pid})" if self.running else "stopped"
        return f"<Envoy {self.name!r} {state}>"

    def _repr_html_(self) -> str:
        if not self.running:
            return f"<b>Envoy {html.escape(self.name)}</b>: stopped"
        ready = f", ready in {self.ready_seconds:.1f} s" if self.ready_seconds else ""
        return (f"<b>Envoy {html.escape(self.name)}</b> running (pid {self.pid}, via {self.runner}{ready})"
                f"<br>listener <code>{self.url}</code> · admin <code>{self.admin_url}</code>"
                f"<br>config <code>{html.escape(str(self.config_path))}</code>")


def _ports_in_file(path: Path) -> tuple[int | None, int | None]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML", path=str(path), cause=str(e),
                          fix="fix the YAML at the line shown") from None
    admin = (data.get("admin") or {}).get("address", {}).get("socket_address", {}).get("port_value")
    listeners = (data.get("static_resources") or {}).get("listeners") or []
    port = listeners[0].get("address", {}).get("socket_address", {}).get("port_value") if listeners else None
    return port, admin
