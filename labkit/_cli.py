"""``labkit`` on the command line: doctor, ps, clean, run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._errors import LabError


def _doctor(args) -> int:
    from ._toolchain import doctor

    report = doctor()
    print(report)
    return 0 if report.ok else 1


def _ps(args) -> int:
    from ._processes import running_processes

    procs = running_processes()
    if not procs:
        print("no labkit processes are running")
    for p in procs:
        print(f"{p['name']:<20} pid {p['pid']:<8} {' '.join(p['command'])[:100]}")
    return 0


def _clean(args) -> int:
    from ._processes import clean

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
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except LabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
