"""Every exercise, run for real: the reference solution passes, realistic wrong
answers fail with a message that names what is wrong, and the learner-facing
edges (no code yet, code that does not compile, hint, solution) behave.

Each check builds the code and starts an Envoy (~3-4 s), so each wrong answer
is one check: the reference solution with one realistic mistake.
"""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

import labkit
import labkit.exercises
from labkit.exercises import NOTEBOOKS, Exercise, Outcome, Result
from helpers import EXAMPLES, REPO, names_running

ALL = {q.id: (nb, i) for nb in NOTEBOOKS for i, q in enumerate(labkit.exercises.load(nb))}


def exercise(exercise_id: str, *, solutions: bool) -> Exercise:
    nb, i = ALL[exercise_id]
    return labkit.exercises.load(nb, solutions=solutions)[i]


@pytest.fixture
def learner(monkeypatch):
    """Learner mode: `make test` sets LABKIT_SOLUTIONS=1, which would check the solutions."""
    monkeypatch.delenv("LABKIT_SOLUTIONS", raising=False)

    def get(exercise_id: str) -> Exercise:
        q = exercise(exercise_id, solutions=False)
        assert not q.solutions
        return q

    return get


def write_answer(q: Exercise, source: str) -> None:
    """What the learner's `%%gofile <project>` cell does."""
    labkit.Extension(q.project).write("main.go", source)


def mistake(example: str, old: str, new: str) -> str:
    """examples/<example>/main.go with one edit (which must apply: examples change)."""
    source = (EXAMPLES / example / "main.go").read_text()
    assert source.count(old) == 1, f"{old!r} is not (once) in examples/{example}/main.go"
    return source.replace(old, new)


# ----------------------------------------------------------- solutions mode
@pytest.mark.parametrize("exercise_id", sorted(ALL))
@pytest.mark.envoy
@pytest.mark.go
def test_reference_solution_passes(exercise_id, workspace, capsys):
    q = exercise(exercise_id, solutions=True)
    # The learner's own (unfinished) code: solutions mode must neither use nor touch it.
    learner_code = "package main // the learner's unfinished work\n"
    write_answer(q, learner_code)

    result = q.check()

    assert isinstance(result, Result) and result and result.passed, result
    assert result.exercise == exercise_id
    out = capsys.readouterr().out
    assert f"examples/{q.solution_example}" in out and f"✅ {exercise_id}" in out
    assert (workspace / f"{q.project}-solution" / "main.go").read_text() == q.solution_source()
    assert (workspace / q.project / "main.go").read_text() == learner_code
    assert not any(n.startswith("check-") for n in names_running()), "the check's Envoy was left running"


@pytest.mark.go
def test_broken_reference_solution_raises(monkeypatch):
    """In solutions mode a failing check is a bug in the lab: it raises (CI fails)."""
    q = dataclasses.replace(exercise("03.1", solutions=True), project="ex-broken-solution")
    monkeypatch.setattr(Exercise, "solution_source",
                        lambda self: "package main\n\nfunc main() { undefined() }\n")
    with pytest.raises(labkit.BuildError):
        q.check()


# ---------------------------------------------------------- wrong answers
WRONG = {
    "03.1 fixed string": (
        "03.1",
        mistake("echo-user-agent", 'AddHttpResponseHeader("x-seen-user-agent", ctx.userAgent)',
                'AddHttpResponseHeader("x-seen-user-agent", "curl/8.5.0")'),
        ["x-seen-user-agent='lab-check/1.0'", "got x-seen-user-agent='curl/8.5.0'"]),
    # Section 1's parser, the starter: a "-name" line has no "=", so it is skipped.
    "04.1 section-1 parser ignores -name lines": (
        "04.1",
        mistake("config-lines", """\
		// "-name" removes a header. Look for the "-" before splitting at "=":
		// CutPrefix returns the rest of the line and whether the "-" was there.
		if name, found := strings.CutPrefix(line, "-"); found {
			name = strings.TrimSpace(name) // "- name" works too
			if name == "" {
				proxywasm.LogWarnf("ignoring configuration line %q: want -name", line)
				continue
			}
			r.remove = append(r.remove, name)
			continue
		}
""", ""),
        ["expected no response header 'content-type', got content-type='text/plain'",
         "RemoveHttpResponseHeader"]),
    # The removal written, but the loop that adds the headers lost on the way.
    "04.1 removes but forgets to add": (
        "04.1",
        mistake("config-lines", """\
	for _, h := range ctx.rules.add {
		if err := proxywasm.AddHttpResponseHeader(h.name, h.value); err != nil {
			proxywasm.LogCriticalf("failed to add header %s: %v", h.name, err)
		}
	}
""", ""),
        ["expected response header 'x-lab' = 'config', but it is missing", "AddHttpResponseHeader"]),
    # Passes the first configuration, not the second one, which removes nothing.
    "04.1 hard-coded removal": (
        "04.1",
        mistake("config-lines", "for _, name := range ctx.rules.remove {",
                'for _, name := range []string{"content-type"} {'),
        ["with the configuration 'x-second=yes\\n'", "expected response header 'content-type'",
         "missing", "only the headers named on '-name' lines"]),
    "04.2 no name validation": (
        "04.2",
        mistake("config-json", "if !validName.MatchString(name) {", "if false {"),
        ["accepted the header name 'Not A Header'"]),
    "04.2 refuses without saying why": (
        "04.2",
        mistake("config-json", 'proxywasm.LogCriticalf("invalid header name %q", name)', "_ = name"),
        ["Envoy rejected the bad configuration, but your filter did not log why"]),
    "05.1 gauge never decremented": (
        "05.1",
        mistake("metrics-gauge", "\tctx.inflight.Add(-1)\n", ""),
        ["inflight_requests is 5 after every request finished (expected 0)"]),
    "05.2 untagged counter": (
        "05.2",
        mistake("metrics-tags", '"lab_requests_method=" + method', '"lab_requests"'),
        ['no lab_requests{method="GET"} series after 2 GET request(s)',
         "lab_requests exists with these labels: lab_requests{}"]),
}


@pytest.mark.parametrize("case", list(WRONG))
@pytest.mark.envoy
@pytest.mark.go
def test_wrong_answer_fails_and_says_why(case, learner, capsys):
    exercise_id, source, words = WRONG[case]
    q = learner(exercise_id)
    write_answer(q, source)

    result = q.check()

    assert isinstance(result, Result) and not result and not result.passed
    for w in words:
        assert w in result.message, f"{w!r} not in:\n{result.message}"
    out = capsys.readouterr().out
    assert f"❌ {exercise_id}" in out and ".hint()" in out and ".solution()" in out
    assert not any(n.startswith("check-") for n in names_running()), "the check's Envoy was left running"


@pytest.mark.go
def test_code_that_does_not_compile(learner):
    q = learner("03.1")
    source = mistake("echo-user-agent", "ctx.userAgent = ua\n", "ctx.userAgnt = ua\n")  # a typo
    line = source.splitlines().index("\tctx.userAgnt = ua") + 1
    write_answer(q, source)

    result = q.check()

    assert not result and result.outcome is Outcome.INCORRECT
    assert "does not compile" in result.message
    assert f"main.go:{line}:" in result.message and "userAgnt undefined" in result.message
    assert "ctx.userAgnt = ua" in result.message  # the source line, shown under the message
    assert f"fix: fix the code at main.go:{line}, then build again" in result.message


@pytest.mark.go
def test_04_1_code_that_does_not_compile(learner):
    """CutPrefix returns two values; taking one is the mistake to expect."""
    q = learner("04.1")
    wrong = '\t\tif name := strings.CutPrefix(line, "-"); name != line {'
    source = mistake("config-lines", '\t\tif name, found := strings.CutPrefix(line, "-"); found {', wrong)
    line = source.splitlines().index(wrong) + 1
    write_answer(q, source)

    result = q.check()

    assert not result
    assert "does not compile" in result.message
    assert f"main.go:{line}:" in result.message
    assert "assignment mismatch: 1 variable but strings.CutPrefix returns 2 values" in result.message


@pytest.mark.parametrize("exercise_id", sorted(ALL))
def test_no_code_yet(exercise_id, learner, workspace, capsys):
    q = learner(exercise_id)
    (workspace / q.project / "main.go").unlink(missing_ok=True)

    result = q.check()

    assert not result and result.outcome is Outcome.NOT_ATTEMPTED
    assert f"no workspace/{q.project}/main.go yet" in result.message
    assert f"%%gofile {q.project}" in result.message
    out = capsys.readouterr().out
    assert f"⬜ {exercise_id} (not attempted)" in out
    assert ".hint()" not in out  # nothing is wrong yet: no nudge


@pytest.mark.parametrize("exercise_id", sorted(ALL))
def test_the_unchanged_starter_is_not_attempted(exercise_id, learner):
    q = learner(exercise_id)
    write_answer(q, q.starter_source())

    result = q.check()  # before any build: nothing to build yet

    assert result.outcome is Outcome.NOT_ATTEMPTED
    assert "still the starter code" in result.message and "TODO" in result.message


def _gofile_cells() -> dict[str, str]:
    cells = {}
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if m := re.match(r"%%gofile (\S+)\n", source):
                cells[m.group(1)] = source[m.end():]
    return cells


@pytest.mark.parametrize("exercise_id", sorted(ALL))
def test_the_notebook_starts_from_the_starter(exercise_id, learner):
    """The starter check() compares against must be what the notebook's cell writes."""
    q = learner(exercise_id)
    cell = _gofile_cells().get(q.project)
    assert cell is not None, f"no %%gofile {q.project} cell in the notebooks"
    assert cell.strip() == q.starter_source().strip(), \
        f"labkit/exercises/starters/{q.project}.go differs from the notebook's %%gofile cell"


def test_solutions_mode_belongs_to_the_exercises_loaded(monkeypatch):
    monkeypatch.delenv("LABKIT_SOLUTIONS", raising=False)
    checking = labkit.exercises.load("03", solutions=True)
    learning = labkit.exercises.load("03", solutions=False)
    assert checking[0].solutions and not learning[0].solutions  # no module-wide switch
    monkeypatch.setenv("LABKIT_SOLUTIONS", "1")  # CI: whatever the notebook's parameter says
    from_env = labkit.exercises.load("03", solutions=False)
    monkeypatch.setenv("LABKIT_SOLUTIONS", "0")
    assert from_env[0].solutions  # read when loaded, kept afterwards
    assert not labkit.exercises.load("03")[0].solutions and not learning[0].solutions
    with pytest.raises(labkit.LabError, match="has no exercises"):
        labkit.exercises.load("99")


@pytest.mark.go
def test_a_missing_tool_is_could_not_check(learner, monkeypatch, fresh_toolchain, capsys):
    """Envoy missing is not the learner's mistake: the outcome says so, with the fix."""
    q = learner("03.1")
    write_answer(q, q.solution_source())
    monkeypatch.setenv("LABKIT_ENVOY", "/nonexistent/envoy")

    result = q.check()

    assert result.outcome is Outcome.COULD_NOT_CHECK
    assert result.message.startswith("this is not about your code")
    assert "LABKIT_ENVOY" in result.message and "fix:" in result.message
    out = capsys.readouterr().out
    assert "⚠️ 03.1 (could not check)" in out and ".hint()" not in out


def test_a_bug_in_a_check_is_could_not_check(learner, monkeypatch):
    q = learner("03.1")

    def broken(self):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(Exercise, "_check", broken)
    result = q.check()
    assert result.outcome is Outcome.COULD_NOT_CHECK
    assert "bug in the lab, not in your code" in result.message


# ------------------------------------------------------- hint and solution
@pytest.mark.parametrize("exercise_id", sorted(ALL))
def test_hint_and_solution_print(exercise_id, learner, capsys):
    q = learner(exercise_id)
    q.hint()
    assert q.hint_text in capsys.readouterr().out
    q.solution()
    out = capsys.readouterr().out
    source = (EXAMPLES / q.solution_example / "main.go").read_text()
    assert source == q.solution_source()
    assert f"```go\n{source}```" in out
    assert f"examples/{q.solution_example}/main.go" in out
    if q.solution_note:
        assert q.solution_note in out
