"""Ports on 127.0.0.1: the one asked for, or a free one.

Everything labkit serves binds 127.0.0.1. A port the caller names must be free
(else :class:`PortInUseError` says which port, what it was for and who holds
it); a port left out is picked free, different from the others picked with it.
"""

from __future__ import annotations

import os
import socket
from typing import Mapping

import psutil

from ._paths import OWNER_VAR, TAG_VAR
from .errors import PortInUseError

__all__ = ["free_port", "free_ports", "pick_ports", "ensure_free", "port_holder"]


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` different free ports (the sockets are held until all are picked)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            sockets.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


LEAVE_IT_OUT = "leave the port out and labkit picks a free one"


def pick_ports(wanted: Mapping[str, int | None], *, instead: str = LEAVE_IT_OUT) -> dict[str, int]:
    """The port asked for under each role, or a free one; all different.

    ``wanted`` maps a role (``"listener"``, ``"admin"``) to a port or None.
    A port asked for must be free; ``instead`` is the alternative the error
    offers when it is not (a YAML file's ports cannot be "left out", for one).
    """
    chosen: dict[str, int] = {}
    for role, port in wanted.items():
        if port is not None:
            if port in chosen.values():
                raise PortInUseError(port, role=role, holder=f"this config's own "
                                     f"{next(r for r, p in chosen.items() if p == port)} port",
                                     fix="give each role its own port")
            ensure_free(port, role=role, instead=instead)
            chosen[role] = port
    missing = [role for role, port in wanted.items() if port is None]
    spare = [p for p in free_ports(len(missing) + len(chosen)) if p not in chosen.values()]
    chosen.update(zip(missing, spare))
    return {role: chosen[role] for role in wanted}


def ensure_free(port: int, *, role: str = "", instead: str = LEAVE_IT_OUT) -> None:
    """Raise :class:`PortInUseError` (naming the holder if it can be found) unless free.

    ``instead`` is what else the learner can do, after stopping the holder.
    """
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return
        except OSError:
            pass
    holder, whose = _holder(port)
    stop = {
        "self": "this kernel itself listens there (a server started in a cell?): close it or "
                "restart the kernel",
        "ours": "it is yours: stop it (e.g. envoy.stop(); labkit.clean() stops everything labkit "
                "started)",
    }.get(whose, "stop whatever holds it (`labkit clean` stops everything labkit started)")
    raise PortInUseError(port, role=role, holder=holder, fix=f"{stop}, or {instead}")


def port_holder(port: int) -> str | None:
    """Who listens on ``port``, in words ("this notebook's kernel (pid 123)"...)."""
    return _holder(port)[0]


def _holder(port: int) -> tuple[str | None, str]:
    """(description, whose): whose is "self" (this process), "ours" (a labkit process
    this process started), or "" (anything else, or unknown)."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if not (conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN):
                continue
            if not conn.pid:
                return None, ""
            if conn.pid == os.getpid():
                return f"this Python process itself (pid {conn.pid}; in a notebook, its kernel)", "self"
            p = psutil.Process(conn.pid)
            environ = p.environ()
            tag = environ.get(TAG_VAR, "")
            if tag:
                owner = environ.get(OWNER_VAR, "")
                by = (", started by this kernel" if owner == str(os.getpid())
                      else f", started by pid {owner}" if owner else "")
                return (f"labkit's '{tag.split(':')[0]}' ({p.name()}, pid {conn.pid}{by})",
                        "ours" if owner == str(os.getpid()) else "")
            return f"{p.name()} (pid {conn.pid})", ""
    except (psutil.Error, OSError):
        pass
    return None, ""
