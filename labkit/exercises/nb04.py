"""Notebook 04's exercises: plugin configuration."""

from __future__ import annotations

from .._errors import CheckFailed, ConfigError
from .._http import curl
from ._core import Attempt, Exercise

# Comments, a blank line, spaces around '=', and a value that contains '='.
LINES_CONFIG = """\
# headers to add, one name=value per line
header_1=somevalue

  header_2 = spaced value
link=https://example.com/?a=1&b=2
"""


def _lines(attempt: Attempt) -> str:
    envoy = attempt.start(configuration=LINES_CONFIG)
    r = curl(envoy).expect_status(200)
    r.expect_header("header_1", "somevalue")
    r.expect_header("header_2", "spaced value")
    r.expect_header("link", "https://example.com/?a=1&b=2")
    for name in r.headers:
        if name.startswith("#") or name.strip() != name:
            raise CheckFailed(f"a comment or untrimmed line became a header: {name!r}")
    return "comments and blank lines skipped, spaces trimmed, '=' allowed in values"


q1 = Exercise(
    id="04.1",
    title="A forgiving key=value parser",
    project="ex04-lines",
    solution_example="config-lines",
    plugin="lines",
    hint_text=(
        "`strings.Cut(line, \"=\")` splits at the *first* `=` only, so values may contain `=`. "
        "`strings.TrimSpace` removes the spaces around the key and the value. Skip a line that "
        "is empty after trimming, or that starts with `#`."),
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
