"""`labkit run` (`make run`): papermill with the lab's parameters, no spurious warnings."""

from __future__ import annotations

import subprocess

import nbformat
import pytest

from helpers import LABKIT_CLI
from labkit._runbook import accepted


def notebook(path, *, parameters: bool):
    nb = nbformat.v4.new_notebook()
    cells = [nbformat.v4.new_code_cell("print('hello from', __name__)")]
    if parameters:
        cell = nbformat.v4.new_code_cell("solutions = False")
        cell.metadata["tags"] = ["parameters"]
        cells.insert(0, cell)
        cells.append(nbformat.v4.new_code_cell("print('solutions', solutions)"))
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_only_declared_parameters_are_passed(tmp_path):
    with_cell = notebook(tmp_path / "with.ipynb", parameters=True)
    without = notebook(tmp_path / "without.ipynb", parameters=False)
    assert accepted(with_cell, {"solutions": True, "other": 1}) == {"solutions": True}
    assert accepted(without, {"solutions": True}) == {}


@pytest.mark.jupyter
def test_labkit_run_warns_about_nothing(tmp_path):
    """Before: 'Passed unknown parameter: solutions' for every notebook without exercises."""
    paths = [notebook(tmp_path / "01-a.ipynb", parameters=False),
             notebook(tmp_path / "02-b.ipynb", parameters=True)]
    out = subprocess.run([LABKIT_CLI, "run", *map(str, paths), "--out", str(tmp_path / "out"),
                          "-p", "solutions=true"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "unknown parameter" not in (out.stdout + out.stderr).lower()
    assert "2/2 ok" in out.stdout
    ran = nbformat.read(tmp_path / "out" / "02-b.ipynb", as_version=4)
    assert "solutions True" in "".join(o.get("text", "") for c in ran.cells for o in c.get("outputs", []))
