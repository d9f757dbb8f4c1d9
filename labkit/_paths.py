"""Where labkit keeps things.

* the **workspace** holds learner projects (Go sources, built modules, Envoy
  configs). In a checkout it is ``<repo>/workspace`` (git-ignored); elsewhere
  ``~/labkit-workspace``. ``LABKIT_WORKSPACE`` overrides both.
* the **state** folder (``<workspace>/.labkit``) holds the process registry and
  logs, so that ``labkit clean`` in a terminal finds what a kernel started.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["workspace", "state_dir", "repo_root"]


def repo_root() -> Path | None:
    """The checkout labkit runs from, if it runs from one."""
    here = Path(__file__).resolve().parent.parent
    if (here / "notebooks").is_dir() and (here / "pyproject.toml").is_file():
        return here
    return None


def workspace() -> Path:
    env = os.environ.get("LABKIT_WORKSPACE")
    if env:
        path = Path(env).expanduser()
    elif (root := repo_root()) is not None:
        path = root / "workspace"
    else:
        path = Path.home() / "labkit-workspace"
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def state_dir(*parts: str) -> Path:
    path = workspace().joinpath(".labkit", *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
