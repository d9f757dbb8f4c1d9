"""Notebook 05's exercises: metrics."""

from __future__ import annotations

from .._http import curl
from .._wait import wait_for
from ..errors import CheckFailed, MetricNotFound
from ._core import Attempt, Exercise


def _debug_and_inflight(attempt: Attempt) -> str:
    envoy = attempt.start()
    before = envoy.stats()
    for _ in range(3):
        curl(envoy, headers={"x-debug": "1"}).expect_status(200)
    for _ in range(2):
        curl(envoy).expect_status(200)
    after = envoy.stats()
    try:
        debug = (after - before).value("debug_requests")
    except MetricNotFound as e:
        raise CheckFailed("there is no counter named debug_requests",
                          fix="define it with proxywasm.DefineCounterMetric(\"debug_requests\")",
                          cause=e.fix) from None
    if debug != 3:
        raise CheckFailed(f"debug_requests went up by {debug:g} for 3 requests with x-debug "
                          "and 2 without (expected 3)",
                          fix="increment it only when GetHttpRequestHeader(\"x-debug\") succeeds")
    kind = next((s.kind for s in after.samples if s.name == "inflight_requests"), None)
    if kind is None:
        raise CheckFailed("there is no gauge named inflight_requests",
                          fix="define it with proxywasm.DefineGaugeMetric(\"inflight_requests\")")
    if kind != "gauge":
        raise CheckFailed(f"inflight_requests is a {kind}, not a gauge",
                          fix="use DefineGaugeMetric: a gauge can go down as well as up")
    # Envoy finishes a stream just after it answered: give the last one a moment.
    wait_for(lambda: envoy.stats().value("inflight_requests") == 0, timeout=2, interval=0.1,
             what="inflight_requests to be back to 0",
             error=lambda message, seen: CheckFailed(
                 f"inflight_requests is {envoy.stats().value('inflight_requests'):g} after every "
                 "request finished (expected 0)",
                 fix="add 1 in OnHttpRequestHeaders and -1 in OnHttpStreamDone"))
    return "debug_requests counted 3 of 5 requests; inflight_requests is back to 0"


q1 = Exercise(
    id="05.1",
    title="A debug counter and an in-flight gauge",
    project="ex05-gauge",
    solution_example="metrics-gauge",
    plugin="gauge",
    hint_text=(
        "Define both metrics once, in `NewPluginContext`, and hand them to each `httpContext`. "
        "A gauge goes both ways: `gauge.Add(1)` when a request starts (`OnHttpRequestHeaders`), "
        "`gauge.Add(-1)` when it is done (`OnHttpStreamDone`)."),
    run=_debug_and_inflight,
)

METHOD_TAG = {"method": r"(_method=([A-Z]+))"}


def _by_method(attempt: Attempt) -> str:
    envoy = attempt.start(stats_tags=METHOD_TAG)
    sent = {"GET": 2, "POST": 1, "DELETE": 1}
    before = envoy.stats()
    for method, n in sent.items():
        for _ in range(n):
            curl(envoy, method=method).expect_status(200)
    delta = envoy.stats() - before
    for method, n in sent.items():
        try:
            got = delta.value("lab_requests", method=method)
        except MetricNotFound as e:
            raise CheckFailed(f'no lab_requests{{method="{method}"}} series after {n} {method} request(s)',
                              cause=e.cause or e.fix,
                              fix='name the counter "lab_requests_method=" + method: the stats tag '
                                  'regex (_method=([A-Z]+)) turns that suffix into the label') from None
        if got != n:
            raise CheckFailed(f'lab_requests{{method="{method}"}} went up by {got:g}, expected {n}')
    return "one lab_requests series per method, each counting its requests"


q2 = Exercise(
    id="05.2",
    title="Requests by method, as a tagged metric",
    project="ex05-tags",
    solution_example="metrics-tags",
    plugin="tags",
    hint_text=(
        "Read the method with `proxywasm.GetHttpRequestHeader(\":method\")`. Define (or look up) "
        "the counter by its full name, `\"lab_requests_method=\" + method`, and increment it. "
        "Defining a metric twice with the same name returns the same metric, so doing it per "
        "request works; a map in the plugin context avoids the repeated host call."),
    run=_by_method,
    solution_note=("The check starts Envoy with `stats_tags={\"method\": r\"(_method=([A-Z]+))\"}`: "
                   "Envoy cuts `_method=GET` out of the name and makes it the label `method=\"GET\"`."),
)

EXERCISES = (q1, q2)
