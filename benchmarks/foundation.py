"""Build and start-up figures for the lab's inner loop, measured side by side.

    .venv/bin/python benchmarks/foundation.py [--rounds 5]

Prints the median (and min/max) of: a cold Go build (empty build cache), a
warm rebuild after a one-line change, and Envoy start-to-ready when started
directly and through func-e, with the ratios between them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import labkit


def measure(fn, rounds: int) -> list[float]:
    return [fn() for _ in range(rounds)]


def row(label: str, xs: list[float], base: float | None = None) -> str:
    med = statistics.median(xs)
    ratio = f"{med / base:6.2f}x" if base else "   1.00x"
    return f"{label:<38} {med:7.2f} s  (min {min(xs):.2f}, max {max(xs):.2f})  {ratio}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    os.environ.setdefault("LABKIT_WORKSPACE", tempfile.mkdtemp(prefix="labkit-bench-"))

    ext = labkit.scaffold("bench", example="log-headers")
    source = ext.read()

    def cold() -> float:
        with tempfile.TemporaryDirectory() as cache:
            return ext.build(env={"GOCACHE": cache}).seconds

    counter = iter(range(10**6))

    def warm() -> float:
        ext.write("main.go", source.replace('"OnHttpRequestHeaders"', f'"OnHttpRequestHeaders {next(counter)}"'))
        return ext.build().seconds

    ext.build()  # fill the normal build cache once
    cold_s = measure(cold, max(2, args.rounds // 2))
    warm_s = measure(warm, args.rounds)
    build = ext.build()
    cfg = labkit.EnvoyConfig(labkit.WasmFilter(build))

    def start(runner: str) -> float:
        envoy = labkit.Envoy(cfg, name=f"bench-{runner}", runner=runner)
        t0 = time.monotonic()
        envoy.start(validate_first=False)
        seconds = time.monotonic() - t0
        envoy.stop()
        return seconds

    def validate() -> float:
        t0 = time.monotonic()
        labkit.validate(cfg)
        return time.monotonic() - t0

    direct = measure(lambda: start("envoy"), args.rounds)
    funce = measure(lambda: start("func-e"), args.rounds)
    val = measure(validate, args.rounds)

    print(f"module size: {build.size:,} bytes ({build.size / 1e6:.2f} MB); rounds: {args.rounds}")
    print(row("cold build (empty GOCACHE)", cold_s))
    print(row("warm rebuild (one-line change)", warm_s, statistics.median(cold_s)))
    print(row("envoy start-to-ready (direct)", direct))
    print(row("envoy start-to-ready (func-e)", funce, statistics.median(direct)))
    print(row("envoy --mode validate", val, statistics.median(direct)))


if __name__ == "__main__":
    main()
