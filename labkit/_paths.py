"""Where labkit keeps things.

* the **workspace** holds learner projects (Go sources, built modules, Envoy
  configs). In a checkout it is ``<repo>/workspace`` (git-ignored); elsewhere
  ``~/labkit-workspace``. ``LABKIT_WORKSPACE`` overrides both.
* the **state** folder (``<workspace>/.labkit``) holds the process registry and
  logs, so that ``labkit clean`` in a terminal finds what a kernel started.
* the **cache** holds things that are slow to make and keyed by version (the
  local Kubernetes control plane's binaries, Istio's CRDs). In a checkout it
  is ``<repo>/.cache/labkit``; elsewhere ``~/.cache/labkit``.
  ``LABKIT_CACHE`` overrides both. Tests share it, unlike the workspace.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["workspace", "state_dir", "repo_root", "cache_dir"]


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


def cache_dir(*parts: str) -> Path:
    env = os.environ.get("LABKIT_CACHE")
    if env:
        base = Path(env).expanduser()
    elif (root := repo_root()) is not None:
        base = root / ".cache" / "labkit"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "labkit"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()
