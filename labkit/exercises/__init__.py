"""The lab's exercises: ``q1, q2 = labkit.exercises.load("04")``.

Each exercise has ``check()``, ``hint()`` and ``solution()``. See ``_core`` for
how checks run and what their outcomes mean, and ``nbNN`` for each notebook's
exercises.
"""

from __future__ import annotations

import importlib
import os

from ..errors import LabError
from ._core import Attempt, Exercise, NotAttempted, Outcome, Result

__all__ = ["load", "Exercise", "Attempt", "Result", "Outcome", "NotAttempted", "NOTEBOOKS"]

NOTEBOOKS = ("03", "04", "05")


def load(notebook: str, *, solutions: bool = False, toolchain: str = "go") -> tuple[Exercise, ...]:
    """The exercises of notebook ``notebook`` ("03", "04", ...), in order.

    ``solutions=True`` makes their check() run the reference solution instead
    of the learner's code: how CI tests notebooks. ``LABKIT_SOLUTIONS=1`` in the
    environment does the same (`make test` sets it, so nbval checks every
    solution whatever the notebook's parameters cell says). Both are read now:
    the choice belongs to these exercises, not to the whole kernel. ``toolchain``
    ("go" or "tinygo") is the track the checks build with.
    """
    if toolchain not in ("go", "tinygo"):
        raise LabError(f"unknown toolchain {toolchain!r}", fix="use 'go' or 'tinygo'")
    if notebook not in NOTEBOOKS:
        raise LabError(f"notebook {notebook!r} has no exercises",
                       fix=f"use one of {', '.join(repr(n) for n in NOTEBOOKS)}")
    module = importlib.import_module(f"{__name__}.nb{notebook}")
    solutions = solutions or os.environ.get("LABKIT_SOLUTIONS", "") == "1"
    return tuple(exercise.bound(solutions=bool(solutions), toolchain=toolchain)
                 for exercise in module.EXERCISES)
