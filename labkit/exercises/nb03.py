"""Notebook 03's exercise: echo a request header into the response."""

from __future__ import annotations

from .._http import curl
from ._core import Attempt, Exercise


def _echo_user_agent(attempt: Attempt) -> str:
    envoy = attempt.start()
    # Two different agents: a hard-coded value cannot pass both.
    for agent in ("lab-check/1.0", "another-agent/2.5"):
        r = curl(envoy, headers={"user-agent": agent})
        r.expect_status(200).expect_header("x-seen-user-agent", agent)
    return "x-seen-user-agent echoes each request's User-Agent"


q1 = Exercise(
    id="03.1",
    title="Echo the User-Agent",
    project="ex03-echo",
    solution_example="echo-user-agent",
    hint_text=(
        "Read the header in `OnHttpRequestHeaders` with "
        "`proxywasm.GetHttpRequestHeader(\"user-agent\")` and keep it in a field of your "
        "`httpContext` (one exists per request). Then, in `OnHttpResponseHeaders`, add it with "
        "`proxywasm.AddHttpResponseHeader(\"x-seen-user-agent\", ctx.userAgent)`."),
    run=_echo_user_agent,
    solution_note=("The request and response callbacks of one request share the same "
                   "`httpContext`, so a struct field carries the value from one to the other."),
)

EXERCISES = (q1,)
