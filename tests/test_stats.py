"""labkit.envoy.Stats on Envoy's real Prometheus text, then against a running Envoy.

The unit tests parse two scrapes captured from Envoy 1.40.0 running
examples/metrics (tests/data/envoy-metrics-{before,after}.prom: whole metric
families copied verbatim, before and after four requests).
"""

from __future__ import annotations

import math
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

import labkit
from helpers import unique

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def before() -> labkit.envoy.Stats:
    return labkit.envoy.Stats.parse((DATA / "envoy-metrics-before.prom").read_text(), source="before")


@pytest.fixture(scope="module")
def after() -> labkit.envoy.Stats:
    return labkit.envoy.Stats.parse((DATA / "envoy-metrics-after.prom").read_text(), source="after")


# ------------------------------------------------------------------- names
def test_names_are_envoys_own(after):
    names = after.names()
    # prometheus_client would rename counters the OpenMetrics way: Stats does not.
    assert "hello_header_counter" in names and "hello_header_counter_total" not in names
    assert "envoy_http_downstream_rq_completed" in names
    # ...and a counter whose name Envoy ends in _total keeps it.
    assert "envoy_http_downstream_rq_total" in names and "envoy_http_downstream_rq" not in names
    # Wasm metrics have no envoy_ prefix.
    assert {"hello_header", "active_requests", "request_header_count_bucket"} <= set(names)
    assert not any(n.startswith("envoy_hello") or n.startswith("envoy_active") for n in names)


def test_sample_kinds(after):
    kinds = {s.name: s.kind for s in after.samples}
    assert kinds["hello_header_counter"] == "counter"
    assert kinds["envoy_http_downstream_rq_total"] == "counter"
    assert kinds["active_requests"] == "gauge" and kinds["envoy_server_live"] == "gauge"
    assert kinds["request_header_count_bucket"] == kinds["request_header_count_sum"] == "histogram"


# ------------------------------------------------------------------ values
def test_value_untagged_and_with_labels(after):
    assert after.value("hello_header_counter") == 3
    assert after.value("active_requests") == 0
    assert after.value("envoy_server_live") == 1
    assert after.value("envoy_http_downstream_rq_total", envoy_http_conn_manager_prefix="ingress_http") == 4
    assert after.value("envoy_http_downstream_rq_xx", envoy_response_code_class="2",
                       envoy_http_conn_manager_prefix="ingress_http") == 4
    # Label order does not matter.
    assert after.value("envoy_http_downstream_rq_xx", envoy_http_conn_manager_prefix="ingress_http",
                       envoy_response_code_class="5") == 0


def test_tagged_metric(after, before):
    # stats_tags turned hello_header_value=world into hello_header{value="world"}.
    assert after.value("hello_header", value="world") == 2
    assert after.value("hello_header", value="other") == 1  # hello: Not Plain
    assert sorted(dict(s.labels)["value"] for s in after.series("hello_header")) == ["other", "world"]
    # A tagged counter exists only once something incremented it.
    assert "hello_header" not in before.names()


# -------------------------------------------------------------- histograms
def test_histogram(after):
    h = after.histogram("request_header_count")
    assert isinstance(h, labkit.envoy.Histogram) and h.name == "request_header_count" and h.labels == {}
    assert h.count == 4
    # Envoy's sum is approximate (it comes from its log-linear buckets): 4 requests of ~10 headers.
    assert 30 < h.sum < 50 and h.mean == pytest.approx(h.sum / 4)
    bounds = [le for le, _ in h.buckets]
    assert bounds == sorted(bounds) and bounds[:4] == [0.5, 1, 5, 10] and math.isinf(bounds[-1])
    cumulative = [c for _, c in h.buckets]
    assert cumulative == sorted(cumulative) and cumulative[-1] == h.count
    assert dict(h.buckets)[5] == 0 and dict(h.buckets)[10] == 4
    per = h.per_bucket()
    assert [le for le, _ in per] == bounds and sum(n for _, n in per) == h.count
    assert dict(per)[10] == 4 and dict(per)[25] == 0


def test_empty_histogram_has_no_mean(before):
    h = before.histogram("request_header_count")
    assert h.count == 0 and h.sum == 0 and math.isnan(h.mean)
    assert all(n == 0 for _, n in h.per_bucket())


# ------------------------------------------------------------------- delta
def test_delta(before, after):
    delta = after - before
    assert isinstance(delta, labkit.envoy.StatsDelta)
    assert delta.value("hello_header_counter") == 3
    assert delta.value("envoy_http_downstream_rq_total", envoy_http_conn_manager_prefix="ingress_http") == 4
    # A series that did not exist before counts from 0.
    assert delta.value("hello_header", value="world") == 2
    assert delta.value("request_header_count_count") == 4
    with pytest.raises(labkit.errors.MetricNotFound):
        delta.value("hello_header", value="nope")


def test_changed_hides_envoy_metrics_unless_asked(before, after):
    changed = (after - before).changed()
    assert changed["hello_header_counter{}"] == 3
    assert changed['hello_header{value="world"}'] == 2 and changed['hello_header{value="other"}'] == 1
    assert changed["request_header_count_count{}"] == 4
    assert "active_requests{}" not in changed  # 0 before, 0 after: unchanged
    assert not any(k.startswith("envoy_") for k in changed)

    with_envoy = (after - before).changed(envoy=True)
    assert with_envoy['envoy_http_downstream_rq_total{envoy_http_conn_manager_prefix="ingress_http"}'] == 4
    assert set(changed) < set(with_envoy)

    assert set((after - before).changed("hello_header")) == {
        "hello_header_counter{}", 'hello_header{value="other"}', 'hello_header{value="world"}'}
    assert "hello_header_counter{}: +3" in repr(after - before).splitlines()
    assert repr(after - after) == "(no change)"


# ------------------------------------------------------------------ errors
def test_unknown_name_suggests_close_ones(after):
    with pytest.raises(labkit.errors.MetricNotFound) as e:
        after.value("hello_header_countr")
    assert isinstance(e.value, LookupError)
    assert "no metric named 'hello_header_countr'" in e.value.message
    assert "did you mean hello_header_counter" in e.value.fix
    with pytest.raises(labkit.errors.MetricNotFound, match="no metric named 'request_header_cnt'"):
        after.histogram("request_header_cnt")


def test_known_name_with_wrong_labels_lists_the_label_sets(after):
    with pytest.raises(labkit.errors.MetricNotFound) as e:
        after.value("hello_header", value="nope")
    assert 'hello_header{value="nope"} is not at after' in e.value.message
    assert 'hello_header{value="other"}' in e.value.cause and 'hello_header{value="world"}' in e.value.cause
    assert "value('hello_header', value='other')" in e.value.fix
    # A tagged metric asked for without labels, and an untagged one asked for with labels.
    with pytest.raises(labkit.errors.MetricNotFound, match=r'hello_header\{value="world"\}'):
        after.value("hello_header")
    with pytest.raises(labkit.errors.MetricNotFound) as e:
        after.value("hello_header_counter", value="world")
    assert "hello_header_counter{}" in e.value.cause


def test_admin_port_that_does_not_answer():
    port = labkit.free_port()  # nothing listens there
    with pytest.raises(labkit.HTTPError, match="did not answer") as e:
        labkit.envoy.Stats.scrape(f"http://127.0.0.1:{port}", timeout=1)
    assert f"127.0.0.1:{port}/stats/prometheus" in e.value.message


def test_admin_endpoint_that_answers_an_error():
    class NotEnvoy(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b"no such page")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), NotEnvoy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(labkit.HTTPError, match="answered 404") as e:
            labkit.envoy.Stats.scrape(f"http://127.0.0.1:{server.server_port}")
        assert "no such page" in e.value.cause
    finally:
        server.shutdown()
        server.server_close()


def test_stats_of_an_envoy_never_started(tmp_path):
    envoy = labkit.Envoy(labkit.EnvoyConfig(), name=unique("never"))
    with pytest.raises(labkit.errors.NotRunning, match="has not been started") as info:
        envoy.stats()
    assert info.value.name == envoy.name and info.value.fix == "call .start() first"


def test_html_shows_only_non_envoy_metrics(after, before):
    html = after._repr_html_()
    assert "hello_header_counter" in html and "envoy_http_downstream_rq_total" not in html
    assert "hello_header_counter" in (after - before)._repr_html_()


# ------------------------------------------------------------- live Envoy
@pytest.fixture(scope="module")
def metrics_build(workspace) -> labkit.Build:
    return labkit.scaffold("stats-metrics", example="metrics").build()


@pytest.mark.envoy
@pytest.mark.go
def test_live_envoy_with_examples_metrics(metrics_build, envoys):
    cfg = labkit.EnvoyConfig(
        labkit.WasmFilter(metrics_build, name="hello"),
        stats_tags={"value": r"(_value=([a-z0-9]+))"},
        # A request from curl() has about 10 headers: bounds well away from that.
        histogram_buckets={"request_header_count": [5, 15, 30]})
    envoy = envoys(cfg).start()
    before = envoy.stats()
    assert before.value("hello_header_counter") == 0 and before.value("active_requests") == 0

    burst = [{"hello": "world"}] * 3 + [{"hello": "abc"}, {"hello": "Not Plain!"}, {}]
    burst.append({f"x-extra-{i}": "1" for i in range(12)})  # ~22 headers: the (15, 30] bucket
    for headers in burst:
        labkit.curl(envoy, headers=headers).expect_status(200)

    # Histograms reach /stats/prometheus at the next stats flush (every 0.5 s here),
    # and the gauge comes down when Envoy finishes the stream: poll briefly.
    deadline = time.monotonic() + 3
    while True:
        after = envoy.stats()
        h = after.histogram("request_header_count")
        if (h.count == len(burst) and after.value("active_requests") == 0) or time.monotonic() > deadline:
            break
        time.sleep(0.1)

    delta = after - before
    assert delta.value("hello_header_counter") == 5
    assert delta.value("hello_header", value="world") == 3
    assert delta.value("hello_header", value="abc") == 1
    assert delta.value("hello_header", value="other") == 1  # "Not Plain!" is not a plain value
    assert after.value("active_requests") == 0
    assert delta.value("envoy_http_downstream_rq_total", envoy_http_conn_manager_prefix="ingress_http") == 7
    assert not any(k.startswith("envoy_") for k in delta.changed())

    assert h.count == 7
    assert [le for le, _ in h.buckets] == [5, 15, 30, math.inf]
    assert h.per_bucket() == [(5, 0), (15, 6), (30, 1), (math.inf, 0)]
    assert 6 * 5 < h.sum < 6 * 15 + 30
