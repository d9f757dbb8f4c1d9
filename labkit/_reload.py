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

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from ._envoy_config import RemoteModule, WasmFilter, _Dumper, explain
from ._errors import ConfigError, LabError, StartTimeout
from ._extension import sha256_of
from ._http import shared_client

if TYPE_CHECKING:
    from ._envoy import Envoy

__all__ = ["Reload", "ReloadRejected", "write_resource", "reload_filter"]

OUTCOMES = ("update_success", "update_rejected", "update_failure", "config_fail")


class ReloadRejected(ConfigError):
    """Envoy refused a filter update; the previous filter keeps serving."""


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


def render_resource(ecds_dir: Path, f: WasmFilter) -> tuple[str, str | None]:
    """The resource file's text, and the module's sha256 (copying the module in)."""
    if isinstance(f.module, RemoteModule):
        local, sha = None, f.module.sha256
    else:
        source = f.module_path
        if not source.is_file():
            raise LabError(f"the module for filter {f.name!r} does not exist: {source}",
                           fix="build the extension (ext.build()) and pass the Build, not a stale path")
        sha = sha256_of(source)
        local = _modules_dir(ecds_dir) / f"{sha}.wasm"
        if not local.exists():
            tmp = local.with_suffix(".tmp")
            shutil.copyfile(source, tmp)
            os.replace(tmp, local)
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


def ecds_counters(envoy: "Envoy", name: str) -> dict[str, int]:
    prefix = f"extension_config_discovery.http_filter.{name}."
    r = shared_client().get(f"{envoy.admin_url}/stats", params={"filter": "^" + re.escape(prefix)},
                            timeout=5)
    out = {}
    for line in r.text.splitlines():
        key, _, value = line.partition(": ")
        if key.startswith(prefix) and value.strip().isdigit():
            out[key[len(prefix):]] = int(value)
    return out


def reload_filter(envoy: "Envoy", new: WasmFilter, timeout: float = 30.0) -> Reload:
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
    text, sha = render_resource(ecds_dir, new)
    if text == previous:
        return Reload(new.name, "unchanged", 0.0, sha)

    before = ecds_counters(envoy, new.name)
    mark = envoy.log_offset()
    t0 = time.monotonic()
    _atomic_write(path, text)
    while True:
        now = ecds_counters(envoy, new.name)
        changed = [k for k in OUTCOMES if now.get(k, 0) > before.get(k, 0)]
        if changed:
            break
        if not envoy.running:
            raise LabError(f"Envoy {envoy.name!r} exited during the reload",
                           cause=envoy.logs(tail=15), fix="read Envoy's last log lines above")
        if time.monotonic() - t0 > timeout:
            _atomic_write(path, previous)
            raise StartTimeout(f"Envoy did not apply or refuse the update of {new.name!r} "
                               f"within {timeout:.0f} s", log_tail=envoy.logs(tail=15, since=mark))
        time.sleep(0.02)
    seconds = time.monotonic() - t0

    if "update_success" not in changed:
        # Put back what Envoy still serves, so a restart would serve it too.
        _atomic_write(path, previous)
        _prune(ecds_dir)
        log = envoy.logs(since=mark)
        reason, fix, relevant = explain(log)
        m = re.search(r"Filesystem config update (?:rejected|failure): (.*)", log)
        reason = m.group(1).strip() if m else reason
        raise ReloadRejected(
            f"Envoy refused the new {new.name!r} filter ({', '.join(changed)}): {reason}. "
            "The previous filter keeps serving.",
            path=str(path), cause=relevant,
            fix=fix or "fix the module or configuration and reload again")
    envoy._replace_filter(new)
    _prune(ecds_dir)
    return Reload(new.name, "applied", seconds, sha)
