"""Run Envoy as a managed process.

    envoy = labkit.Envoy(cfg)           # ports are picked for you
    envoy.start()                       # start, wait for /ready
    labkit.curl(envoy)                  # talk to it
    envoy.wasm_logs()                   # what the plugin logged
    envoy.restart(config=new_cfg)       # the same ports, a new config
    envoy.stop()

``runner="func-e"`` starts the same Envoy through ``func-e run`` (with
``ENVOY_PATH`` pointing at labkit's Envoy, so nothing is downloaded).
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml

from .._http import shared_client
from .._paths import state_dir
from .._ports import pick_ports
from .._wait import wait_for
from ..errors import CheckFailed, ConfigError, LabError, ProcessError, ProcessExited, StartTimeout
from ..processes import HTTPWait, ManagedProcess, ProcessOwner, stop_slot
from ..toolchain import find_envoy, find_func_e
from .._httpbin import Httpbin
from .config import EnvoyConfig, RemoteModule, WasmFilter, dump_yaml
from .explain import explain
from .logs import LogLine, wasm_lines
from .reload import Reload, ReloadTarget, reload_filter, write_resource
from .stats import Stats
from .validate import modules_in, validate

__all__ = ["Envoy", "EnvoyViews", "LogLine"]

Runner = Literal["envoy", "func-e"]


class EnvoyViews:
    """What can be read from any running Envoy: its URLs, its plugin's log lines, its
    statistics and configuration. :class:`Envoy` and Istio's gateway share it; a class
    using it has ``port``, ``admin_port``, ``logs()`` and ``require_running()``."""

    port: int | None
    admin_port: int | None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_of(self, listener: str) -> str:
        """The URL of the listener named ``listener`` (``"main"`` is ``url``)."""
        ports = getattr(self, "ports", {}) or {}
        if listener not in ports:
            raise LabError(f"no listener named {listener!r}",
                           fix=f"listeners: {', '.join(ports) or 'none (start Envoy first)'}")
        return f"http://127.0.0.1:{ports[listener]}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def wasm_logs(self, since: int = 0) -> list[LogLine]:
        """The plugin's ``wasm log`` messages (optionally only those after a bookmark)."""
        return wasm_lines(self.logs(since=since))

    def expect_wasm_logs(self, *messages: str, since: int = 0, timeout: float = 3.0) -> list[LogLine]:
        """Wait until each message appears in a ``wasm log`` line after ``since``.

        Envoy writes some lines (stream done, for one) just after the response,
        hence the short wait. Raises CheckFailed naming what never appeared.
        """
        def missing() -> list[str]:
            lines = self.wasm_logs(since=since)
            return [m for m in messages if not any(m in line.message for line in lines)]

        def never_came(message: str, last_seen: str) -> CheckFailed:
            return CheckFailed(f"expected wasm log line(s) {missing()} within {timeout:.0f} s",
                               cause=last_seen,
                               fix="check the LogInfo calls in your Go code, rebuild, and restart "
                                   "Envoy")

        wait_for(lambda: not missing(), timeout=timeout, what="the wasm log lines",
                 seen=lambda: "\n".join(map(str, self.wasm_logs(since=since))) or "(no wasm log lines)",
                 error=never_came)
        for m in messages:
            print(f"✔ wasm log: {m}")
        return self.wasm_logs(since=since)

    def stats(self) -> Stats:
        """Scrape ``/stats/prometheus`` once (see :class:`labkit.Stats`)."""
        self.require_running()
        return Stats.scrape(self.admin_url)

    def config_dump(self, resource: str | None = None) -> dict:
        """Envoy's ``/config_dump`` (``resource="ecds_filters"`` for one kind, say)."""
        self.require_running()
        params = {"resource": resource} if resource else {}
        r = shared_client().get(f"{self.admin_url}/config_dump", params=params, timeout=10)
        return r.json()

    def listeners(self) -> list[str]:
        """The addresses Envoy listens on (``/listeners``), e.g. ``127.0.0.1:8080``."""
        self.require_running()
        r = shared_client().get(f"{self.admin_url}/listeners", params={"format": "json"}, timeout=5)
        out = []
        for listener in r.json().get("listener_statuses", []):
            socket = listener.get("local_address", {}).get("socket_address", {})
            out.append(f"{socket.get('address')}:{socket.get('port_value')}")
        return out


class Envoy(EnvoyViews, ProcessOwner):
    """One Envoy process, configured from an :class:`EnvoyConfig` or a YAML file.

    With an ``EnvoyConfig``, ports are picked at start unless ``port`` /
    ``admin_port`` are given. With a file, its own ports are used (and checked).
    """

    what = "Envoy"

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
        self.ports: dict[str, int] = {}     # every listener's port, by listener name
        self.config_path: Path | None = None   # the file Envoy reads
        self.source_path: Path | None = None   # the learner's YAML file, when given one
        self.httpbin: Httpbin | None = None  # its own, when the config asks for "httpbin"
        self._process: ManagedProcess | None = None

    # --------------------------------------------------------------- ports
    def _prepare(self) -> None:
        """Fix the ports and write the config file Envoy will read."""
        if isinstance(self.config, EnvoyConfig):
            extra = {listener.name: None for listener in self.config.listeners}
            ports = pick_ports({"listener": self._want_port, "admin": self._want_admin, **extra})
            self.port, self.admin_port = ports.pop("listener"), ports.pop("admin")
            self.ports = {"main": self.port, **ports}
            for f in self.config.reloadable_filters:
                write_resource(self.ecds_dir, f)
            runtime = {}
            if self.config.needs_httpbin:
                if self.httpbin is None or not self.httpbin.running:
                    self.httpbin = Httpbin(f"{self.name}-httpbin").start()
                runtime["httpbin"] = self.httpbin.url
            self.config_path = self.config.write(state_dir("envoy") / f"{self.name}.yaml",
                                                 port=self.port, admin_port=self.admin_port,
                                                 ecds_dir=self.ecds_dir, ports=self.ports, **runtime)
            self._cwd = self.config_path.parent
            return
        path = Path(self.config).resolve()
        if not path.is_file():
            raise ConfigError(f"no Envoy config at {path}", path=str(path),
                              fix="check the path; EnvoyConfig(...).write(path) writes one")
        data = _load_yaml(path)
        listeners, admin = _ports_in(data)
        if not admin:
            raise ConfigError(f"{path} has no admin address", path=str(path),
                              fix="add `admin: {address: {socket_address: {address: 127.0.0.1, "
                                  "port_value: 9901}}}`: labkit needs it to know when Envoy is ready")
        pick_ports({**{f"listener {n}": p for n, p in listeners.items()}, "admin": admin},
                   instead=f"change its port_value in {path.name}")
        self.ports, self.admin_port = listeners, admin
        self.port = next(iter(listeners.values()), None)
        self.source_path = path
        self.config_path = _resolved_copy(path, data, state_dir("envoy") / f"{self.name}.yaml")
        self._cwd = path.parent  # what else the file names relatively (a log file...) stays as meant

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
            self.name, command, env=env, cwd=self._cwd, timeout=self.timeout,
            wait=HTTPWait(f"{self.admin_url}/ready", 200, "LIVE"), what="Envoy")
        try:
            self._process.start()
        except (ProcessExited, StartTimeout) as e:
            raise self._start_error(e) from None
        return self

    def _start_error(self, error: ProcessError) -> LabError:
        """Envoy's own reason for a failed start, as a ConfigError when the config is at fault."""
        log = self._process.logs() if self._process else ""
        why = explain(log, self._modules())
        # Envoy reports a bind failure like a config error, but the config is
        # fine: the address or port is the problem, so it stays a process error.
        if (re.search(r"error initializing config|error `.*` initializing config", log)
                and "cannot bind" not in log):
            shown = self.source_path or self.config_path
            return ConfigError(f"Envoy rejected {shown}: {why.reason}",
                               path=str(shown), cause=why.relevant,
                               fix=why.fix or "correct the config at the place Envoy names")
        kind = type(error)
        extra = {"returncode": error.returncode} if isinstance(error, ProcessExited) else {}
        return kind(f"{error.message}: {why.reason}", name=self.name, log_tail=error.log_tail,
                    cause=why.relevant, fix=why.fix or error.fix or "read Envoy's log lines above",
                    **extra)

    def _modules(self) -> list[Path]:
        if isinstance(self.config, EnvoyConfig):
            return [f.module_path for f in self.config.filters if not isinstance(f.module, RemoteModule)]
        return modules_in(self.config_path) if self.config_path else []

    def stop(self) -> None:
        super().stop()
        if self.httpbin is not None:
            self.httpbin.stop()

    def restart(self, config: EnvoyConfig | str | os.PathLike | None = None) -> "Envoy":
        """Stop and start again, on the same ports: to load a rebuilt module, or a new
        ``config`` (``envoy.restart(config=EnvoyConfig(WasmFilter(new_build)))``)."""
        self.stop()
        if config is not None:
            self.config = config
        if isinstance(self.config, EnvoyConfig) and self.port:
            self._want_port, self._want_admin = self.port, self.admin_port
        return self.start()

    # --------------------------------------------------------------- state
    @property
    def ready_seconds(self) -> float | None:
        """Seconds from process start to the admin endpoint answering LIVE."""
        return self._process.ready_after if self._process else None

    @property
    def command(self) -> list[str]:
        return self._process.command if self._process else self._command()[0]

    # -------------------------------------------------------------- reload
    @property
    def ecds_dir(self) -> Path:
        """Where this Envoy's reloadable filters' ECDS files live."""
        return state_dir("ecds", self.name)

    def reloadable_filters(self) -> list[WasmFilter]:
        return self.config.reloadable_filters if isinstance(self.config, EnvoyConfig) else []

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
        known = [f.name for f in self.reloadable_filters()]
        if new.name not in known:
            raise LabError(f"Envoy {self.name!r} has no reloadable filter named {new.name!r}",
                           fix="start it with WasmFilter(..., reloadable=True) and reload a filter "
                               f"with the same name (known: {', '.join(known) or 'none'})")
        self.require_running()
        target = ReloadTarget(self.ecds_dir, self.admin_url, self._process.log_path,
                              lambda: self.running, self.name)
        result = reload_filter(target, new, timeout=timeout, via=via)
        if result.status == "applied":
            # What serves now: a restart starts from it.
            self.config = self.config.with_filter(new)
        return result

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


def _load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML", path=str(path), cause=str(e),
                          fix="fix the YAML at the line shown") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not an Envoy bootstrap (a YAML mapping)", path=str(path),
                          fix="compare with examples/log-headers/envoy.yaml")
    return data


def _ports_in(data: dict) -> tuple[dict[str, int], int | None]:
    """The listeners' ports by name, and the admin port, of a bootstrap."""
    admin = (data.get("admin") or {}).get("address", {}).get("socket_address", {}).get("port_value")
    listeners = {}
    for n, listener in enumerate((data.get("static_resources") or {}).get("listeners") or []):
        port = (listener.get("address") or {}).get("socket_address", {}).get("port_value")
        if port:
            listeners[listener.get("name") or f"listener-{n}"] = port
    return listeners, admin


def _resolved_copy(path: Path, data: dict, copy: Path) -> Path:
    """A copy of ``path`` whose relative file names are absolute, resolved from the file's
    folder (so it does not matter where Envoy runs, or func-e's run folder)."""
    missing: list[str] = []
    rebound: list[str] = []

    def resolve(name: str, where: str) -> str:
        if os.path.isabs(name):
            if not Path(name).exists():
                missing.append(f"{where}: {name}")
            return name
        tried = [path.parent / name, *(parent / name for parent in list(path.parents)[1:4])]
        found = next((p for p in tried if p.exists()), None)
        if found is None:
            # A project copied out of its repository: `./examples/x/main.wasm`, written
            # for the repository's root, is the main.wasm built next to the YAML (and
            # `./examples/x/receiver/main.wasm` is receiver/main.wasm beside it).
            parts = Path(name).parts
            found = next((path.parent.joinpath(*parts[k:]) for k in range(1, len(parts))
                          if path.parent.joinpath(*parts[k:]).is_file()), None)
        if found is None:
            missing.append(f"{where}: {name} (looked in {path.parent}"
                           + (" and the folders above it" if len(tried) > 1 else "") + ")")
            return name
        if found != tried[0]:
            print(f"labkit: {path.name} names {name}, which is not next to it; using {found.resolve()}")
        return str(found.resolve())

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                here = f"{where}.{key}" if where else key
                if key == "filename" and isinstance(value, str) and where.endswith("local"):
                    node[key] = resolve(value, here)
                elif key == "address" and value in ("0.0.0.0", "::") and where.endswith("socket_address"):
                    # The lab serves loopback only: a config written for a container
                    # (0.0.0.0) would open its ports to the network.
                    node[key] = "127.0.0.1"
                    rebound.append(here)
                elif key == "path" and isinstance(value, str) and where.endswith(
                        ("path_config_source", "watched_directory")):
                    node[key] = str((path.parent / value).resolve()) if not os.path.isabs(value) else value
                else:
                    walk(value, here)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    walk(data, "")
    if rebound:
        print(f"labkit: {path.name} binds {len(rebound)} address{'es' if len(rebound) > 1 else ''} "
              "to 0.0.0.0; the lab serves 127.0.0.1 only, so Envoy listens there")
    if missing:
        raise ConfigError(
            f"{path.name} names {'a file' if len(missing) == 1 else 'files'} that "
            f"{'does' if len(missing) == 1 else 'do'} not exist",
            path=str(path), cause="\n".join(missing),
            fix="build the module (ext.build()) or correct the path; a relative path is read "
                f"from the config file's folder, {path.parent}")
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(dump_yaml(data))
    return copy
