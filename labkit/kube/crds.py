"""Istio's CustomResourceDefinitions, from a pinned ``istio.io/api`` release.

The ``istio.io/api`` Go module ships every Istio CRD in one file,
``kubernetes/customresourcedefinitions.gen.yaml`` (EnvoyFilter, WasmPlugin,
TrafficExtension, VirtualService...). labkit fetches it through the Go module
proxy, like the rest of the lab, and keeps a copy in the cache.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import subprocess
import tempfile
from pathlib import Path

import yaml

from .._files import atomic_copy
from .._paths import cache_dir
from ..errors import ClusterError
from ..toolchain import find_go

__all__ = ["ISTIO_VERSION", "REQUIRED_KINDS", "istio_crds"]

ISTIO_VERSION = "1.32.0"
_FILE = "kubernetes/customresourcedefinitions.gen.yaml"
# The kinds the lab deploys; a CRD file without them is not usable.
REQUIRED_KINDS = ("EnvoyFilter", "WasmPlugin")


def istio_crds(version: str = ISTIO_VERSION, *, cache: Path | None = None) -> Path:
    """Path of Istio ``version``'s CRD file, fetched once."""
    target = (cache or cache_dir()) / f"istio-{version}" / "crds.yaml"
    if not target.is_file():
        go = find_go().require()
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "go.mod").write_text("module labkit.local/crds\n\ngo 1.24\n")
            out = subprocess.run([go, "mod", "download", "-json", f"istio.io/api@v{version}"],
                                 cwd=tmp, capture_output=True, text=True,
                                 env={**os.environ, "GOFLAGS": "-mod=mod"})
        try:
            info = json.loads(out.stdout)
        except ValueError:
            info = {}
        if out.returncode != 0 or "Dir" not in info:
            raise ClusterError(
                f"could not fetch Istio {version}'s CRDs (Go module istio.io/api@v{version})",
                cause=(info.get("Error") or out.stderr or out.stdout).strip()[-1500:],
                fix=f"use a published Istio release (labkit pins {ISTIO_VERSION}) and check that "
                    "the Go module proxy is reachable")
        source = Path(info["Dir"]) / _FILE
        if not source.is_file():
            raise ClusterError(f"istio.io/api@v{version} has no {_FILE}",
                               fix=f"use Istio {ISTIO_VERSION}, which labkit is tested with")
        atomic_copy(source, target)
    return target


def crd_documents(path: Path) -> list[dict]:
    """The CRDs in ``path``; raises ClusterError if the lab's kinds are missing."""
    try:
        docs = copy.deepcopy(_parse(path, path.stat().st_mtime_ns))
    except (OSError, yaml.YAMLError) as e:
        raise ClusterError(f"cannot read the CRD file {path}", cause=str(e),
                           fix="delete it; labkit fetches it again") from None
    crds = [d for d in docs if d and d.get("kind") == "CustomResourceDefinition"]
    kinds = {d["spec"]["names"]["kind"] for d in crds}
    missing = [k for k in REQUIRED_KINDS if k not in kinds]
    if missing:
        raise ClusterError(
            f"the CRD file {path} lacks {', '.join(missing)}",
            cause=f"it defines: {', '.join(sorted(kinds)) or 'nothing'}",
            fix="delete the file so labkit fetches it again, or pin an Istio release that has them")
    return crds


@functools.lru_cache(maxsize=4)
def _parse(path: Path, mtime_ns: int) -> list:
    # Parsed once per file version: every ControlPlane.start() needs it. libyaml's
    # loader when present: the file is 1 MB and the pure-Python one takes seconds.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return list(yaml.load_all(path.read_text(), Loader=loader))
