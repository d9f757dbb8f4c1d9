"""Edit-to-verified time for a one-line Go change: restart loop vs reload loop.

    .venv/bin/python benchmarks/reload.py [--rounds 10]

Each round changes one line of Go (the value of a response header), rebuilds,
then makes Envoy serve the new module either by restarting it
(``envoy.restart(config=...)``) or by an ECDS reload, and stops the clock when a
request shows the new header. ``labkit.traffic`` sends requests meanwhile, to
count how many got an answer (the same helper notebook 06 uses). The two loops
alternate round by round, so both see the same machine; a configuration-only
reload (no rebuild) is measured too. Prints medians and ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("LABKIT_WORKSPACE", tempfile.mkdtemp(prefix="labkit-bench-"))

import labkit  # noqa: E402

MARK = '"some-value-here"'


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()

    ext = labkit.scaffold("bench-reload", example="add-header", overwrite=True)
    source = ext.read()
    assert MARK in source
    build = ext.build()
    restarted = labkit.Envoy(labkit.EnvoyConfig(labkit.WasmFilter(build)), name="bench-restart").start()
    reloaded = labkit.Envoy(labkit.EnvoyConfig(labkit.WasmFilter(build, reloadable=True)),
                            name="bench-reload").start()
    counter = iter(range(1, 10**6))

    def edit_and_build() -> tuple[str, labkit.Build]:
        value = f"round-{next(counter)}"
        ext.write("main.go", source.replace(MARK, f'"{value}"'))
        return value, ext.build()

    def verified(envoy: labkit.Envoy, value: str) -> None:
        labkit.curl(envoy).expect_header("my-new-header", value)

    answered: dict[str, list[float]] = {"restart": [], "reload": []}

    def restart_loop() -> float:
        t0 = time.monotonic()
        value, b = edit_and_build()
        with labkit.traffic(restarted) as during:
            restarted.restart(config=labkit.EnvoyConfig(labkit.WasmFilter(b)))
        verified(restarted, value)
        answered["restart"].append(1 - len(during.failed) / max(len(during), 1))
        return time.monotonic() - t0

    def reload_loop() -> float:
        t0 = time.monotonic()
        value, b = edit_and_build()
        with labkit.traffic(reloaded) as during:
            reloaded.reload(labkit.WasmFilter(b, reloadable=True))
        verified(reloaded, value)
        answered["reload"].append(1 - len(during.failed) / max(len(during), 1))
        return time.monotonic() - t0

    def config_reload() -> float:
        n = next(counter)
        t0 = time.monotonic()
        reloaded.reload(labkit.WasmFilter(reloaded.reloadable_filters()[0].module, reloadable=True,
                                          configuration=f"round={n}"))
        return time.monotonic() - t0

    import contextlib
    import io

    restart_s, reload_s, config_s = [], [], []
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            for _ in range(args.rounds):
                restart_s.append(restart_loop())
                reload_s.append(reload_loop())
                config_s.append(config_reload())
    finally:
        restarted.stop()
        reloaded.stop()

    base = statistics.median(restart_s)

    def row(label: str, xs: list[float]) -> str:
        med = statistics.median(xs)
        return f"{label:<44} {med:6.2f} s  (min {min(xs):.2f}, max {max(xs):.2f})  {med / base:5.2f}x"

    print(f"rounds: {args.rounds} each, interleaved; module {build.size / 1e6:.2f} MB")
    print(row("edit + build + restart + verified", restart_s))
    print(row("edit + build + ECDS reload + verified", reload_s))
    print(row("configuration-only ECDS reload (no build)", config_s))
    for loop, shares in answered.items():
        print(f"requests answered 200 during the {loop}: {100 * statistics.mean(shares):5.1f} % "
              "(labkit.traffic, one request every 50 ms)")


if __name__ == "__main__":
    main()
