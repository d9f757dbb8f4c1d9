"""Swap a running Envoy's Wasm filter without a restart (file-based ECDS).

A reloadable filter's configuration lives in ``<ecds dir>/<name>.yaml``, a
``TypedExtensionConfig`` that Envoy watches. A reload:

1. copies a local module to ``<ecds dir>/modules/<sha256>.wasm``. Envoy skips
   an update whose config is unchanged, so a module rebuilt in place under the
   same name would never reload: the content-addressed name makes every new
   build a new config;
2. writes the new resource to a temporary file and renames it into place
   (Envoy never reads a half-written file);
3. waits until Envoy's ECDS counters say the update was applied or refused,
   and times it;
4. on refusal, puts the previous file back (so the file on disk matches what
   Envoy serves) and raises :class:`ReloadRejected` with Envoy's reason;
5. prunes module copies no current resource refers to.

It works from explicit inputs, a :class:`ReloadTarget`: the ECDS folder, the
admin URL, the log file and a way to ask whether Envoy still runs.
:meth:`labkit.Envoy.reload` makes one and records the filter that serves.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import httpx

from .._files import atomic_copy, atomic_write, sha256_of
from .._http import shared_client
from .._wait import wait_for
from ..errors import (LabError, MetricNotFound, NotRunning, ReloadRejected, RemoteModuleError,
                      StartTimeout, WaitTimeout)
from ..processes import log_size, read_log
from .._extension import Build
from .config import RemoteModule, WasmFilter, dump_yaml
from .explain import explain
from .stats import Stats

__all__ = ["Reload", "ReloadTarget", "reload_filter", "write_resource", "resource_path"]

OUTCOMES = ("update_success", "update_rejected", "update_failure", "config_fail")


@dataclass(frozen=True)
class Reload:
    """One confirmed reload: which filter, how long Envoy took, what it runs now."""

    filter: str
    status: str  # "applied" or "unchanged"
    seconds: float
    module_sha256: str | None

    def __str__(self) -> str:
        if self.status == "unchanged":
            return f"{self.filter}: nothing changed, so nothing was reloaded"
        sha = f", module {self.module_sha256[:12]}…" if self.module_sha256 else ""
        return f"✔ {self.filter} reloaded in {self.seconds:.2f} s without a restart{sha}"

    def _repr_html_(self) -> str:
        return str(self)


@dataclass(frozen=True)
class ReloadTarget:
    """What a reload needs to know about the Envoy it updates."""

    ecds_dir: Path
    admin_url: str
    log_path: Path
    alive: Callable[[], bool]
    name: str = "envoy"

    def log_offset(self) -> int:
        return log_size(self.log_path)

    def logs(self, since: int = 0, tail: int | None = None) -> str:
        return read_log(self.log_path, since=since, tail=tail)


def resource_path(ecds_dir: Path, name: str) -> Path:
    return ecds_dir / f"{name}.yaml"


def _modules_dir(ecds_dir: Path) -> Path:
    path = ecds_dir / "modules"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _store(ecds_dir: Path, data: bytes | Path, sha: str) -> Path:
    local = _modules_dir(ecds_dir) / f"{sha}.wasm"
    if not local.exists():
        atomic_copy(data, local) if isinstance(data, Path) else atomic_write(local, data)
    return local


def fetch_remote(ecds_dir: Path, module: RemoteModule) -> Path:
    """Download a remote module and check its sha256, as Istio's agent does.

    Returns the content-addressed local copy Envoy will load.
    """
    try:
        r = shared_client().get(module.url, timeout=10)
    except httpx.HTTPError as e:
        raise RemoteModuleError(f"could not fetch {module.url}", cause=str(e),
                                fix="is the bucket running (bucket.start())? check the URL") from None
    if r.status_code != 200:
        raise RemoteModuleError(f"{module.url} answered {r.status_code}",
                                fix="publish the module first: bucket.put(build)")
    got = hashlib.sha256(r.content).hexdigest()
    if got != module.sha256:
        raise RemoteModuleError(
            f"sha256 mismatch for {module.url}: the bucket serves {got}, the filter expects "
            f"{module.sha256}",
            fix="use the RemoteModule that bucket.put() returned (its sha256 is the file's); "
                "Envoy itself would have accepted this update and silently run no filter")
    return _store(ecds_dir, r.content, got)


def render_resource(ecds_dir: Path, f: WasmFilter, via: str = "labkit") -> tuple[str, str | None]:
    """The resource file's text, and the module's sha256 (the module is stored locally
    under its sha256, unless ``via="envoy"`` leaves fetching remote code to Envoy)."""
    if isinstance(f.module, RemoteModule):
        sha = f.module.sha256
        local = None if via == "envoy" else fetch_remote(ecds_dir, f.module)
    else:
        if isinstance(f.module, Build):
            f.module.verify()
        source = f.module_path
        if not source.is_file():
            raise LabError(f"the module for filter {f.name!r} does not exist: {source}",
                           fix="build the extension (ext.build()) and pass the Build, not a stale path")
        sha = sha256_of(source)
        local = _store(ecds_dir, source, sha)
    return dump_yaml({"resources": [f.extension_config(local)]}), sha


def write_resource(ecds_dir: Path, f: WasmFilter) -> str | None:
    """Write the initial resource of a reloadable filter; returns the module sha256."""
    ecds_dir.mkdir(parents=True, exist_ok=True)
    text, sha = render_resource(ecds_dir, f)
    atomic_write(resource_path(ecds_dir, f.name), text)
    return sha


def _prune(ecds_dir: Path) -> None:
    """Delete module copies that no current resource file refers to."""
    texts = " ".join(p.read_text() for p in ecds_dir.glob("*.yaml"))
    for module in _modules_dir(ecds_dir).glob("*.wasm"):
        if module.name not in texts:
            module.unlink(missing_ok=True)


def ecds_counters(admin_url: str, name: str) -> dict[str, int] | None:
    """The filter's ECDS counters, or None while the admin endpoint is busy
    (Envoy's main thread does not answer while V8 compiles a new module)."""
    prefix = f"extension_config_discovery.http_filter.{name}."
    try:
        r = shared_client().get(f"{admin_url}/stats", params={"filter": "^" + re.escape(prefix)},
                                timeout=2)
    except httpx.HTTPError:
        return None
    out = {}
    for line in r.text.splitlines():
        key, _, value = line.partition(": ")
        if value.strip().isdigit():
            out[key.removeprefix(prefix)] = int(value)
    return out


def _counters(target: ReloadTarget, name: str, timeout: float) -> dict[str, int]:
    """The counters, waiting while the admin endpoint is busy; stops if Envoy exits."""

    def probe() -> tuple[dict[str, int]] | None:
        if not target.alive():
            raise _exited(target)
        counters = ecds_counters(target.admin_url, name)
        return (counters,) if counters is not None else None

    def busy(message: str, last_seen: str) -> StartTimeout:
        return StartTimeout(f"Envoy's admin endpoint did not answer during the update of {name!r}",
                            name=target.name, log_tail=target.logs(tail=15))

    return wait_for(probe, timeout=max(timeout, 0.1), what=f"Envoy's ECDS counters of {name!r}",
                    interval=0.05, error=busy)[0]


def _exited(target: ReloadTarget) -> NotRunning:
    return NotRunning(f"Envoy {target.name!r} exited during the reload", name=target.name,
                      log_tail=target.logs(tail=15), fix="read Envoy's last log lines above")


def _apply(target: ReloadTarget, path: Path, text: str, name: str,
           timeout: float) -> tuple[list[str], float, int]:
    """Rename ``text`` into place; wait for Envoy's verdict. Returns (outcomes, seconds, log mark).

    ``update_success`` rises once Envoy has handed the new filter to its
    workers, ``config_reload`` once every worker has it: "applied" waits for
    both, so the next request meets the new filter.
    """
    t0 = time.monotonic()
    before = _counters(target, name, timeout)
    mark = target.log_offset()
    atomic_write(path, text)

    def verdict() -> list[str] | None:
        now = _counters(target, name, t0 + timeout - time.monotonic())
        changed = [k for k in OUTCOMES if now.get(k, 0) > before.get(k, 0)]
        reloaded = now.get("config_reload", 0) > before.get("config_reload", 0)
        return changed if changed and (reloaded or changed != ["update_success"]) else None

    def undecided(message: str, last_seen: str) -> StartTimeout:
        return StartTimeout(f"Envoy did not apply or refuse the update of {name!r} within "
                            f"{timeout:.0f} s", name=target.name,
                            log_tail=target.logs(since=mark, tail=15))

    changed = wait_for(verdict, timeout=timeout, what=f"Envoy's verdict on {name!r}",
                       interval=0.02, error=undecided)
    return changed, time.monotonic() - t0, mark


def _restore(target: ReloadTarget, path: Path, previous: str, name: str) -> None:
    """Put the serving resource back. Envoy may re-apply it (it recorded the refused one
    as its latest): wait briefly for that, so a next reload does not count it as its own."""
    before = ecds_counters(target.admin_url, name) or {}
    atomic_write(path, previous)

    def reapplied() -> bool:
        now = ecds_counters(target.admin_url, name) or before
        return any(now.get(k, 0) > before.get(k, 0) for k in OUTCOMES)

    try:
        wait_for(reapplied, timeout=3, what=f"Envoy to re-read {path.name}")
    except WaitTimeout:
        pass  # Envoy kept what it had: the file and the filter agree either way


def _remote_fetches(admin_url: str) -> float:
    stats = Stats.scrape(admin_url)
    total = 0.0
    for name in ("envoy_wasm_remote_load_fetch_successes", "envoy_wasm_remote_load_cache_hits"):
        try:
            total += stats.value(name)
        except MetricNotFound:
            pass  # these counters come and go between reloads: missing counts as 0
    return total


def reload_filter(target: ReloadTarget, new: WasmFilter, *, timeout: float = 30.0,
                  via: str = "labkit") -> Reload:
    """Swap the filter ``new.name`` in the Envoy ``target`` describes; see the module docs."""
    if via not in ("labkit", "envoy"):
        raise LabError(f"unknown via={via!r}", fix="use via='labkit' (default) or via='envoy'")
    ecds_dir = target.ecds_dir
    path = resource_path(ecds_dir, new.name)
    previous = path.read_text()
    text, sha = render_resource(ecds_dir, new, via)
    if text == previous:
        return Reload(new.name, "unchanged", 0.0, sha)

    remote_by_envoy = via == "envoy" and isinstance(new.module, RemoteModule)
    fetches_before = _remote_fetches(target.admin_url) if remote_by_envoy else 0.0
    try:
        changed, seconds, mark = _apply(target, path, text, new.name, timeout)
    except (StartTimeout, NotRunning, KeyboardInterrupt):
        atomic_write(path, previous)
        raise

    if "update_success" not in changed:
        # Put back what Envoy still serves, so a restart would serve it too.
        _restore(target, path, previous, new.name)
        _prune(ecds_dir)
        raise _rejected(target.logs(since=mark), new, changed, path)

    if remote_by_envoy:
        # Envoy counts a remote-code update as a success even when it never
        # fetches the code; the filter then silently does nothing. Check.
        try:
            wait_for(lambda: _remote_fetches(target.admin_url) > fetches_before, timeout=3,
                     what=f"Envoy to fetch {new.module.url}", interval=0.1)  # type: ignore[union-attr]
        except WaitTimeout:
            _apply(target, path, previous, new.name, timeout)  # bring the previous filter back
            _prune(ecds_dir)
            raise _never_fetched(ecds_dir, new, seconds) from None
    _prune(ecds_dir)
    return Reload(new.name, "applied", seconds, sha)


def _rejected(log: str, new: WasmFilter, changed: list[str], path: Path) -> ReloadRejected:
    why = explain(log)
    m = re.search(r"Filesystem config update (?:rejected|failure): (.*)", log)
    reason = m.group(1).strip() if m else why.reason
    fix = why.fix
    if (re.search(r"Plugin \S+ failed to load", log)
            and not re.search(r"wasm log|Wasm VM failed|Failed to (?:load|initialize) Wasm", log)):
        # Envoy remembers a plugin that failed to start and refuses the same
        # one again without running it: the plugin's own lines are not repeated.
        fix = ("Envoy refused this very filter before and does not start it again, so the "
               "plugin's own `wasm log` lines are in the first refusal (envoy.logs() has "
               "them): fix the module or configuration and reload again")
    return ReloadRejected(
        f"Envoy refused the new {new.name!r} filter ({', '.join(changed)}): {reason}. "
        "The previous filter keeps serving.",
        path=str(path), cause=why.relevant,
        fix=fix or "fix the module or configuration and reload again")


def _never_fetched(ecds_dir: Path, new: WasmFilter, seconds: float) -> RemoteModuleError:
    module = new.module
    assert isinstance(module, RemoteModule)
    try:
        fetch_remote(ecds_dir, module)
        why = ("the bucket serves the right module, but Envoy only fetches remote code "
               "while a listener warms (at start), not for an update of a running Envoy")
    except RemoteModuleError as e:
        why = f"{e.message}; and Envoy did not even try to fetch it"
    return RemoteModuleError(
        f"Envoy counted the update of {new.name!r} as a success in {seconds:.2f} s, but never "
        f"fetched {module.url}: the filter would silently do nothing. The previous "
        "filter was put back.",
        cause=why,
        fix="reload with via='labkit' (the default): labkit fetches the module, checks its "
            "sha256 and hands Envoy a local file, as Istio's agent does")
