"""How long an exercise check() takes, next to a bare Envoy start.

    .venv/bin/python benchmarks/exercises.py [--rounds 5]

Runs every exercise's check() on its reference solution (solutions mode,
warm Go build cache) and, in the same rounds, a plain Envoy start-to-ready
with a module of the same kind, and prints medians and the ratio: how much a
check adds on top of the Envoy start it cannot avoid.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import tempfile
import time

os.environ.setdefault("LABKIT_WORKSPACE", tempfile.mkdtemp(prefix="labkit-bench-"))

import labkit  # noqa: E402


def timed(fn) -> float:
    t0 = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()):
        fn()
    return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    exercises = [q for nb in ("03", "04", "05") for q in labkit.exercises.load(nb, solutions=True)]
    build = labkit.scaffold("bench-start", example="log-headers").build()
    cfg = labkit.EnvoyConfig(labkit.WasmFilter(build))

    def bare_start() -> None:
        labkit.Envoy(cfg, name="bench-bare").start().stop()

    for q in exercises:  # warm: SDK, build cache, solution projects
        timed(q.check)
    bare, checks = [], {q.id: [] for q in exercises}
    for _ in range(args.rounds):
        bare.append(timed(bare_start))
        for q in exercises:
            checks[q.id].append(timed(q.check))

    base = statistics.median(bare)
    print(f"rounds: {args.rounds}; medians (min-max); ratio = check / bare Envoy start-and-stop")
    print(f"{'bare Envoy start + stop':<34} {base:6.2f} s ({min(bare):.2f}-{max(bare):.2f})  1.00x")
    for q in exercises:
        xs = checks[q.id]
        med = statistics.median(xs)
        print(f"{q.id + ' ' + q.title[:26]:<34} {med:6.2f} s ({min(xs):.2f}-{max(xs):.2f})  {med / base:.2f}x")


if __name__ == "__main__":
    main()
