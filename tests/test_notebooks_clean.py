"""Committed notebooks carry no outputs and no execution counts.

Outputs in the repository are stale the moment labkit changes, make diffs
unreadable, and nbval would compare them. `make run` writes executed copies
to build/ instead.
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def problems(path: Path) -> list[str]:
    """Every code cell that has outputs or an execution count, as 'file cell N: ...'."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for index, cell in enumerate(nb.get("cells", []), 1):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            found.append(f"{path.name} cell {index}: has {len(cell['outputs'])} output(s)")
        if cell.get("execution_count") is not None:
            found.append(f"{path.name} cell {index}: execution_count {cell['execution_count']}")
    return found


def test_committed_notebooks_have_no_outputs():
    found = [p for nb in NOTEBOOKS for p in problems(nb)]
    assert not found, ("notebooks must be committed without outputs (clear them, e.g. "
                       "`jupyter nbconvert --clear-output --inplace notebooks/*.ipynb`):\n"
                       + "\n".join(found))


def test_the_check_catches_outputs(tmp_path):
    """The check above must be able to fail: feed it a notebook that was run."""
    cell = {"cell_type": "code", "metadata": {}, "source": "print(1)",
            "execution_count": 3, "outputs": [{"output_type": "stream", "name": "stdout",
                                               "text": "1\n"}]}
    clean = {**cell, "execution_count": None, "outputs": []}
    markdown = {"cell_type": "markdown", "metadata": {}, "source": "# title"}
    nb = {"cells": [markdown, clean, cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "ran.ipynb"
    path.write_text(json.dumps(nb))
    assert problems(path) == ["ran.ipynb cell 3: has 1 output(s)", "ran.ipynb cell 3: execution_count 3"]
