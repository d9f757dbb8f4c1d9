"""Where labkit keeps things, and the environment variables it reads and sets.

* the **workspace** holds learner projects (Go sources, built modules, Envoy
  configs). In a checkout it is ``<repo>/workspace`` (git-ignored); elsewhere
  ``~/labkit-workspace``. ``LABKIT_WORKSPACE`` overrides both.
* the **state** folder (``<workspace>/.labkit``) holds the process registry and
  logs, so that ``labkit clean`` in a terminal finds what a kernel started.
* the **cache** holds what is slow to make and keyed by version (the local
  Kubernetes control plane's binaries, Istio's CRDs, TinyGo): per user, in
  ``$XDG_CACHE_HOME/labkit`` (``~/.cache/labkit``), so a second clone or a CI
  run on the same machine reuses it. ``LABKIT_CACHE`` overrides it.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["workspace", "state_dir", "repo_root", "cache_dir", "TAG_VAR", "STATE_VAR", "OWNER_VAR"]

# Set on every process labkit starts: its name and a unique id ("nb02:1a2b..."),
# so that leftovers can be found even when the registry is lost.
TAG_VAR = "LABKIT_TAG"
# The state folder of the workspace that started it: `labkit clean` leaves
# other workspaces' processes (another checkout, a test run) alone.
STATE_VAR = "LABKIT_STATE"
# The pid of the Python process (kernel) that started it.
OWNER_VAR = "LABKIT_OWNER"


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
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "labkit"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()
