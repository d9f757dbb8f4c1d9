"""`make lab` (scripts/lab.sh): JupyterLab starts as root too, and its terminal finds the lab's tools.

Before: as root, `jupyter lab` refused to start without --allow-root, and the
terminal's PATH lacked the venv's bin, so `labkit`, `func-e` and `envoy` were
"command not found" although notebook 02 sends the learner there.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from pathlib import Path

import httpx
import pytest

from helpers import REPO, unique
from labkit._ports import free_port
from labkit.processes import HTTPWait, ManagedProcess

VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"


@pytest.fixture
def lab(tmp_path):
    """scripts/lab.sh on a free port with a token, as the user running the tests (root in CI)."""
    port, token = free_port(), secrets.token_hex(8)
    env = {"HOME": str(tmp_path), "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "VENV": str(VENV_BIN.parent)}
    # PATH without the venv: the script must add it itself.
    env["PATH"] = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                  if Path(p).resolve() != VENV_BIN.resolve())
    server = ManagedProcess(
        unique("lab"), [str(REPO / "scripts" / "lab.sh"), "--no-browser", f"--port={port}",
                        f"--IdentityProvider.token={token}"],
        env=env, wait=HTTPWait(f"http://127.0.0.1:{port}/api/status?token={token}"),
        timeout=60, what="JupyterLab")
    server.start()
    yield f"127.0.0.1:{port}", token
    server.stop()


async def _terminal_says(host: str, token: str, command: str) -> str:
    from tornado.websocket import websocket_connect

    async with httpx.AsyncClient() as client:
        r = await client.post(f"http://{host}/api/terminals?token={token}")
        r.raise_for_status()
        name = r.json()["name"]
    ws = await websocket_connect(f"ws://{host}/terminals/websocket/{name}?token={token}")
    # The marker is computed, so the echo of the typed command never contains it.
    ws.write_message(json.dumps(["stdin", f"{command}; echo END-$((6*7))\r"]))
    seen = ""
    while "END-42" not in seen:
        message = await asyncio.wait_for(ws.read_message(), timeout=30)
        if message is None:
            break
        kind, *payload = json.loads(message)
        if kind == "stdout":
            seen += payload[0]
    ws.close()
    return seen


@pytest.mark.jupyter
def test_lab_starts_and_its_terminal_finds_the_tools(lab):
    host, token = lab
    if os.getuid() == 0:
        # The server is up: as root that needs --allow-root, which the script adds.
        assert httpx.get(f"http://{host}/api/status?token={token}").status_code == 200
    said = asyncio.run(_terminal_says(host, token, "command -v labkit func-e envoy"))
    found = [line.strip() for line in said.splitlines() if line.strip().startswith("/")]
    for tool in ("labkit", "func-e", "envoy"):
        assert str(VENV_BIN / tool) in found, f"{tool} not found from the terminal:\n{said}"
