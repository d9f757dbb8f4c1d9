"""Run notebooks headlessly with papermill and report a table.

``labkit run`` (and ``make run``) executes every notebook into ``build/``;
the executed copies keep their outputs there, the committed ones stay clean.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["run_notebooks", "NotebookRun"]


@dataclass
class NotebookRun:
    notebook: str
    status: str
    seconds: float
    error: str = ""


def run_notebooks(notebooks: list[Path], out_dir: Path, parameters: dict | None = None,
                  kernel: str = "python3") -> list[NotebookRun]:
    import papermill

    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for nb in notebooks:
        t0 = time.monotonic()
        print(f"running {nb.name} ...", flush=True)
        try:
            papermill.execute_notebook(str(nb), str(out_dir / nb.name),
                                       parameters=accepted(nb, parameters or {}),
                                       kernel_name=kernel, cwd=str(nb.parent), progress_bar=False)
            results.append(NotebookRun(nb.name, "ok", time.monotonic() - t0))
        except papermill.PapermillExecutionError as e:
            if _only_expected_errors(out_dir / nb.name):
                results.append(NotebookRun(nb.name, "ok", time.monotonic() - t0))
                continue
            results.append(NotebookRun(nb.name, "FAILED", time.monotonic() - t0,
                                       f"cell {e.exec_count}: {e.ename}: {e.evalue.splitlines()[0] if e.evalue else ''}"))
    return results


def accepted(notebook: Path, parameters: dict) -> dict:
    """The parameters ``notebook`` declares in its ``parameters`` cell.

    papermill warns "Passed unknown parameter" for the others (and injects them
    anyway), so a run with ``-p solutions=true`` would warn for every notebook
    without exercises.
    """
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    return {k: v for k, v in parameters.items() if k in declared}


def _only_expected_errors(executed: Path) -> bool:
    """True when every error in the executed notebook came from a cell tagged
    ``raises-exception``. nbclient (like nbval) runs on past such cells, but
    papermill still fails the run on any error output: undo that, and drop the
    "An Exception was encountered" banner it put into the executed copy."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        if cell.get("metadata", {}).get("papermill", {}).get("exception"):
            return False  # execution stopped at this cell
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors and "raises-exception" not in cell.get("metadata", {}).get("tags", []):
            return False
    nb.cells = [c for c in nb.cells
                if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])]
    nbformat.write(nb, executed)
    return True


def format_table(results: list[NotebookRun]) -> str:
    width = max([len(r.notebook) for r in results] + [8])
    lines = [f"{'notebook'.ljust(width)}  status  seconds", "-" * (width + 17)]
    for r in results:
        lines.append(f"{r.notebook.ljust(width)}  {r.status.ljust(6)}  {r.seconds:7.1f}"
                     + (f"   {r.error}" if r.error else ""))
    total = sum(r.seconds for r in results)
    ok = sum(r.status == "ok" for r in results)
    lines.append("-" * (width + 17))
    lines.append(f"{'total'.ljust(width)}  {ok}/{len(results)} ok {total:7.1f}")
    return "\n".join(lines)
