"""Each example is main.go + envoy.yaml + main_test.go; check all three for real."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import labkit
from labkit._wait import wait_for
from labkit.errors import WaitTimeout

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "main.go").is_file())


def test_examples_are_complete():
    assert NAMES, "no examples found"
    for name in NAMES:
        for part in ("main.go", "envoy.yaml", "main_test.go"):
            assert (EXAMPLES / name / part).is_file(), f"examples/{name}/{part} is missing"


@pytest.mark.go
def test_go_unit_tests_pass():
    """`go test ./...` runs every example against the SDK's host emulator."""
    go = labkit.toolchain.find_go().require()
    out = subprocess.run([go, "test", "./..."], cwd=EXAMPLES, capture_output=True, text=True,
                         env={**os.environ, "GOFLAGS": "-mod=mod"})
    assert out.returncode == 0, out.stdout + out.stderr
    for name in NAMES:
        assert re.search(rf"^ok\s+\S+/{re.escape(name)}\s", out.stdout, re.M), out.stdout


@dataclass
class Expect:
    """What one request to an example's Envoy must show."""

    headers: dict[str, str] = field(default_factory=dict)           # sent with the request
    method: str = "GET"
    path: str = "/"
    data: str | None = None                                         # the request body
    body: str = "Hello world"                                       # in the response body
    response_headers: dict[str, str] = field(default_factory=dict)  # must come back
    absent_headers: list[str] = field(default_factory=list)         # must not come back
    logs: list[str] = field(default_factory=list)                   # substrings of wasm log lines
    # (name, labels, value) after the request; histograms count once Envoy flushed stats
    metrics: list[tuple[str, dict[str, str], float]] = field(default_factory=list)
    at_least: list[tuple[str, float]] = field(default_factory=list)  # metric names and a minimum
    upstream: bool = False  # its envoy.yaml proxies to httpbin on 127.0.0.1:8000
    from_start: bool = False  # look for the logs from Envoy's start (lines of OnVMStart...)


LOGS_EACH_PHASE = ["OnHttpRequestHeaders", "OnHttpResponseHeaders", "finished"]
EXPECT = {
    "log-headers": Expect(logs=LOGS_EACH_PHASE),
    "add-header": Expect(response_headers={"my-new-header": "some-value-here"}, logs=LOGS_EACH_PHASE),
    "echo-user-agent": Expect(headers={"user-agent": "lab-test/1.0"},
                              response_headers={"x-seen-user-agent": "lab-test/1.0"}),
    "config-lines": Expect(response_headers={"x-lab": "config"}, absent_headers=["content-type"]),
    "config-json": Expect(response_headers={"x-team": "wasm-lab", "x-stage": "exercise"}),
    "config-headers": Expect(response_headers={"header_1": "somevalue", "header_2": "secondvalue"},
                             logs=[*LOGS_EACH_PHASE, "header set: header_1=somevalue",
                                   "header set: header_2=secondvalue"]),
    "config-strict": Expect(response_headers={"x-build": "2", "x-version": "1"}),
    "metrics-gauge": Expect(headers={"x-debug": "1"},
                            metrics=[("debug_requests", {}, 1), ("inflight_requests", {}, 0)]),
    "metrics-tags": Expect(metrics=[("lab_requests", {"method": "GET"}, 1)]),
    "json-body": Expect(upstream=True, method="POST", path="/anything", body='"ada@example.com"',
                        headers={"content-type": "application/json"},
                        data='{"name": "ada", "email": "ada@example.com"}',
                        # one message over three lines, kept whole
                        logs=["json-body configuration:\n  required: name, email\n  fields: 2"],
                        from_start=True),
    "body-rewrite": Expect(upstream=True, method="POST", path="/anything", data="hello world",
                           headers={"content-type": "text/plain"}, body='"data": "hello WASM"'),
    "tcp-count": Expect(upstream=True, path="/status/200", body="", logs=["opened", "bytes up"],
                        at_least=[("tcp_count_bytes_up", 50), ("tcp_count_bytes_down", 50)]),
    "tick-service": Expect(logs=["ticking every 100 ms", "tick 1", "tick 3"], from_start=True,
                           at_least=[("tick_service_ticks", 3)]),
    "dispatch-call": Expect(upstream=True, response_headers={"x-auth-status": "200"},
                            logs=["auth answered 200"]),
    "vm-config": Expect(response_headers={"x-vm-config": "shared by the VM",
                                          "x-plugin-config": "this plugin's"},
                        logs=['VM configuration: "shared by the VM"'], from_start=True),
    "metrics": Expect(headers={"hello": "world"}, logs=["hello_header_counter incremented"],
                      metrics=[("hello_header_counter", {}, 1), ("hello_header", {"value": "world"}, 1),
                               ("active_requests", {}, 0), ("request_header_count_count", {}, 1)]),
}


def test_every_example_has_expectations():
    assert sorted(EXPECT) == NAMES, "add the new example to EXPECT in this file"


def _metric_values(envoy: labkit.Envoy, expect: Expect) -> list[tuple[str, dict[str, str], float]]:
    stats = envoy.stats()
    return [(name, labels, stats.value(name, **labels)) for name, labels, _ in expect.metrics]


@pytest.mark.go
@pytest.mark.envoy
@pytest.mark.parametrize("name", NAMES)
def test_example_runs_in_envoy_with_its_own_config(name, tmp_path):
    """Build the example, then run its envoy.yaml unchanged except for the ports."""
    expect = EXPECT.get(name, Expect())
    ext = labkit.scaffold(f"example-{name}", example=name)
    build = ext.build()
    shutil.copy(build.path, tmp_path / "main.wasm")
    port, admin = labkit.free_port(), labkit.free_port()
    text = (EXAMPLES / name / "envoy.yaml").read_text()
    text = text.replace("port_value: 10000", f"port_value: {port}").replace("port_value: 9901", f"port_value: {admin}")
    httpbin = labkit.Httpbin(f"example-{name}-httpbin").start() if expect.upstream else None
    if httpbin:
        assert "port_value: 8000" in text
        text = text.replace("port_value: 8000", f"port_value: {httpbin.port}")
    (tmp_path / "envoy.yaml").write_text(text)

    envoy = labkit.Envoy(tmp_path / "envoy.yaml", name=f"example-{name}")
    with envoy, (httpbin or contextlib.nullcontext()):
        assert envoy.port == port and envoy.admin_port == admin
        mark = 0 if expect.from_start else envoy.log_offset()
        r = labkit.curl(envoy, expect.path, method=expect.method, headers=expect.headers,
                        body=expect.data).expect_status(200).expect_body(expect.body)
        for header, value in expect.response_headers.items():
            r.expect_header(header, value)
        for header in expect.absent_headers:
            r.expect_no_header(header)
        if expect.logs:
            # Envoy logs stream-done just after answering: expect_wasm_logs waits a little.
            envoy.expect_wasm_logs(*expect.logs, since=mark)
        # Stream-done and the stats flush (histograms) come a moment after the response.
        want = [(n, labels, float(v)) for n, labels, v in expect.metrics]
        try:
            wait_for(lambda: _metric_values(envoy, expect) == want, timeout=3, interval=0.1,
                     what="the metrics")
        except WaitTimeout:
            pass
        assert _metric_values(envoy, expect) == want
        for metric, minimum in expect.at_least:
            wait_for(lambda: envoy.stats().value(metric) >= minimum, timeout=5, interval=0.1,
                     what=f"{metric} >= {minimum}")
    assert not envoy.running
