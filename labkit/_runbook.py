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
            papermill.execute_notebook(str(nb), str(out_dir / nb.name), parameters=parameters or {},
                                       kernel_name=kernel, cwd=str(nb.parent), progress_bar=False)
            results.append(NotebookRun(nb.name, "ok", time.monotonic() - t0))
        except papermill.PapermillExecutionError as e:
            results.append(NotebookRun(nb.name, "FAILED", time.monotonic() - t0,
                                       f"cell {e.exec_count}: {e.ename}: {e.evalue.splitlines()[0] if e.evalue else ''}"))
    return results


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
