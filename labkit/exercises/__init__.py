"""The lab's exercises: ``q1, q2 = labkit.exercises.load("04")``.

Each exercise has ``check()``, ``hint()`` and ``solution()``. See ``_core`` for
how checks run, and ``nbNN`` for each notebook's exercises.
"""

from __future__ import annotations

import importlib

from ._core import Attempt, Exercise, Result, set_solutions, solutions_enabled

__all__ = ["load", "Exercise", "Attempt", "Result", "solutions_enabled"]


def load(notebook: str, *, solutions: bool = False) -> tuple[Exercise, ...]:
    """The exercises of notebook ``notebook`` ("03", "04", ...), in order.

    ``solutions=True`` (or ``LABKIT_SOLUTIONS=1``) makes every check() run the
    reference solution instead of the learner's code: how CI tests notebooks.
    """
    try:
        module = importlib.import_module(f"{__name__}.nb{notebook}")
    except ModuleNotFoundError:
        from .._errors import LabError

        raise LabError(f"notebook {notebook!r} has no exercises", fix="use '03', '04' or '05'") from None
    set_solutions(solutions)
    return module.EXERCISES
