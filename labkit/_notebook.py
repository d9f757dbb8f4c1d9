"""Jupyter integration: the ``%%gofile`` cell magic.

``%%gofile hello`` writes the cell to ``workspace/hello/main.go`` (a second
argument names another file), so the Go code a learner reads and edits lives
in the notebook. (Short error display is LabError._render_traceback_.)
"""

from __future__ import annotations

from ._extension import Extension
from .errors import LabError

__all__ = ["load_ipython_extension"]


def _gofile(line: str, cell: str) -> None:
    args = line.split()
    if not args or len(args) > 2:
        raise LabError("usage: %%gofile <project> [file.go]",
                       fix="e.g. `%%gofile hello` writes workspace/hello/main.go")
    ext = Extension(args[0])
    path = ext.write(args[1] if len(args) == 2 else "main.go", cell)
    note = ""
    if ext.toolchain == "tinygo" and "github.com/proxy-wasm/proxy-wasm-go-sdk" in cell:
        note = ", for the TinyGo track: importing github.com/tetratelabs/proxy-wasm-go-sdk"
    print(f"wrote {path} ({len(cell.splitlines())} lines{note})")


def load_ipython_extension(ipython) -> None:
    ipython.register_magic_function(_gofile, "cell", "gofile")


def _autoload() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is not None and hasattr(ip, "register_magic_function"):
        load_ipython_extension(ip)
