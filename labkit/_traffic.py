"""Requests in the background while something else happens: ``labkit.traffic()``.

    with labkit.traffic(envoy) as during:
        envoy.reload(new_filter)
    during.tally("x-build")        # 57 × 200 x-build: 1, 3 × 200 x-build: 2
    during.failed                  # responses that were not 200, and requests with no answer

One thread sends a request every ``interval`` seconds until the block ends
(the Stop button included) and keeps every :class:`Response`, or the
:class:`HTTPError` of a request that got no answer.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from typing import Iterator, Mapping

from ._http import Response, Target, curl
from .errors import HTTPError

__all__ = ["Traffic", "traffic"]


class Traffic:
    """What came back to the requests sent during the block, in order."""

    def __init__(self) -> None:
        self.responses: list[Response | HTTPError] = []
        self._lock = threading.Lock()

    def _add(self, item: Response | HTTPError) -> None:
        with self._lock:
            self.responses.append(item)

    def __len__(self) -> int:
        return len(self.responses)

    def __iter__(self):
        return iter(list(self.responses))

    @property
    def failed(self) -> list[Response | HTTPError]:
        """Requests with no answer, and answers whose status was not 200."""
        return [r for r in self if not isinstance(r, Response) or r.status != 200]

    def counts(self, *headers: str) -> collections.Counter:
        """How many answers had each status and value of ``headers`` ("no answer" for errors)."""
        def key(r: Response | HTTPError) -> str:
            if not isinstance(r, Response):
                return "no answer"
            values = "  ".join(f"{h}: {r.headers.get(h, '-')}" for h in headers)
            return f"{r.status}  {values}".rstrip()
        return collections.Counter(key(r) for r in self)

    def tally(self, *headers: str) -> collections.Counter:
        """Print :meth:`counts`, most common first, and return them."""
        counts = self.counts(*headers)
        for what, n in counts.most_common():
            print(f"{n:4} × {what}")
        return counts

    def __repr__(self) -> str:
        return f"<Traffic {len(self)} requests, {len(self.failed)} failed>"


@contextlib.contextmanager
def traffic(target: Target | str, path: str = "/", *, interval: float = 0.05,
            headers: Mapping[str, str] | None = None, timeout: float = 5.0) -> Iterator[Traffic]:
    """Send ``GET path`` to ``target`` every ``interval`` s while the block runs."""
    seen, done = Traffic(), threading.Event()

    def send() -> None:
        while not done.is_set():
            try:
                seen._add(curl(target, path, headers=headers, timeout=timeout))
            except HTTPError as err:  # refused, reset or timed out: no answer
                seen._add(err)
            done.wait(interval)

    sender = threading.Thread(target=send, name="labkit-traffic", daemon=True)
    sender.start()
    try:
        yield seen
    finally:
        done.set()
        sender.join()
