"""One way to wait for something: :func:`wait_for`.

Every wait in labkit (a process getting ready, a log line appearing, Envoy's
counters moving, an object disappearing from Kubernetes) is a *probe* called
until it returns something truthy, with a deadline, a pause between looks, and
a record of what the last look saw, so that a timeout can say what was there
instead of only that something was not.

    lines = wait_for(lambda: find_lines(), timeout=3, what="the wasm log line 'hi'",
                     seen=lambda: envoy.logs(tail=5))

A probe stops the wait early by raising (a process that exited, say).
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from .errors import LabError, WaitTimeout

__all__ = ["wait_for"]

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
    seen: Callable[[], str] | None = None,
    error: Callable[[str, str], LabError] | None = None,
) -> T:
    """Call ``probe`` until it returns something truthy; return that.

    ``what`` names what is awaited (for the message). ``seen`` describes what
    there is instead, for the error (called once, at the timeout). ``error``
    builds the exception to raise from ``(message, last_seen)``; the default is
    :class:`WaitTimeout`. The probe runs at least once, even with ``timeout=0``.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() >= deadline:
            last = seen() if seen else ""
            message = f"waited {timeout:g} s for {what}, in vain"
            raise (error or _timeout)(message, last)
        time.sleep(interval)


def _timeout(message: str, last_seen: str) -> LabError:
    return WaitTimeout(message, last_seen=last_seen)
