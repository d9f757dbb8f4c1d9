"""Reading compiler output, syntax-error hints and Go panics: no Go needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit._diagnostics import GoPanic, parse_diagnostics, unclosed_bracket
from labkit.envoy.logs import go_panic, wasm_lines

DATA = Path(__file__).parent / "data" / "logs"

CALL = """\
package main

func f() {
	proxywasm.LogInfo("x"
	return
}
"""


def test_an_unclosed_parenthesis_on_the_error_line():
    assert unclosed_bracket(CALL, 4) == (4, "(")


def test_a_missing_brace_is_found_above_where_go_noticed_it():
    source = "package main\n\nfunc a() {\n\tif x {\n\t\tfoo()\n}\n\nfunc b() {\n}\n"
    # Go complains at line 8 (`func b`); the `if` on line 4 was never closed:
    # its `}` on line 6 sits at the function's indentation.
    assert unclosed_bracket(source, 8) == (4, "{")


def test_calls_that_span_lines_are_not_blamed():
    source = "package main\n\nfunc a() {\n\tfoo(1,\n\t\t2)\n\tbar()\n"
    assert unclosed_bracket(source, 7, message="unexpected EOF") == (3, "{")  # open at the end
    assert unclosed_bracket(source, 6, 2, "unexpected name bar") is None  # inside a body: fine
    balanced = 'package main\nfunc a() {\n\tx := "(" // (\n\ty(`)`)\n}\n'
    assert unclosed_bracket(balanced, 5) is None


def test_a_syntax_error_gets_a_hint_pointing_above(tmp_path):
    (tmp_path / "main.go").write_text(
        "package main\n\nfunc a() {\n\tif true {\n\t\tprintln()\n}\n\nfunc b() {\n}\n")
    output = "# hello\n./main.go:8:6: syntax error: unexpected name b, expected (\n"
    (diag,) = parse_diagnostics(output, tmp_path)
    assert (diag.file, diag.line, diag.column) == ("main.go", 8, 6)
    assert "the '{' on line 4 is never closed" in diag.hint
    assert "the mistake is probably above" in diag.hint
    assert diag.pretty().splitlines()[-1].strip().startswith("hint:")


def test_parse_diagnostics_on_captured_go_output(tmp_path):
    (tmp_path / "main.go").write_text(
        'package main\n\nimport "fmt"\n\nfunc main() {}\n\nfunc f() { return 1 }\n')
    output = ('# hello\n./main.go:3:8: "fmt" imported and not used\n'
              './main.go:7:19: too many return values\n\thave (number)\n\twant ()\n')
    diags = parse_diagnostics(output, tmp_path)
    assert [(d.file, d.line, d.column) for d in diags] == [("main.go", 3, 8), ("main.go", 7, 19)]
    assert diags[0].message == '"fmt" imported and not used'
    assert diags[0].source_line == 'import "fmt"'
    assert diags[1].message == "too many return values\nhave (number)\nwant ()"
    pretty = diags[0].pretty().splitlines()
    assert pretty[0] == 'main.go:3:8: "fmt" imported and not used'
    assert pretty[1].endswith('| import "fmt"')
    assert pretty[2].endswith("^") and pretty[2].index("^") == pretty[1].index('"fmt"')
    assert not diags[0].hint  # only syntax errors get one


def test_parse_diagnostics_ignores_non_diagnostics(tmp_path):
    assert parse_diagnostics("go: downloading x v1\nbuild failed\n", tmp_path) == []


def test_a_panic_in_thousands_of_pieces_is_one_report():
    """The SetVMContext-in-main() crash: Envoy logged the Go panic piece by piece."""
    log = (DATA / "setvmcontext-in-main.log").read_text()
    assert log.count("wasm log") > 300  # one `wasm log` line per piece the runtime wrote
    lines = wasm_lines(log)
    assert len(lines) == 1 and lines[0].message.startswith("panic: runtime error")  # shown once
    panic = go_panic(lines)
    assert panic is not None
    assert panic.message == "panic: runtime error: invalid memory address or nil pointer dereference"
    first = panic.frames[0]
    assert first.function.endswith("(*state).createPluginContext")
    assert first.file.endswith("proxywasm/internal/vmstate.go") and first.line == 59
    assert "goroutine 1 [running]:\n" in panic.text
    short = panic.short()
    assert short.splitlines()[0] == panic.message
    assert "(vmstate.go:59)" in short and len(short.splitlines()) <= 4


def test_a_panic_in_the_learners_code_names_main_go():
    pieces = ["panic: ", "x-panic header: this filter gives up", "\n", "\n", "goroutine ", "1",
              " [", "running", "]:\n", "main.(*httpContext).OnHttpRequestHeaders", "(", "0x1", ")",
              "\t", "/home/learner/lab/workspace/panic-filter/main.go", ":", "35", " +", "0x5",
              "github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/internal.proxyOnRequestHeaders",
              "(", "0x2", ")", "\t", "/go/pkg/mod/sdk/abi_callback_http.go", ":", "24", " +", "0x8"]
    panic = GoPanic.from_fragments(pieces)
    assert panic.message == "panic: x-panic header: this filter gives up"
    (own,) = panic.own_frames()
    assert (own.function, Path(own.file).name, own.line) == \
        ("main.(*httpContext).OnHttpRequestHeaders", "main.go", 35)
    assert "at main.(*httpContext).OnHttpRequestHeaders (main.go:35)" in panic.short()


def test_no_panic_no_report():
    assert GoPanic.from_fragments(["hello", " world"]) is None


def test_multi_line_wasm_messages_stay_whole():
    log = ("[2026-12-01 10:00:00.000][7][info][wasm] [source/extensions/common/wasm/context.cc:1157] "
           "wasm log cfg: config: {\n  \"a\": 1,\n  \"b\": 2\n}\n"
           "[2026-12-01 10:00:00.001][7][info][wasm] [source/extensions/common/wasm/context.cc:1157] "
           "wasm log cfg: next\n")
    first, second = wasm_lines(log)
    assert first.plugin == "cfg" and first.message == 'config: {\n  "a": 1,\n  "b": 2\n}'
    assert second.message == "next"


def test_another_programs_record_ends_a_message():
    """pilot-agent writes its own lines into the stream that carries Envoy's log."""
    log = ("[2026-12-01 19:09:40.025][1122][info][wasm] [source/extensions/common/wasm/context.cc:1151] "
           "wasm log istio-system.logs~istio-translated-wasmplugin: 2 finished\n"
           "2026-12-01T19:09:40.287942Z\terror\tcitadelclient\tfailed to sign CSR\n")
    (line,) = wasm_lines(log)
    assert line.message == "2 finished"
    assert line.plugin == "istio-system.logs~istio-translated-wasmplugin"


@pytest.mark.parametrize("text", ["", "no log lines at all\n"])
def test_logs_without_wasm_lines(text):
    assert wasm_lines(text) == [] and go_panic([]) is None
