"""Notebook 04's exercises: plugin configuration."""

from __future__ import annotations

from .._http import curl
from ..errors import CheckFailed, ConfigError
from ._core import Attempt, Exercise

# One header to add and one to remove: content-type is on every direct response,
# and a response without it is still valid HTTP.
LINES_CONFIG = """\
# add one header, remove one
x-lab=config
-content-type
"""
# A second configuration, so that hard-coded names do not pass: it adds a
# different header and removes nothing.
SECOND_CONFIG = "x-second=yes\n"


def _expect(check, *, prefix: str = "", fix: str) -> None:
    """Run one expect_* call; on failure, keep its message and give this exercise's fix."""
    try:
        check()
    except CheckFailed as e:
        raise CheckFailed(prefix + e.message, cause=e.cause, fix=fix) from None


def _lines(attempt: Attempt) -> str:
    envoy = attempt.start(configuration=LINES_CONFIG)
    r = curl(envoy).expect_status(200)
    _expect(lambda: r.expect_header("x-lab", "config"),
            fix="a name=value line must still add its header with proxywasm.AddHttpResponseHeader")
    _expect(lambda: r.expect_no_header("content-type"),
            fix="a line '-name' must remove the header: strings.CutPrefix(line, \"-\") gives the "
                "name, then call proxywasm.RemoveHttpResponseHeader(name) in OnHttpResponseHeaders")
    r.expect_body("Hello world")
    envoy.stop()

    envoy = attempt.start(configuration=SECOND_CONFIG)
    r = curl(envoy).expect_status(200)
    prefix = f"with the configuration {SECOND_CONFIG!r}: "
    _expect(lambda: r.expect_header("x-second", "yes"), prefix=prefix,
            fix="take the header names and values from the configuration, not from your code")
    _expect(lambda: r.expect_no_header("x-lab"), prefix=prefix,
            fix="add only the headers the configuration lists")
    _expect(lambda: r.expect_header("content-type", "text/plain"), prefix=prefix,
            fix="remove only the headers named on '-name' lines of the configuration")
    return ("'x-lab=config' added a header and '-content-type' removed one; "
            "a second configuration was followed as well")


q1 = Exercise(
    id="04.1",
    title="Remove headers too",
    project="ex04-lines",
    solution_example="config-lines",
    plugin="lines",
    hint_text=(
        "Test for the `-` before splitting at `=`: `name, found := strings.CutPrefix(line, \"-\")` "
        "returns the line without its leading `-`, and whether it had one. Trim the name and keep "
        "it in a second slice next to the headers to add. In `OnHttpResponseHeaders`, call "
        "`proxywasm.RemoveHttpResponseHeader(name)` for each name (removing a header the "
        "response does not have is not an error), then add the headers as before."),
    run=_lines,
)

GOOD_JSON = {"headers": {"x-team": "wasm-lab", "x-stage": "exercise"}}
BAD_JSON = {"headers": {"Not A Header": "x"}}


def _json(attempt: Attempt) -> str:
    envoy = attempt.start(configuration=GOOD_JSON)
    r = curl(envoy).expect_status(200)
    for name, value in GOOD_JSON["headers"].items():
        r.expect_header(name, value)
    envoy.stop()
    try:
        attempt.start(configuration=BAD_JSON)
    except ConfigError as e:
        if "invalid header name" not in (e.cause or ""):
            raise CheckFailed(
                "Envoy rejected the bad configuration, but your filter did not log why",
                cause=e.cause,
                fix='log it with proxywasm.LogCriticalf("invalid header name %q", name) '
                    "before returning OnPluginStartStatusFailed") from None
        return "valid JSON configuration applied; an invalid header name is refused with a reason"
    raise CheckFailed(
        f"your filter accepted the header name {next(iter(BAD_JSON['headers']))!r}",
        fix="in OnPluginStart, check each name (lowercase letters, digits and '-') and return "
            "types.OnPluginStartStatusFailed for a bad one")


q2 = Exercise(
    id="04.2",
    title="Refuse a bad header name",
    project="ex04-json",
    solution_example="config-json",
    plugin="json-headers",
    hint_text=(
        "After `json.Unmarshal`, loop over the headers and test each name, for example with "
        "`regexp.MustCompile(`^[a-z0-9-]+$`).MatchString(name)`. For a bad one, "
        "`proxywasm.LogCriticalf(\"invalid header name %q\", name)` and return "
        "`types.OnPluginStartStatusFailed`: Envoy then refuses the configuration."),
    run=_json,
)

EXERCISES = (q1, q2)
