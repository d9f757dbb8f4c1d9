"""The local Kubernetes control plane: cold build, binary sizes, warm start-to-ready.

    .venv/bin/python benchmarks/cluster.py [--rounds 5] [--cold]

Warm: the binaries are cached; each round starts etcd + kube-apiserver +
kube-controller-manager with fresh data, installs Istio's CRDs and stops when
they are established (`ControlPlane.start()` returns). Side by side, in the
same run, it times a bare Envoy start-to-ready, the lab's other unit of
waiting, and prints the ratio.

--cold also builds the binaries from scratch first, with an empty Go build
cache and module cache (everything is downloaded from the module proxy again),
into a temporary cache folder. It takes about 12 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LABKIT_WORKSPACE", tempfile.mkdtemp(prefix="labkit-bench-"))

import labkit  # noqa: E402


def cold_build() -> None:
    with tempfile.TemporaryDirectory(prefix="labkit-cold-") as tmp:
        env = {"GOCACHE": f"{tmp}/gocache", "GOMODCACHE": f"{tmp}/gomod"}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            t0 = time.monotonic()
            binaries = labkit.kube.build_control_plane(cache=Path(tmp) / "cache", progress=None)
            seconds = time.monotonic() - t0
            sizes = binaries.sizes()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            # the module cache is read-only by design; make it removable
            subprocess.run(["chmod", "-R", "u+w", tmp], check=False)
    print(f"cold build (empty Go caches, modules downloaded): {seconds / 60:.1f} min")
    for name, size in sizes.items():
        print(f"  {name:<24} {size / 1e6:6.1f} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cold", action="store_true", help="also time a build from empty caches")
    args = ap.parse_args()
    if args.cold:
        cold_build()

    binaries = labkit.kube.build_control_plane(progress=None)
    print(f"Kubernetes {binaries.kubernetes_version}, etcd {binaries.etcd_version}, "
          f"Istio CRDs {labkit.kube.ISTIO_VERSION}, built with Go {binaries.go_version}")
    envoy_config = labkit.EnvoyConfig()
    planes, envoys, parts = [], [], []
    for i in range(args.rounds):
        plane = labkit.kube.ControlPlane(f"bench-{i}")
        t0 = time.monotonic()
        plane.start()
        planes.append(time.monotonic() - t0)
        parts.append(dict(plane.timings))
        plane.purge()

        envoy = labkit.Envoy(envoy_config, name="bench-envoy")
        t0 = time.monotonic()
        envoy.start()
        envoys.append(time.monotonic() - t0)
        envoy.stop()

    med = statistics.median
    print(f"warm start-to-ready, median of {args.rounds} (min-max):")
    print(f"  control plane with Istio CRDs  {med(planes):5.2f} s ({min(planes):.2f}-{max(planes):.2f})"
          f"   etcd {med(p['etcd'] for p in parts):.2f} s, "
          f"kube-apiserver ready at {med(p['apiserver'] for p in parts):.2f} s")
    print(f"  Envoy (no filter)              {med(envoys):5.2f} s ({min(envoys):.2f}-{max(envoys):.2f})")
    print(f"  ratio control plane / Envoy    {med(planes) / med(envoys):5.2f}x")


if __name__ == "__main__":
    main()
