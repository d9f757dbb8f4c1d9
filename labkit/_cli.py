"""``labkit`` on the command line: doctor, ps, clean, run, cluster."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import Interrupted, LabError


def _doctor(args) -> int:
    from ._doctor import doctor

    report = doctor()
    print(report)
    return 0 if report.ok else 1


def _ps(args) -> int:
    from .processes import running_processes

    procs = running_processes()
    if not procs:
        print("no labkit processes are running")
    for p in procs:
        print(f"{p['name']:<20} pid {p['pid']:<8} {' '.join(p['command'])[:100]}")
    return 0


def _clean(args) -> int:
    from .processes import clean

    clean()
    return 0


def _run(args) -> int:
    from ._paths import repo_root
    from ._runbook import format_table, run_notebooks

    root = repo_root() or Path.cwd()
    notebooks = [Path(p) for p in args.notebooks] or sorted((root / "notebooks").glob("[0-9]*.ipynb"))
    params = dict(p.split("=", 1) for p in args.parameter)
    params = {k: {"true": True, "false": False}.get(v.lower(), v) for k, v in params.items()}
    results = run_notebooks(notebooks, Path(args.out), params)
    print(format_table(results))
    return 0 if all(r.status == "ok" for r in results) else 1


def _cluster(args) -> int:
    from .kube import ControlPlane, build_control_plane, running_control_plane

    if args.action == "build":
        binaries = build_control_plane()
        for name, size in binaries.sizes().items():
            print(f"{name:<24} {size / 1e6:6.1f} MB  {binaries.dir / name}")
        return 0
    if args.action == "up":
        running = running_control_plane(args.name)
        if running is not None and args.port in (None, running.port):
            print(f"control plane {args.name!r} is already running at {running.server}")
            print(f"  export KUBECONFIG={running.kubeconfig}")
            return 0
        plane = ControlPlane(args.name, port=args.port, detach=True).start()
        t = plane.timings
        print(f"control plane {args.name!r} ready at {plane.server} in {t['ready']:.1f} s "
              f"(etcd {t['etcd']:.1f} s, kube-apiserver {t['apiserver']:.1f} s)")
        print(f"kubeconfig: {plane.kubeconfig}")
        print(f"  export KUBECONFIG={plane.kubeconfig}")
        print("stop it with `labkit cluster down` (or `make cluster-down`)")
        return 0
    if args.action == "down":
        plane = ControlPlane(args.name)
        (plane.purge if args.purge else plane.stop)()
        print(f"control plane {args.name!r} stopped" + (" and its data deleted" if args.purge else ""))
        return 0
    plane = running_control_plane(args.name)
    if plane is None:
        print(f"control plane {args.name!r} is not running (start it with `labkit cluster up`)")
        return 1
    kube = plane.kube()
    print(f"control plane {args.name!r} at {plane.server}, Kubernetes {kube.version()}")
    print(f"kubeconfig: {plane.kubeconfig}")
    return 0


def _istio(args) -> int:
    from .istio import build_istio

    binaries = build_istio()
    for name, size in binaries.sizes().items():
        print(f"{name:<16} {size / 1e6:6.1f} MB  {binaries.dir / 'bin' / name}")
    print(f"Istio {binaries.release} from istio.io/istio@{binaries.source}, "
          f"built in {binaries.build_seconds / 60:.1f} min with Go {binaries.go_version}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labkit", description="Envoy Wasm Lab helper")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check the tools the lab needs").set_defaults(func=_doctor)
    sub.add_parser("ps", help="list the processes labkit started").set_defaults(func=_ps)
    sub.add_parser("clean", help="stop everything labkit started").set_defaults(func=_clean)
    run = sub.add_parser("run", help="execute notebooks headlessly with papermill")
    run.add_argument("notebooks", nargs="*", help="default: every numbered notebook")
    run.add_argument("--out", default="build/notebooks", help="where executed copies go")
    run.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                     help="papermill parameter, e.g. -p solutions=true")
    run.set_defaults(func=_run)
    cluster = sub.add_parser("cluster", help="the local Kubernetes control plane (etcd + kube-apiserver)")
    cluster.add_argument("action", choices=["build", "up", "down", "status"],
                         help="build: only build the binaries; up: start (detached); down: stop; "
                              "status: show where it runs")
    cluster.add_argument("--name", default="cluster", help="several control planes can run side by side")
    cluster.add_argument("--port", type=int, help="kube-apiserver's port (default: a free one)")
    cluster.add_argument("--purge", action="store_true", help="with down: delete its data and keys too")
    cluster.set_defaults(func=_cluster)
    istio = sub.add_parser("istio", help="Istio's istiod and pilot-agent, built from source")
    istio.add_argument("action", choices=["build"], help="build (once; cached per user)")
    istio.set_defaults(func=_istio)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except LabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:
        print(f"interrupted: {e}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
