"""``curl()``: send one request and look at the answer like ``curl -v`` would.

    r = labkit.curl(envoy, "/", headers={"hello": "world"})
    r                                   # a table in the notebook
    r.expect_status(200).expect_header("my-new-header", "some-value-here")

The ``expect_*`` helpers raise :class:`CheckFailed` with what was expected and
what was seen, so a checkpoint cell fails loudly.
"""

from __future__ import annotations

import functools
import html
import json
from typing import Any, Mapping, Protocol

import httpx

from .errors import CheckFailed, HTTPError

__all__ = ["curl", "Response", "shared_client", "Target"]


class Target(Protocol):
    """Anything with a listener URL: an Envoy, a gateway, an httpbin."""

    @property
    def url(self) -> str: ...


@functools.cache
def shared_client() -> httpx.Client:
    """One client for every request labkit sends.

    Building an httpx.Client costs ~50 ms (its SSL context), which adds up over
    a burst of requests or a readiness poll. No keep-alive: like curl, each
    request opens its own connection, so an Envoy restarted on the same port
    never meets a stale pooled connection.
    """
    return httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))


class Response:
    """Status, headers and body of one HTTP exchange."""

    def __init__(self, response: httpx.Response):
        self._r = response
        self.status: int = response.status_code
        self.headers: httpx.Headers = response.headers
        self.text: str = response.text
        try:
            self.elapsed_ms: float = response.elapsed.total_seconds() * 1000
        except RuntimeError:  # a test transport's response carries no timing
            self.elapsed_ms = 0.0

    def json(self) -> Any:
        """The body, parsed as JSON (httpbin's echoes are JSON)."""
        try:
            return json.loads(self.text)
        except ValueError:
            raise CheckFailed(f"the {self.status} response's body is not JSON: {self.text[:120]!r}",
                              fix="read the response: an error page, or the wrong path?") from None

    @property
    def request_line(self) -> str:
        req = self._r.request
        return f"{req.method} {req.url.raw_path.decode()} HTTP/1.1"

    def verbose(self) -> str:
        """The exchange in ``curl -v`` style (``>`` sent, ``<`` received)."""
        req = self._r.request
        lines = [f"> {self.request_line}"]
        lines += [f"> {k}: {v}" for k, v in req.headers.items()]
        lines.append(">")
        lines.append(f"< HTTP/1.1 {self.status} {self._r.reason_phrase}")
        lines += [f"< {k}: {v}" for k, v in self.headers.multi_items()]
        lines.append("<")
        lines.append(self.text.rstrip("\n"))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.verbose()

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td><code>{html.escape(k)}</code></td><td><code>{html.escape(v)}</code></td></tr>"
                       for k, v in self.headers.multi_items())
        return (f"<div><b>{self.status} {html.escape(self._r.reason_phrase)}</b> "
                f"for <code>{html.escape(self.request_line)}</code> in {self.elapsed_ms:.1f} ms</div>"
                f"<table><tr><th>response header</th><th>value</th></tr>{rows}</table>"
                f"<pre>{html.escape(self.text)}</pre>")

    # ---------------------------------------------------------- checkpoints
    def expect_status(self, status: int) -> "Response":
        if self.status != status:
            raise CheckFailed(f"expected status {status}, got {self.status}",
                              cause=self.verbose(), fix=_fix_for_status(self.status))
        print(f"✔ status is {status}")
        return self

    def expect_header(self, name: str, value: str | None = None) -> "Response":
        got = self.headers.get_list(name)
        if not got:
            present = ", ".join(sorted(set(self.headers.keys()))) or "none"
            raise CheckFailed(
                f"expected response header {name!r}" + (f" = {value!r}" if value is not None else "")
                + f", but it is missing (headers present: {present})",
                fix="check the header name in your Go code, rebuild, and restart Envoy so it loads "
                    "the new module")
        if value is not None and value not in got:
            raise CheckFailed(f"expected response header {name}={value!r}, got {name}={got[0]!r}",
                              fix="check the value your Go code sets, rebuild and restart Envoy")
        print(f"✔ header {name}: {value if value is not None else got[0]}")
        return self

    def expect_no_header(self, name: str) -> "Response":
        if name in self.headers:
            raise CheckFailed(f"expected no response header {name!r}, got {name}={self.headers[name]!r}")
        print(f"✔ no header {name}")
        return self

    def expect_body(self, contains: str) -> "Response":
        if contains not in self.text:
            raise CheckFailed(f"expected the body to contain {contains!r}, got {self.text[:200]!r}")
        print(f"✔ body contains {contains!r}")
        return self


def _fix_for_status(status: int) -> str | None:
    if status == 503:
        return ("503 usually means a Wasm filter failed: it panicked (its VM is dead from then on, "
                "under the default failure_policy FAIL_CLOSED) or could not start; or the route has "
                "no backend: read envoy.logs(tail=20)")
    if status == 500:
        return "500 comes from Envoy or a filter's own SendHttpResponse: read envoy.logs(tail=20)"
    return None


def curl(
    target: Target | str,
    path: str = "/",
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: str | bytes | None = None,
    timeout: float = 5.0,
    transport: httpx.BaseTransport | None = None,
) -> Response:
    """Send one request to an Envoy (its listener), anything with a ``url``, or a URL.

    ``transport`` swaps the network for tests (e.g. ``httpx.MockTransport``).
    """
    base = target if isinstance(target, str) else target.url
    if isinstance(target, str) and path == "/" and httpx.URL(target).path not in ("", "/"):
        url = target  # curl("http://host/stats/prometheus"): the URL as given, no "/" appended
    else:
        url = base.rstrip("/") + path if path.startswith("/") else path
    try:
        if transport is None:
            r = shared_client().request(method, url, headers=dict(headers or {}), content=body,
                                        timeout=timeout)
        else:
            with httpx.Client(timeout=timeout, transport=transport) as client:
                r = client.request(method, url, headers=dict(headers or {}), content=body)
    except httpx.ConnectError as e:
        hint = ""
        if not isinstance(target, str) and getattr(target, "running", True) is False:
            hint = f" ({getattr(target, 'name', 'it')!r} is not running: call .start())"
        raise HTTPError(f"could not connect to {url}{hint}", cause=str(e),
                        fix="start Envoy first, and check the port") from None
    except httpx.TimeoutException:
        raise HTTPError(f"no answer from {url} within {timeout} s",
                        fix="a filter that returns ActionPause without resuming hangs requests; "
                            "check the Go code") from None
    except httpx.RemoteProtocolError as e:
        raise HTTPError(f"{url} answered with a response that is not valid HTTP", cause=str(e),
                        fix="usually a header the filter added has a name HTTP does not allow "
                            "(spaces, '#', ':'): check the names passed to AddHttpResponseHeader") from None
    except httpx.TransportError as e:  # reset, broken pipe...: the server went away mid-request
        raise HTTPError(f"the connection to {url} broke before an answer came", cause=str(e),
                        fix="the server closed it (an Envoy stopping or restarting does): send the "
                            "request again once it runs") from None
    return Response(r)
