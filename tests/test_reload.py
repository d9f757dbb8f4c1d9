"""Hot reload: swap a running Envoy's Wasm filter through file-based ECDS.

Real Go builds, a real Envoy on 127.0.0.1, no restart between the reloads.
The load test runs a second process (tests/load_client.py) against Envoy while
the filter is swapped twenty times, and checks every single response.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

import labkit
from helpers import REPO, gone, refusing_plugin_source, unique
from labkit._files import sha256_of

pytestmark = [pytest.mark.envoy, pytest.mark.go]

LOAD_CLIENT = REPO / "tests" / "load_client.py"

PLUGIN_START_FAILS = refusing_plugin_source("labkit-reload-test: this plugin refuses to start")

V2_LOG_LINE = "config-headers v2 started"


# ------------------------------------------------------------------ builds
@pytest.fixture(scope="module")
def config_headers(workspace) -> labkit.Build:
    """examples/config-headers: one response header per `name=value` configuration line."""
    return labkit.scaffold("reload-config-headers", example="config-headers").build()


@pytest.fixture(scope="module")
def config_headers_v2(workspace, config_headers) -> labkit.Build:
    """The same filter with one extra log line in OnPluginStart: another module, same behaviour."""
    ext = labkit.scaffold("reload-config-headers-v2", example="config-headers")
    source = ext.read()
    anchor = "\treturn types.OnPluginStartStatusOK\n"
    assert source.count(anchor) == 1
    ext.write("main.go", source.replace(anchor, f'\tproxywasm.LogInfo("{V2_LOG_LINE}")\n{anchor}'))
    build = ext.build()
    assert build.sha256 != config_headers.sha256
    return build


@pytest.fixture(scope="module")
def config_json(workspace) -> labkit.Build:
    """examples/config-json: parses its configuration as JSON, strictly, in OnPluginStart."""
    return labkit.scaffold("reload-config-json", example="config-json").build()


@pytest.fixture(scope="module")
def plugin_start_fails(workspace) -> labkit.Build:
    ext = labkit.scaffold("reload-start-fails")
    ext.write("main.go", PLUGIN_START_FAILS)
    return ext.build()


# ----------------------------------------------------------------- helpers
def ecds_stats(envoy: labkit.Envoy, name: str) -> dict[str, int]:
    """Envoy's own ECDS counters for one filter (read straight from /stats)."""
    prefix = f"extension_config_discovery.http_filter.{name}."
    r = httpx.get(f"{envoy.admin_url}/stats", params={"filter": "^" + re.escape(prefix)}, timeout=60)
    r.raise_for_status()
    out = {}
    for line in r.text.splitlines():
        key, _, value = line.partition(": ")
        if key.startswith(prefix) and value.isdigit():
            out[key[len(prefix):]] = int(value)
    return out


def resource_file(envoy: labkit.Envoy, name: str) -> Path:
    return envoy.ecds_dir / f"{name}.yaml"


def module_copies(envoy: labkit.Envoy) -> set[str]:
    return {p.name for p in (envoy.ecds_dir / "modules").glob("*")}


def referenced_modules(envoy: labkit.Envoy) -> set[str]:
    """The module files the current ECDS resources point Envoy at."""
    names = set()
    for f in envoy.ecds_dir.glob("*.yaml"):
        for res in yaml.safe_load(f.read_text())["resources"]:
            code = res["typed_config"]["config"]["vm_config"]["code"]
            path = Path(code["local"]["filename"])
            assert path.parent == envoy.ecds_dir / "modules", path
            names.add(path.name)
    return names


def only_referenced_copies_remain(envoy: labkit.Envoy) -> None:
    assert module_copies(envoy) == referenced_modules(envoy)


def header(envoy: labkit.Envoy, name: str) -> list[str]:
    r = labkit.curl(envoy)
    assert r.status == 200, r.verbose()
    return r.headers.get_list(name)


def reloadable(module, name: str, configuration=None) -> labkit.WasmFilter:
    return labkit.WasmFilter(module, name=name, configuration=configuration, reloadable=True)


# ------------------------------------------------------- 1. configuration
def test_configuration_only_reload(config_headers, envoys):
    name = "hdrs"
    envoy = envoys(labkit.EnvoyConfig(reloadable(config_headers, name, "x-lab=one\n"))).start()
    assert header(envoy, "x-lab") == ["one"]
    pid = envoy.pid
    copy = envoy.ecds_dir / "modules" / f"{config_headers.sha256}.wasm"
    inode = copy.stat().st_ino
    before = ecds_stats(envoy, name)

    r = envoy.reload(reloadable(config_headers, name, "x-lab=two\n# a comment\nx-other=three\n"))

    assert isinstance(r, labkit.envoy.Reload)
    assert r.status == "applied"
    assert r.filter == name
    assert r.seconds > 0
    assert r.module_sha256 == config_headers.sha256
    assert "reloaded in" in str(r) and "without a restart" in str(r)
    # The very next request meets the new configuration.
    resp = labkit.curl(envoy)
    assert resp.headers.get_list("x-lab") == ["two"]
    assert resp.headers.get_list("x-other") == ["three"]
    # No restart, and Envoy itself counted exactly one successful update.
    assert envoy.pid == pid and envoy.running
    after = ecds_stats(envoy, name)
    assert after["update_success"] == before["update_success"] + 1
    assert after.get("update_rejected", 0) == before.get("update_rejected", 0)
    # Same module: the content-addressed copy is the very same file, untouched.
    assert module_copies(envoy) == {copy.name}
    assert copy.stat().st_ino == inode
    assert sha256_of(copy) == config_headers.sha256
    assert sha256_of(config_headers.path) == config_headers.sha256
    assert "x-lab=two" in resource_file(envoy, name).read_text()


# -------------------------------------------------------- 2. module swap
def test_module_swap_after_a_code_change(log_headers, add_header, envoys):
    name = "hello"
    old, new = log_headers[1], add_header[1]
    assert old.sha256 != new.sha256
    envoy = envoys(labkit.EnvoyConfig(reloadable(old, name))).start()
    assert header(envoy, "my-new-header") == []
    assert module_copies(envoy) == {f"{old.sha256}.wasm"}
    pid = envoy.pid

    mark = envoy.log_offset()
    r = envoy.reload(reloadable(new, name))

    assert r.status == "applied"
    assert r.module_sha256 == new.sha256
    assert r.seconds > 0
    assert header(envoy, "my-new-header") == ["some-value-here"]
    assert envoy.pid == pid
    envoy.expect_wasm_logs("OnHttpResponseHeaders", since=mark)
    # Envoy loads the content-addressed copy; the old one is pruned.
    copy = envoy.ecds_dir / "modules" / f"{new.sha256}.wasm"
    assert copy.is_file() and sha256_of(copy) == new.sha256
    assert module_copies(envoy) == {copy.name}
    only_referenced_copies_remain(envoy)
    # The applied filter is remembered: a restart serves it too.
    envoy.restart()
    assert header(envoy, "my-new-header") == ["some-value-here"]


# ------------------------------------------------ 3. rebuild in place
def test_rebuild_in_place_reloads_and_identical_is_unchanged(workspace, envoys):
    ext = labkit.scaffold(unique("inplace"), example="add-header")
    first = ext.build()
    name = "inplace"
    # The filter is given the project's main.wasm *path*, the same both times.
    envoy = envoys(labkit.EnvoyConfig(reloadable(ext.wasm, name))).start()
    assert header(envoy, "my-new-header") == ["some-value-here"]

    source = ext.read()
    assert source.count('"some-value-here"') == 1
    ext.write("main.go", source.replace('"some-value-here"', '"rebuilt-in-place"'))
    second = ext.build()
    assert second.path == first.path == ext.wasm
    assert second.sha256 != first.sha256

    r = envoy.reload(reloadable(ext.wasm, name))
    assert r.status == "applied"
    assert r.module_sha256 == second.sha256
    assert header(envoy, "my-new-header") == ["rebuilt-in-place"]
    assert module_copies(envoy) == {f"{second.sha256}.wasm"}

    # The identical filter again: nothing is written, Envoy is not asked.
    path = resource_file(envoy, name)
    text, mtime = path.read_text(), path.stat().st_mtime_ns
    before = ecds_stats(envoy, name)
    again = envoy.reload(reloadable(ext.wasm, name))
    assert again.status == "unchanged"
    assert again.seconds == 0.0
    assert again.module_sha256 == second.sha256
    assert "nothing changed" in str(again)
    assert path.read_text() == text and path.stat().st_mtime_ns == mtime
    assert ecds_stats(envoy, name) == before
    assert header(envoy, "my-new-header") == ["rebuilt-in-place"]


# ----------------------------------------------------------- 4. bad input
GOOD_JSON = {"headers": {"x-json": "ok"}}
FIXED_JSON = {"headers": {"x-json": "fixed"}}


def _garbage(tmp_path, builds):
    path = tmp_path / "garbage.wasm"
    path.write_bytes(b"this is not WebAssembly\n" * 64)
    return reloadable(path, "strict", GOOD_JSON)


def _start_fails(tmp_path, builds):
    return reloadable(builds["plugin_start_fails"], "strict", GOOD_JSON)


def _invalid_json(tmp_path, builds):
    return reloadable(builds["config_json"], "strict", '{"headers": {"x-json": "oops",}')


@pytest.mark.parametrize("make_bad, in_message, in_cause", [
    pytest.param(_garbage, "Unable to create Wasm plugin strict", "Failed to load Wasm code", id="not-wasm"),
    pytest.param(_start_fails, "Unable to create Wasm plugin strict",
                 "labkit-reload-test: this plugin refuses to start", id="plugin-start-fails"),
    pytest.param(_invalid_json, "Unable to create Wasm plugin strict", "invalid JSON configuration",
                 id="invalid-json-configuration"),
])
def test_rejected_reload_keeps_the_previous_filter(make_bad, in_message, in_cause, config_json,
                                                   plugin_start_fails, tmp_path, envoys):
    builds = {"config_json": config_json, "plugin_start_fails": plugin_start_fails}
    name = "strict"
    envoy = envoys(labkit.EnvoyConfig(reloadable(config_json, name, GOOD_JSON))).start()
    assert header(envoy, "x-json") == ["ok"]
    path = resource_file(envoy, name)
    serving = path.read_text()
    pid = envoy.pid
    bad = make_bad(tmp_path, builds)

    with pytest.raises(labkit.ReloadRejected) as info:
        envoy.reload(bad)
    err = info.value
    assert isinstance(err, labkit.ConfigError)
    assert in_message in err.message, err.message  # Envoy's own reason
    assert "previous filter keeps serving" in err.message
    assert in_cause in err.cause, err.cause
    assert err.fix
    assert err.path == str(path)

    # The old filter still answers, in the same Envoy.
    assert envoy.running and envoy.pid == pid
    assert header(envoy, "x-json") == ["ok"]
    # What is on disk is what Envoy serves; no stray module copies.
    assert path.read_text() == serving
    only_referenced_copies_remain(envoy)
    assert module_copies(envoy) == {f"{config_json.sha256}.wasm"}
    # A restart starts from the file on disk: still the previous filter.
    envoy.restart()
    assert header(envoy, "x-json") == ["ok"]

    # Refused again, then a good reload straight after: it is applied, and the
    # confirmation is not fooled by the restore of the refused one.
    with pytest.raises(labkit.ReloadRejected):
        envoy.reload(bad)
    fixed = envoy.reload(reloadable(config_json, name, FIXED_JSON))
    assert fixed.status == "applied"
    assert header(envoy, "x-json") == ["fixed"]
    assert '"fixed"' in path.read_text()
    only_referenced_copies_remain(envoy)


def test_missing_module_is_refused_before_envoy_is_asked(config_headers, tmp_path, envoys):
    name = "hdrs"
    envoy = envoys(labkit.EnvoyConfig(reloadable(config_headers, name, "x-lab=one\n"))).start()
    gone_module = tmp_path / "deleted.wasm"
    gone_module.write_bytes(config_headers.path.read_bytes())
    gone_module.unlink()
    path = resource_file(envoy, name)
    text, mtime = path.read_text(), path.stat().st_mtime_ns
    before = ecds_stats(envoy, name)

    with pytest.raises(labkit.LabError) as info:
        envoy.reload(reloadable(gone_module, name, "x-lab=two\n"))
    err = info.value
    assert not isinstance(err, labkit.ReloadRejected)
    assert "does not exist" in err.message and str(gone_module) in err.message
    assert "build" in err.fix
    # Envoy was not touched: same file, same counters, same behaviour.
    assert path.read_text() == text and path.stat().st_mtime_ns == mtime
    assert ecds_stats(envoy, name) == before
    assert header(envoy, "x-lab") == ["one"]
    assert module_copies(envoy) == {f"{config_headers.sha256}.wasm"}


def test_reload_of_a_filter_that_is_not_reloadable(config_headers, envoys):
    fixed_filter = labkit.WasmFilter(config_headers, name="fixed", configuration="x-lab=one\n")
    envoy = envoys(labkit.EnvoyConfig(fixed_filter)).start()
    assert envoy.reloadable_filters() == []
    with pytest.raises(labkit.LabError, match="no reloadable filter named 'fixed'") as info:
        envoy.reload(reloadable(config_headers, "fixed", "x-lab=two\n"))
    assert "reloadable=True" in info.value.fix
    assert header(envoy, "x-lab") == ["one"]


def test_reload_of_an_unknown_name(config_headers, envoys):
    envoy = envoys(labkit.EnvoyConfig(reloadable(config_headers, "hdrs", "x-lab=one\n"))).start()
    with pytest.raises(labkit.LabError, match="no reloadable filter named 'other'") as info:
        envoy.reload(reloadable(config_headers, "other", "x-lab=two\n"))
    assert "hdrs" in info.value.fix  # the filters it does have are named
    assert header(envoy, "x-lab") == ["one"]


def test_reload_when_envoy_is_not_running(config_headers, envoys):
    envoy = envoys(labkit.EnvoyConfig(reloadable(config_headers, "hdrs", "x-lab=one\n")))
    with pytest.raises(labkit.errors.NotRunning, match="has not been started") as info:
        envoy.reload(reloadable(config_headers, "hdrs", "x-lab=two\n"))  # never started
    assert "start()" in info.value.fix
    envoy.start()
    pid = envoy.pid
    envoy.stop()
    assert gone(pid)
    with pytest.raises(labkit.errors.NotRunning, match="was stopped"):
        envoy.reload(reloadable(config_headers, "hdrs", "x-lab=two\n"))
    assert "x-lab=one" in resource_file(envoy, "hdrs").read_text()


# ------------------------------------------------- 5. reload under load
RELOADS = 20
MODULE_SWAPS = {3, 6, 9, 12, 15, 18}  # the other 14 reloads change only the configuration


def _records(path: Path) -> list[dict]:
    lines = path.read_text().splitlines(keepends=True)
    return [json.loads(line) for line in lines if line.endswith("\n")]  # skip a half-written line


class _Tail:
    """Follows the load client's JSON-lines file as it grows."""

    def __init__(self, path: Path):
        self.path, self.offset, self.partial = path, 0, b""

    def new_records(self) -> list[dict]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        self.offset += len(chunk)
        *lines, self.partial = (self.partial + chunk).split(b"\n")
        return [json.loads(line) for line in lines]

    def wait_for(self, client: subprocess.Popen, value: str, bound: float = 20.0) -> None:
        """Wait (bounded) until the client has recorded a response carrying ``value``."""
        deadline = time.monotonic() + bound
        while not any(r["value"] == value for r in self.new_records()):
            assert client.poll() is None, f"the load client exited early: {client.stderr.read()}"
            assert time.monotonic() < deadline, \
                f"the load client never recorded generation={value} within {bound:.0f} s"
            time.sleep(0.02)


def test_reloads_under_steady_load(config_headers, config_headers_v2, tmp_path, envoys):
    name = "gen"
    modules = [config_headers, config_headers_v2]
    envoy = envoys(labkit.EnvoyConfig(reloadable(config_headers, name, "generation=0\n"))).start()
    assert header(envoy, "generation") == ["0"]

    out, stop = tmp_path / "load.jsonl", tmp_path / "stop"
    client = subprocess.Popen(
        [sys.executable, str(LOAD_CLIENT), "--url", envoy.url + "/", "--out", str(out),
         "--header", "generation", "--duration", "240", "--stop-file", str(stop)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    confirmed: dict[int, float] = {}  # generation -> monotonic time reload() returned
    started: dict[int, float] = {}
    reloads: list[labkit.envoy.Reload] = []
    try:
        tail = _Tail(out)
        tail.wait_for(client, "0")
        module = 0
        for n in range(1, RELOADS + 1):
            if n in MODULE_SWAPS:
                module = 1 - module
            started[n] = time.monotonic()
            r = envoy.reload(reloadable(modules[module], name, f"generation={n}\n"))
            confirmed[n] = time.monotonic()
            assert r.status == "applied"
            assert r.module_sha256 == modules[module].sha256
            reloads.append(r)
            # Let the client meet generation n before the next reload, so every
            # generation is seen under load (and the run cannot outpace it).
            tail.wait_for(client, str(n))
    finally:
        stop.touch()
        try:
            client.wait(timeout=60)
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
    assert client.returncode == 0, client.stderr.read()
    assert envoy.running

    records = _records(out)
    failures = [r for r in records if r["error"] or r["status"] != 200]
    latencies = sorted(r["done"] - r["sent"] for r in records)
    swap_seconds = [r.seconds for n, r in enumerate(reloads, 1) if n in MODULE_SWAPS]
    config_seconds = [r.seconds for n, r in enumerate(reloads, 1) if n not in MODULE_SWAPS]
    # How close the data came to breaking the property: for each reload, the
    # last request that still met an older generation, relative to the
    # confirmation (negative: sent before reload() returned).
    margins = []
    for n, t in confirmed.items():
        older = [r["sent"] for r in records if r["value"] and r["value"].isdigit() and int(r["value"]) < n]
        if older:
            margins.append((max(older) - t) * 1000)
    print(f"\nload: {len(records)} requests, {len(failures)} failures, "
          f"max latency {latencies[-1] * 1000:.0f} ms, p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms; "
          f"reload seconds: configuration-only max {max(config_seconds):.3f}, "
          f"module swaps {', '.join(f'{s:.2f}' for s in swap_seconds)}; "
          f"last old-generation request sent {max(margins):+.1f} ms from its reload's confirmation "
          f"(closest of {len(margins)})")

    assert failures == [], f"{len(failures)} failed responses, first: {failures[:3]}"
    assert all(r["value"] is not None and r["value"].isdigit() for r in records), \
        [r for r in records if not (r["value"] or "").isdigit()][:3]
    # Load really ran across every module swap.
    for n in MODULE_SWAPS:
        during = [r for r in records if started[n] <= r["sent"] <= confirmed[n]]
        assert during, f"no request was sent while module swap {n} was under way"
    # The acceptance property: a response to a request SENT after reload n was
    # confirmed carries generation n or later.
    stale = []
    for rec in records:
        newest = max((n for n, t in confirmed.items() if t < rec["sent"]), default=0)
        if int(rec["value"]) < newest:
            stale.append({**rec, "confirmed_generation": newest,
                          "sent_after_confirm_ms": round((rec["sent"] - confirmed[newest]) * 1000, 3)})
    assert stale == [], f"{len(stale)} responses older than a confirmed reload: {stale[:5]}"
    # And the generations never go backwards (one client, one connection, in order).
    values = [int(r["value"]) for r in sorted(records, key=lambda r: r["sent"])]
    backwards = [(a, b) for a, b in zip(values, values[1:]) if b < a]
    assert backwards == []
    assert set(values) == set(range(RELOADS + 1))
    # The second module really ran: its extra log line is there.
    assert any(V2_LOG_LINE in line.message for line in envoy.wasm_logs())

