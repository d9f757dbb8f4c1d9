"""Build the local control plane's binaries from pinned sources, once.

``k8s.io/kubernetes`` cannot be ``go install``-ed: its go.mod points every
staging module (``k8s.io/api``, ``k8s.io/client-go``...) at ``v0.0.0`` plus a
``replace`` to a folder inside its own repository, and replaces only count in
the main module. So labkit writes a tiny build module that requires
``k8s.io/kubernetes vX.Y.Z`` and replaces each staging module with its
published twin ``v0.Y.Z``, then builds:

* ``kube-apiserver`` and ``kube-controller-manager`` (only its namespace,
  garbage-collector and service-account controllers run: enough for
  namespaces to be deleted and to get their ``default`` ServiceAccount);
* ``etcd`` from ``go.etcd.io/etcd/server/v3``, at the version Kubernetes
  itself pins in its go.mod.

Everything comes from the Go module proxy. The binaries land in the per-user
cache, ``<cache>/kubernetes-<version>/bin``, with a ``build.json`` stamp; the
build runs again only when a pinned version changes. The first build takes
several minutes (about 13 on 2 cores, downloads included).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .._cache import CacheEntry
from ..errors import BuildError, Interrupted
from ..toolchain import find_go

__all__ = ["KUBERNETES_VERSION", "ETCD_VERSION", "ControlPlaneBinaries", "build_control_plane",
           "cached_control_plane"]

KUBERNETES_VERSION = "v1.37.2"
# The version k8s.io/kubernetes v1.37.2's go.mod requires for go.etcd.io/etcd/server/v3.
ETCD_VERSION = "v3.7.0"

_COMMANDS = {
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
    "etcd": "go.etcd.io/etcd/server/v3",
}


@dataclass(frozen=True)
class ControlPlaneBinaries:
    """Where the built binaries are, and what they were built from."""

    dir: Path
    kubernetes_version: str
    etcd_version: str
    go_version: str
    build_seconds: float

    @property
    def kube_apiserver(self) -> Path:
        return self.dir / "kube-apiserver"

    @property
    def kube_controller_manager(self) -> Path:
        return self.dir / "kube-controller-manager"

    @property
    def etcd(self) -> Path:
        return self.dir / "etcd"

    def sizes(self) -> dict[str, int]:
        return {name: (self.dir / name).stat().st_size for name in _COMMANDS}


def _entry(kubernetes_version: str, etcd_version: str, cache: Path | None = None) -> CacheEntry:
    return CacheEntry(f"kubernetes-{kubernetes_version}",
                      {"kubernetes": kubernetes_version, "etcd": etcd_version},
                      files=[f"bin/{name}" for name in _COMMANDS], root=cache)


def build_control_plane(
    kubernetes_version: str = KUBERNETES_VERSION,
    etcd_version: str = ETCD_VERSION,
    *,
    cache: Path | None = None,
    progress: Callable[[str], None] | None = print,
) -> ControlPlaneBinaries:
    """Return the control plane's binaries, building them if the cache lacks them.

    Raises :class:`BuildError` with the last lines of Go's output when the build fails.
    """
    entry = _entry(kubernetes_version, etcd_version, cache)
    say = progress or (lambda _msg: None)
    with entry.lock():
        if (binaries := _binaries(entry)) is not None:
            return binaries
        go = find_go()
        go_path = go.require()
        say(f"building kube-apiserver {kubernetes_version}, kube-controller-manager and etcd "
            f"{etcd_version} from the Go module proxy (once; several minutes on a laptop)...")
        t0 = time.monotonic()
        root = entry.dir
        src = root / "src"
        src.mkdir(parents=True, exist_ok=True)
        log_path = root / "build.log"
        try:
            _build(go_path, src, root / "bin", log_path, kubernetes_version, etcd_version, say)
        except KeyboardInterrupt:
            raise Interrupted("stopped the control plane's build; nothing was cached, "
                              "`labkit cluster build` starts it again") from None
        finally:
            # A private build cache, deleted afterwards: Kubernetes leaves several GB
            # there that nothing else reuses (the binaries themselves are kept).
            shutil.rmtree(root / "go-build-cache", ignore_errors=True)
        seconds = time.monotonic() - t0
        entry.commit(go=go.version_str, build_seconds=round(seconds, 1))
        say(f"  done in {seconds / 60:.1f} min: {root / 'bin'}")
        return _binaries(entry)


def _build(go: str, src: Path, bin_dir: Path, log_path: Path, kubernetes_version: str,
           etcd_version: str, say: Callable[[str], None]) -> None:
    env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0",
           "GOCACHE": str(src.parent / "go-build-cache")}
    with open(log_path, "w") as log:
        def run(*args: str, step: str) -> str:
            log.write(f"$ go {' '.join(args)}\n")
            log.flush()
            out = subprocess.run([go, *args], cwd=src, env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            log.write(out.stdout)
            log.flush()
            if out.returncode != 0:
                raise _build_error(step, kubernetes_version, out.stdout, log_path)
            return out.stdout

        (src / "go.mod").write_text("module labkit.local/controlplane\n\ngo 1.24\n")
        info = json.loads(run("mod", "download", "-json", f"k8s.io/kubernetes@{kubernetes_version}",
                              step="download k8s.io/kubernetes"))
        staging = _staging_modules(Path(info["GoMod"]).read_text())
        (src / "go.mod").write_text(_build_module(kubernetes_version, etcd_version, staging))
        (src / "tools.go").write_text(_TOOLS_GO)
        say("  resolving modules...")
        run("mod", "tidy", step="resolve modules (go mod tidy)")
        # One `go build` for all three: shared packages compile once and links overlap.
        bin_dir.mkdir(exist_ok=True)
        say("  go build kube-apiserver kube-controller-manager etcd...")
        run("build", "-trimpath", f"-ldflags=-s -w{_version_ldflags(kubernetes_version)}",
            "-o", f"{bin_dir}/", *_COMMANDS.values(), step="go build")
        os.replace(bin_dir / "server", bin_dir / "etcd")  # go names it after go.etcd.io/etcd/server/v3


def cached_control_plane(kubernetes_version: str = KUBERNETES_VERSION,
                         etcd_version: str = ETCD_VERSION) -> ControlPlaneBinaries | None:
    """The binaries if they are built already (never builds)."""
    return _binaries(_entry(kubernetes_version, etcd_version))


def _binaries(entry: CacheEntry) -> ControlPlaneBinaries | None:
    stamp = entry.stamp()
    if stamp is None:
        return None
    binaries = ControlPlaneBinaries(entry.dir / "bin", stamp["kubernetes"], stamp["etcd"],
                                    stamp.get("go", "?"), stamp.get("build_seconds", 0.0))
    if not all(os.access(binaries.dir / n, os.X_OK) for n in _COMMANDS):
        return None
    return binaries


def _staging_modules(kubernetes_go_mod: str) -> list[str]:
    """The modules k8s.io/kubernetes replaces with folders of its own repository."""
    return sorted(set(re.findall(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/", kubernetes_go_mod,
                                 flags=re.M)))


def _build_module(kubernetes_version: str, etcd_version: str, staging: list[str]) -> str:
    minor = "v0." + kubernetes_version.removeprefix("v").split(".", 1)[1]  # v1.37.2 -> v0.37.2
    replaces = "\n".join(f"\t{m} => {m} {minor}" for m in staging)
    return (
        "// Written by labkit: builds the local control plane. Do not edit.\n"
        "module labkit.local/controlplane\n\n"
        "go 1.24\n\n"
        "require (\n"
        f"\tk8s.io/kubernetes {kubernetes_version}\n"
        f"\tgo.etcd.io/etcd/server/v3 {etcd_version}\n"
        ")\n\n"
        f"replace (\n{replaces}\n)\n"
    )


_TOOLS_GO = """//go:build tools

// Keeps the commands labkit builds in this module's dependency graph.
package controlplane

import (
\t_ "go.etcd.io/etcd/server/v3"
\t_ "k8s.io/kubernetes/cmd/kube-apiserver"
\t_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
"""


def _version_ldflags(kubernetes_version: str) -> str:
    # Without these the binaries report v0.0.0-master, which clients warn about.
    major, minor = kubernetes_version.removeprefix("v").split(".")[:2]
    pkg = "k8s.io/component-base/version"
    return (f" -X {pkg}.gitVersion={kubernetes_version} -X {pkg}.gitMajor={major}"
            f" -X {pkg}.gitMinor={minor} -X {pkg}.gitTreeState=clean")


def _build_error(step: str, version: str, output: str, log_path: Path) -> BuildError:
    tail = "\n".join(output.strip().splitlines()[-15:])
    unreachable = any(s in output for s in ("dial tcp", "no such host", "i/o timeout",
                                           "connection refused", "proxyconnect"))
    unknown = re.search(r"(unknown revision|invalid version|not found|not available|40[34] \w+|410 Gone)", output)
    if unreachable:
        fix = "the Go module proxy could not be reached: check the network (and GOPROXY), then retry"
    elif unknown:
        fix = (f"Kubernetes {version} (or a module it needs) is not on the module proxy: "
               f"use a published release such as {KUBERNETES_VERSION}")
    else:
        fix = f"read the Go output above (full log: {log_path}); `labkit cluster build` retries"
    return BuildError(f"building the local control plane failed at: {step}", output=tail, fix=fix)
