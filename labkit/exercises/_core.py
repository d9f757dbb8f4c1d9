"""Exercises with ``check()``, ``hint()`` and ``solution()``, learntools-style.

The learner writes Go in a ``%%gofile <project>`` cell; ``check()`` builds that
project, runs it in a real Envoy, sends requests and says what it saw:

* a pass prints ✅ and returns a passing :class:`Result`;
* a wrong answer prints ❌ with the specific failure (which header or metric,
  what was expected, what was seen) and returns a failing Result;
* in *solutions mode* (``load(..., solutions=True)`` or ``LABKIT_SOLUTIONS=1``,
  which is how CI runs the notebooks) check() first writes the reference
  solution from ``examples/`` (into a separate ``<project>-solution``
  folder) and raises on failure, so a broken exercise fails the build.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from .._envoy import Envoy
from .._envoy_config import EnvoyConfig, WasmFilter
from .._errors import BuildError, CheckFailed, LabError
from .._extension import Build, Extension, examples_dir

__all__ = ["Exercise", "Attempt", "Result", "solutions_enabled"]

_solutions = False


def solutions_enabled() -> bool:
    return _solutions or os.environ.get("LABKIT_SOLUTIONS", "") == "1"


def set_solutions(flag: bool) -> None:
    global _solutions
    _solutions = bool(flag)


@dataclass
class Result:
    exercise: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"{'✅' if self.passed else '❌'} {self.exercise}: {self.message}"

    def _ipython_display_(self) -> None:
        """Show nothing as a cell's value: check() has printed the result already."""


@dataclass
class Attempt:
    """What a check works with: the learner's build, and Envoys to run it in."""

    exercise: "Exercise"
    build: Build
    envoys: list[Envoy] = field(default_factory=list)

    def config(self, *, configuration: Any = None, **settings: Any) -> EnvoyConfig:
        filter_ = WasmFilter(self.build, name=self.exercise.plugin, configuration=configuration)
        return EnvoyConfig(filter_, **settings)

    def start(self, *, configuration: Any = None, **settings: Any) -> Envoy:
        """Start an Envoy running the learner's module (stopped when the check ends)."""
        envoy = Envoy(self.config(configuration=configuration, **settings),
                      name=f"check-{self.exercise.project}")
        self.envoys.append(envoy)
        return envoy.start()

    def close(self) -> None:
        for envoy in self.envoys:
            envoy.stop()


@dataclass
class Exercise:
    """One exercise. ``run`` sends requests to the learner's filter and raises
    CheckFailed with a specific message when something is off."""

    id: str
    title: str
    project: str          # the workspace project the learner's %%gofile cell writes
    solution_example: str  # examples/<name>/main.go is the reference solution
    hint_text: str
    run: Callable[[Attempt], str]  # returns a one-line summary of what passed
    plugin: str = "exercise"
    solution_note: str = ""

    # ------------------------------------------------------------ learner API
    def check(self) -> Result:
        """Build your code, run it in Envoy, and tell you whether it does the job."""
        solutions = solutions_enabled()
        try:
            summary = self._check(solutions)
        except LabError as e:  # wrong answers, compile errors, Envoy refusing or crashing
            if solutions:
                raise  # the reference solution must pass: a failure is a bug in the lab
            result = Result(self.id, False, _describe(e))
        else:
            result = Result(self.id, True, summary)
        print(repr(result))
        if not result.passed:
            print("   Need a nudge? Run .hint(); to compare with a working answer, run .solution().")
        return result

    def hint(self) -> None:
        _show_markdown(f"**Hint ({self.id}):** {self.hint_text}")

    def solution(self) -> None:
        code = self.solution_source()
        note = f"\n\n{self.solution_note}" if self.solution_note else ""
        _show_markdown(f"**Solution ({self.id})**, from `examples/{self.solution_example}/main.go`:"
                       f"\n\n```go\n{code}```{note}")

    def solution_source(self) -> str:
        return (examples_dir() / self.solution_example / "main.go").read_text()

    # -------------------------------------------------------------- internals
    def _check(self, solutions: bool) -> str:
        if solutions:
            # A project of its own: solutions mode never touches the learner's code.
            ext = Extension(f"{self.project}-solution").scaffold()
            ext.write("main.go", self.solution_source())
            print(f"(solutions mode: checking the reference solution examples/{self.solution_example})")
        else:
            ext = Extension(self.project)
            if not (ext.path / "main.go").exists():
                raise CheckFailed(f"there is no workspace/{self.project}/main.go yet",
                                  fix=f"run the `%%gofile {self.project}` cell above first")
            ext.scaffold()  # go.mod and the SDK; keeps the learner's main.go
        attempt = Attempt(self, ext.build())
        try:
            # The checks' own ✔ lines would bury the verdict: keep them quiet.
            with contextlib.redirect_stdout(io.StringIO()):
                return self.run(attempt)
        finally:
            attempt.close()

    def __repr__(self) -> str:
        return f"<Exercise {self.id}: {self.title} — .check() .hint() .solution()>"


def _describe(error: LabError) -> str:
    if isinstance(error, BuildError):
        first = error.diagnostics[0].pretty() if error.diagnostics else error.message
        return f"your code does not compile:\n{first}"
    text = error.message
    if error.cause:
        text += "\n" + "\n".join("   " + line for line in error.cause.splitlines()[-6:])
    if error.fix:
        text += f"\n   fix: {error.fix}"
    return text


def _show_markdown(text: str) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display

        if get_ipython() is not None:
            display(Markdown(text))
            return
    except ImportError:
        pass
    print(text)
