"""Steady load for the reload tests: one process, one shared httpx client, a loop.

    python tests/load_client.py --url http://127.0.0.1:PORT/ --out load.jsonl \
        --header generation --duration 150 --stop-file stop

Each response (or failure) becomes one JSON line:
``{"i": 12, "sent": <time.monotonic()>, "done": ..., "status": 200, "value": "3", "error": null}``.
``time.monotonic()`` is CLOCK_MONOTONIC on Linux, shared by every process on
the machine, so the test can compare these times with its own.

It stops by itself: after ``--duration`` seconds, after ``--max-requests``
requests, or as soon as ``--stop-file`` exists (the test's "done" signal).
Only loopback URLs are accepted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import httpx


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--out", required=True, help="JSON-lines file to write")
    p.add_argument("--header", default="generation", help="response header to record")
    p.add_argument("--duration", type=float, default=120.0, help="stop after this many seconds")
    p.add_argument("--max-requests", type=int, default=1_000_000)
    p.add_argument("--stop-file", help="stop as soon as this file exists")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds")
    args = p.parse_args(argv)

    host = httpx.URL(args.url).host
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"refusing a non-loopback URL: {args.url}", file=sys.stderr)
        return 2

    deadline = time.monotonic() + args.duration
    sent = 0
    # One client for the whole run: its pooled keep-alive connection is what a
    # real client of a proxy would hold open across the reloads.
    with httpx.Client(timeout=args.timeout) as client, open(args.out, "w", buffering=1) as out:
        while sent < args.max_requests and time.monotonic() < deadline:
            if args.stop_file and sent % 20 == 0 and os.path.exists(args.stop_file):
                break
            record = {"i": sent, "sent": time.monotonic(), "status": None, "value": None, "error": None}
            try:
                r = client.get(args.url)
                record["status"] = r.status_code
                record["value"] = r.headers.get(args.header)
            except httpx.HTTPError as e:
                record["error"] = f"{type(e).__name__}: {e}"
            record["done"] = time.monotonic()
            out.write(json.dumps(record) + "\n")  # line-buffered: the test reads as we go
            sent += 1
    print(f"load_client: {sent} requests", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
