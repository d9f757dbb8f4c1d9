"""Istio in the lab: build, apply → header, module update → new header, memory.

    .venv/bin/python benchmarks/istio.py [--rounds 5] [--cold]

Side by side in one run, interleaved round by round:

* **apply → header**: apply a WasmPlugin (url + sha256 of a published module) and
  stop the clock when a response through the gateway carries its header; the
  plugin is deleted (and the header gone) before the next round;
* **update → new header**: change the WasmPlugin to another build and stop when
  that build's header shows;
* **Envoy restart**: the same module in a plain labkit Envoy, restarted until the
  header shows: what a module change costs without a mesh.

Then the memory (RSS and PSS) of istiod, pilot-agent and the gateway's Envoy.
``--cold`` first builds istiod and pilot-agent into an empty cache (minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LABKIT_WORKSPACE", tempfile.mkdtemp(prefix="labkit-bench-"))

import psutil  # noqa: E402

import labkit  # noqa: E402
from labkit import istio  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cold", action="store_true", help="build Istio into an empty cache first")
    args = ap.parse_args()

    if args.cold:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.monotonic()
            cold = istio.build_istio(cache=Path(tmp) / "cache", progress=None)
            print(f"cold build (empty build cache): {(time.monotonic() - t0) / 60:.1f} min")
            sizes = cold.sizes()
    binaries = istio.build_istio(progress=None)
    sizes = binaries.sizes()
    print(f"Istio {binaries.release} ({binaries.source}), built in {binaries.build_seconds / 60:.1f} min "
          f"with Go {binaries.go_version}")
    for name, size in sizes.items():
        print(f"  {name:<16} {size / 1e6:6.1f} MB")

    ext = labkit.scaffold("bench-istio", example="config-json", overwrite=True)
    source = ext.read()
    anchor = "func (ctx *httpContext) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {"
    mesh = istio.Mesh("bench").start()
    envoy = None
    try:
        print(f"mesh up in {mesh.timings['ready']:.1f} s "
              + ", ".join(f"{k} {v:.1f} s" for k, v in mesh.timings.items() if k != "ready"))
        mesh.kube.apply(mesh.routing())
        mesh.wait_for_route()
        modules = []
        for n in (1, 2):  # publish each build before the next one replaces main.wasm
            ext.write("main.go", source.replace(
                anchor, anchor + f'\n\tproxywasm.AddHttpResponseHeader("x-build", "{n}")'))
            build = ext.build()
            modules.append(mesh.bucket.put(build))
        first = mesh.bucket.dir / f"{modules[0].sha256}.wasm"
        envoy = labkit.Envoy(labkit.EnvoyConfig(labkit.WasmFilter(first, name="bench")),
                             name="bench-istio-envoy").start()

        def plugin(name: str, i: int) -> dict:
            return istio.wasm_plugin(name, url=modules[i].url, sha256=modules[i].sha256)

        apply_s, update_s, restart_s = [], [], []
        quiet = contextlib.redirect_stdout(io.StringIO())  # the checks' ✔ lines
        quiet.__enter__()
        for n in range(args.rounds):
            name = f"bench-{n}"  # a new WasmPlugin each round: a fresh apply
            t0 = time.monotonic()
            mesh.kube.apply(plugin(name, 0))
            mesh.expect_header("x-build", "1", path="/status/200")
            apply_s.append(time.monotonic() - t0)

            t0 = time.monotonic()
            mesh.kube.apply(plugin(name, 1))
            mesh.expect_header("x-build", "2", path="/status/200")
            update_s.append(time.monotonic() - t0)

            mesh.kube.delete("WasmPlugin", name, namespace=istio.ISTIO_NAMESPACE)
            mesh.expect_no_header("x-build", path="/status/200")

            t0 = time.monotonic()
            envoy.restart()
            labkit.curl(envoy).expect_header("x-build", "1")
            restart_s.append(time.monotonic() - t0)
        quiet.__exit__(None, None, None)

        base = statistics.median(restart_s)

        def row(label: str, xs: list[float]) -> str:
            med = statistics.median(xs)
            return f"{label:<40} {med:6.2f} s  (min {min(xs):.2f}, max {max(xs):.2f})  {med / base:5.2f}x"

        print(f"\nrounds: {args.rounds}, interleaved; module {first.stat().st_size / 1e6:.2f} MB")
        print(row("plain Envoy restart → header", restart_s))
        print(row("WasmPlugin apply → header", apply_s))
        print(row("WasmPlugin update → new build's header", update_s))

        agent = psutil.Process(mesh.gateway.pid)
        proxy = next(p for p in agent.children(recursive=True) if "envoy" in p.name())
        print("\nmemory (RSS / PSS)")
        for label, p in (("istiod", psutil.Process(mesh.istiod.pid)), ("pilot-agent", agent),
                         ("gateway Envoy (2 modules loaded over time)", proxy),
                         ("plain Envoy with the same module", psutil.Process(envoy.pid))):
            info = p.memory_full_info()
            print(f"  {label:<44} {info.rss / 1e6:6.0f} MB / {info.pss / 1e6:6.0f} MB")
    finally:
        if envoy is not None:
            envoy.stop()
        mesh.cleanup()


if __name__ == "__main__":
    main()
