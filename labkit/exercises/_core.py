"""Exercises with ``check()``, ``hint()`` and ``solution()``, learntools-style.

The learner writes Go in a ``%%gofile <project>`` cell; ``check()`` builds that
project, runs it in a real Envoy, sends requests and says what it saw. Every
check ends in one of four outcomes:

* **passed** ✅: what it checked, in one line;
* **not attempted** ⬜: there is no code yet, or it is still the starter;
* **incorrect** ❌: what was expected and what was seen (a compile error shows
  the line and how to fix it);
* **could not check** ⚠️: something outside the answer went wrong (a missing
  tool, a port in use, the module proxy unreachable, a bug in the lab). It
  says so, with the cause and the fix: it is never the learner's mistake.

In *solutions mode* (``load(..., solutions=True)``, or ``LABKIT_SOLUTIONS=1``
when the exercises are loaded: how CI runs the notebooks) check() runs the
reference solution from ``examples/`` in a ``<project>-solution`` folder and
raises unless it passes, so a broken exercise fails the build.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import io
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Callable

from .._extension import Build, Extension, examples_dir, for_toolchain
from ..envoy.config import EnvoyConfig, WasmFilter
from ..envoy.process import Envoy
from ..errors import (BuildError, CheckFailed, ConfigError, HTTPError, Interrupted, LabError,
                      ModuleError, ProcessExited)

__all__ = ["Exercise", "Attempt", "Result", "Outcome", "NotAttempted"]


class Outcome(str, enum.Enum):
    PASSED = "passed"
    NOT_ATTEMPTED = "not attempted"
    INCORRECT = "incorrect"
    COULD_NOT_CHECK = "could not check"


_ICONS = {Outcome.PASSED: "✅", Outcome.NOT_ATTEMPTED: "⬜", Outcome.INCORRECT: "❌",
          Outcome.COULD_NOT_CHECK: "⚠️"}


@dataclass
class Result:
    exercise: str
    outcome: Outcome
    message: str
    # Where the time went: {"build": s, "envoy": s} (Envoy's part: start, requests, verdict).
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        label = "" if self.passed else f" ({self.outcome.value})"
        return f"{_ICONS[self.outcome]} {self.exercise}{label}: {self.message}"

    def _ipython_display_(self) -> None:
        """Show nothing as a cell's value: check() has printed the result already."""


class NotAttempted(LabError):
    """The exercise's project has no code of the learner's yet."""


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


@dataclass(frozen=True)
class Exercise:
    """One exercise. ``run`` sends requests to the learner's filter and raises
    CheckFailed with a specific message when something is off."""

    id: str
    title: str
    project: str           # the workspace project the learner's %%gofile cell writes
    solution_example: str  # examples/<name>/main.go is the reference solution
    hint_text: str
    run: Callable[[Attempt], str]  # returns a one-line summary of what passed
    plugin: str = "exercise"
    solution_note: str = ""
    solutions: bool = False  # bound by load(): check the reference solution instead
    toolchain: str = "go"    # bound by load(): "go" or "tinygo"

    def bound(self, *, solutions: bool, toolchain: str = "go") -> "Exercise":
        """This exercise, checking the reference solution (``solutions=True``) or the
        learner's code, built with ``toolchain``."""
        return dataclasses.replace(self, solutions=solutions, toolchain=toolchain)

    # ------------------------------------------------------------ learner API
    def check(self) -> Result:
        """Build your code, run it in Envoy, and tell you whether it does the job."""
        seconds: dict[str, float] = {}
        try:
            result = Result(self.id, Outcome.PASSED, self._check(seconds), seconds)
        except KeyboardInterrupt:
            raise Interrupted(f"stopped checking {self.id}; its Envoy is stopped") from None
        except Exception as e:  # noqa: BLE001 - every failure becomes an outcome
            if self.solutions:
                raise  # the reference solution must pass: a failure is a bug in the lab
            result = _outcome(self.id, e)
            result.seconds = seconds
        print(repr(result))
        if result.outcome is Outcome.INCORRECT:
            print("   Need a nudge? Run .hint(); to compare with a working answer, run .solution().")
        return result

    def hint(self) -> None:
        _show_markdown(f"**Hint ({self.id}):** {self.hint_text}")

    def solution(self) -> None:
        code = for_toolchain(self.solution_source(), self.toolchain)
        note = f"\n\n{self.solution_note}" if self.solution_note else ""
        if self.toolchain == "tinygo":
            note += "\n\n(For the TinyGo track the import path is the tetratelabs SDK's.)"
        _show_markdown(f"**Solution ({self.id})**, from `examples/{self.solution_example}/main.go`:"
                       f"\n\n```go\n{code}```{note}")

    def solution_source(self) -> str:
        return (examples_dir() / self.solution_example / "main.go").read_text()

    def starter_source(self) -> str:
        """The code the notebook's ``%%gofile`` cell starts the learner with."""
        return (resources.files("labkit.exercises") / "starters" / f"{self.project}.go").read_text()

    # -------------------------------------------------------------- internals
    def _check(self, seconds: dict[str, float]) -> str:
        if self.solutions:
            # A project of its own: solutions mode never touches the learner's code.
            ext = Extension(f"{self.project}-solution", toolchain=self.toolchain).scaffold()
            ext.write("main.go", self.solution_source())
            print(f"(solutions mode: checking the reference solution examples/{self.solution_example})")
        else:
            ext = Extension(self.project, toolchain=self.toolchain)
            main = ext.path / "main.go"
            if not main.exists():
                raise NotAttempted(f"there is no workspace/{self.project}/main.go yet",
                                   fix=f"run the `%%gofile {self.project}` cell above, then write "
                                       "your answer in it")
            if _same_code(for_toolchain(main.read_text(), "go"), self.starter_source()):
                raise NotAttempted("your main.go is still the starter code",
                                   fix=f"fill in the TODOs in the `%%gofile {self.project}` cell, "
                                       "run it, then check again")
            ext.scaffold()  # go.mod and the SDK; keeps the learner's main.go
        build = ext.build()
        seconds["build"] = build.seconds
        attempt = Attempt(self, build)
        t0 = time.monotonic()
        try:
            # The checks' own ✔ lines would bury the verdict: keep them quiet.
            with contextlib.redirect_stdout(io.StringIO()):
                return self.run(attempt)
        finally:
            attempt.close()
            seconds["envoy"] = time.monotonic() - t0

    def __repr__(self) -> str:
        return f"<Exercise {self.id}: {self.title} — .check() .hint() .solution()>"


def _same_code(a: str, b: str) -> bool:
    return [line.rstrip() for line in a.strip().splitlines()] == \
        [line.rstrip() for line in b.strip().splitlines()]


def _outcome(exercise: str, error: Exception) -> Result:
    """Which outcome an error means, and the message that goes with it."""
    if isinstance(error, NotAttempted):
        return Result(exercise, Outcome.NOT_ATTEMPTED, _describe(error))
    if isinstance(error, BuildError):
        first = error.diagnostics[0].pretty() if error.diagnostics else (error.cause or "")
        text = f"your code does not compile: {error.message}\n{first}".rstrip()
        return Result(exercise, Outcome.INCORRECT, text + f"\n   fix: {error.fix}")
    if isinstance(error, ModuleError) and not _unreachable(error):
        return Result(exercise, Outcome.INCORRECT, _describe(error))
    if isinstance(error, (CheckFailed, ConfigError, HTTPError)):
        # The lab's own config is known good: Envoy refusing it means the module failed.
        return Result(exercise, Outcome.INCORRECT, _describe(error))
    if isinstance(error, ProcessExited) and "wasm" in (error.log_tail + (error.cause or "")):
        return Result(exercise, Outcome.INCORRECT, _describe(error))
    if isinstance(error, LabError):
        return Result(exercise, Outcome.COULD_NOT_CHECK,
                      "this is not about your code: " + _describe(error))
    return Result(exercise, Outcome.COULD_NOT_CHECK,
                  f"the check itself failed ({type(error).__name__}: {error}); this is a bug in "
                  "the lab, not in your code\n   fix: please report it, with this message")


def _unreachable(error: ModuleError) -> bool:
    return "could not reach" in error.message


def _describe(error: LabError) -> str:
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
