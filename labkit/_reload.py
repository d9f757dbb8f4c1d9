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
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import yaml

from ._envoy_config import RemoteModule, WasmFilter, _Dumper, explain
from ._errors import ConfigError, LabError, StartTimeout
from ._extension import sha256_of
from ._http import shared_client

if TYPE_CHECKING:
    from ._envoy import Envoy

__all__ = ["Reload", "ReloadRejected", "RemoteModuleError", "write_resource", "reload_filter"]

OUTCOMES = ("update_success", "update_rejected", "update_failure", "config_fail")


class ReloadRejected(ConfigError):
    """Envoy refused a filter update; the previous filter keeps serving."""


class RemoteModuleError(LabError):
    """A remote module could not be fetched, did not match its sha256, or
    Envoy never activated it. The previous filter keeps serving."""


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


def _modules_dir(ecds_dir: Path) -> Path:
    path = ecds_dir / "modules"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _store(ecds_dir: Path, data: bytes | Path, sha: str) -> Path:
    local = _modules_dir(ecds_dir) / f"{sha}.wasm"
    if not local.exists():
        tmp = local.with_suffix(".tmp")
        if isinstance(data, Path):
            shutil.copyfile(data, tmp)
        else:
            tmp.write_bytes(data)
        os.replace(tmp, local)
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
        source = f.module_path
        if not source.is_file():
            raise LabError(f"the module for filter {f.name!r} does not exist: {source}",
                           fix="build the extension (ext.build()) and pass the Build, not a stale path")
        sha = sha256_of(source)
        local = _store(ecds_dir, source, sha)
    text = yaml.dump({"resources": [f.extension_config(local)]}, Dumper=_Dumper, sort_keys=False)
    return text, sha


def _atomic_write(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp",
                                     delete=False) as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def write_resource(ecds_dir: Path, f: WasmFilter) -> str | None:
    """Write the initial resource of a reloadable filter; returns the module sha256."""
    text, sha = render_resource(ecds_dir, f)
    _atomic_write(ecds_dir / f"{f.name}.yaml", text)
    return sha


def _prune(ecds_dir: Path) -> None:
    """Delete module copies that no current resource file refers to."""
    texts = " ".join(p.read_text() for p in ecds_dir.glob("*.yaml"))
    for module in _modules_dir(ecds_dir).glob("*.wasm"):
        if module.name not in texts:
            module.unlink(missing_ok=True)


def ecds_counters(envoy: "Envoy", name: str) -> dict[str, int] | None:
    """The filter's ECDS counters, or None while the admin endpoint is busy
    (Envoy's main thread does not answer while V8 compiles a new module)."""
    prefix = f"extension_config_discovery.http_filter.{name}."
    try:
        r = shared_client().get(f"{envoy.admin_url}/stats",
                                params={"filter": "^" + re.escape(prefix)}, timeout=2)
    except httpx.HTTPError:
        return None
    out = {}
    for line in r.text.splitlines():
        key, _, value = line.partition(": ")
        if value.strip().isdigit():
            out[key.removeprefix(prefix)] = int(value)
    return out


def _counters(envoy: "Envoy", name: str, deadline: float) -> dict[str, int]:
    while (counters := ecds_counters(envoy, name)) is None:
        if time.monotonic() > deadline or not envoy.running:
            raise StartTimeout(f"Envoy's admin endpoint did not answer during the update of {name!r}",
                               log_tail=envoy.logs(tail=15))
    return counters


def _apply(envoy: "Envoy", path: Path, text: str, name: str, timeout: float) -> tuple[list[str], float, int]:
    """Rename ``text`` into place; wait for Envoy's verdict. Returns (outcomes, seconds, log mark).

    ``update_success`` rises once Envoy has handed the new filter to its
    workers, ``config_reload`` once every worker has it: "applied" waits for
    both, so the next request meets the new filter.
    """
    t0 = time.monotonic()
    before = _counters(envoy, name, t0 + timeout)
    mark = envoy.log_offset()
    _atomic_write(path, text)
    while True:
        now = _counters(envoy, name, t0 + timeout)
        changed = [k for k in OUTCOMES if now.get(k, 0) > before.get(k, 0)]
        reloaded = now.get("config_reload", 0) > before.get("config_reload", 0)
        if changed and (reloaded or changed != ["update_success"]):
            return changed, time.monotonic() - t0, mark
        if not envoy.running:
            raise LabError(f"Envoy {envoy.name!r} exited during the reload",
                           cause=envoy.logs(tail=15), fix="read Envoy's last log lines above")
        if time.monotonic() - t0 > timeout:
            raise StartTimeout(f"Envoy did not apply or refuse the update of {name!r} "
                               f"within {timeout:.0f} s", log_tail=envoy.logs(tail=15, since=mark))
        time.sleep(0.02)


def _restore(envoy: "Envoy", path: Path, previous: str, name: str) -> None:
    """Put the serving resource back. Envoy may re-apply it (it recorded the refused one
    as its latest): wait briefly for that, so a next reload does not count it as its own."""
    before = ecds_counters(envoy, name) or {}
    _atomic_write(path, previous)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        now = ecds_counters(envoy, name) or before
        if any(now.get(k, 0) > before.get(k, 0) for k in OUTCOMES):
            return
        time.sleep(0.05)


def _remote_fetches(envoy: "Envoy") -> float:
    stats = envoy.stats()
    total = 0.0
    for name in ("envoy_wasm_remote_load_fetch_successes", "envoy_wasm_remote_load_cache_hits"):
        try:
            total += stats.value(name)
        except LabError:
            pass
    return total


def reload_filter(envoy: "Envoy", new: WasmFilter, timeout: float = 30.0, via: str = "labkit") -> Reload:
    if via not in ("labkit", "envoy"):
        raise LabError(f"unknown via={via!r}", fix="use via='labkit' (default) or via='envoy'")
    ecds_dir = envoy.ecds_dir
    slots = {f.name: f for f in envoy.reloadable_filters()}
    if new.name not in slots:
        raise LabError(f"Envoy {envoy.name!r} has no reloadable filter named {new.name!r}",
                       fix="start it with WasmFilter(..., reloadable=True) and reload a filter "
                           f"with the same name (known: {', '.join(slots) or 'none'})")
    if not envoy.running:
        raise LabError(f"Envoy {envoy.name!r} is not running", fix="call envoy.start() first")
    path = ecds_dir / f"{new.name}.yaml"
    previous = path.read_text()
    text, sha = render_resource(ecds_dir, new, via)
    if text == previous:
        return Reload(new.name, "unchanged", 0.0, sha)

    remote_by_envoy = via == "envoy" and isinstance(new.module, RemoteModule)
    fetches_before = _remote_fetches(envoy) if remote_by_envoy else 0.0
    try:
        changed, seconds, mark = _apply(envoy, path, text, new.name, timeout)
    except StartTimeout:
        _atomic_write(path, previous)
        raise

    if "update_success" not in changed:
        # Put back what Envoy still serves, so a restart would serve it too.
        _restore(envoy, path, previous, new.name)
        _prune(ecds_dir)
        log = envoy.logs(since=mark)
        reason, fix, relevant = explain(log)
        m = re.search(r"Filesystem config update (?:rejected|failure): (.*)", log)
        reason = m.group(1).strip() if m else reason
        if (re.search(r"Plugin \S+ failed to load", log)
                and not re.search(r"wasm log|Wasm VM failed|Failed to (?:load|initialize) Wasm", log)):
            # Envoy remembers a plugin that failed to start and refuses the same
            # one again without running it: the plugin's own lines are not repeated.
            fix = ("Envoy refused this very filter before and does not start it again, so the "
                   "plugin's own `wasm log` lines are in the first refusal (envoy.logs() has "
                   "them): fix the module or configuration and reload again")
        raise ReloadRejected(
            f"Envoy refused the new {new.name!r} filter ({', '.join(changed)}): {reason}. "
            "The previous filter keeps serving.",
            path=str(path), cause=relevant,
            fix=fix or "fix the module or configuration and reload again")

    if remote_by_envoy:
        # Envoy counts a remote-code update as a success even when it never
        # fetches the code; the filter then silently does nothing. Check.
        deadline = time.monotonic() + 3
        while _remote_fetches(envoy) <= fetches_before and time.monotonic() < deadline:
            time.sleep(0.1)
        if _remote_fetches(envoy) <= fetches_before:
            _apply(envoy, path, previous, new.name, timeout)  # bring the previous filter back
            _prune(ecds_dir)
            try:
                fetch_remote(ecds_dir, new.module)  # type: ignore[arg-type]
                why = ("the bucket serves the right module, but Envoy only fetches remote code "
                       "while a listener warms (at start), not for an update of a running Envoy")
            except RemoteModuleError as e:
                why = f"{e.message}; and Envoy did not even try to fetch it"
            raise RemoteModuleError(
                f"Envoy counted the update of {new.name!r} as a success in {seconds:.2f} s, but never "
                f"fetched {new.module.url}: the filter would silently do nothing. The previous "  # type: ignore[union-attr]
                "filter was put back.",
                cause=why,
                fix="reload with via='labkit' (the default): labkit fetches the module, checks its "
                    "sha256 and hands Envoy a local file, as Istio's agent does")
    envoy._replace_filter(new)
    _prune(ecds_dir)
    return Reload(new.name, "applied", seconds, sha)
