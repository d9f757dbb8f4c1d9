"""ManagedProcess and process hygiene: registry, name slots, clean, interrupts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psutil
import pytest

import labkit
from labkit.errors import Interrupted, ProcessExited, StartTimeout
from labkit.processes import ManagedProcess, OutputWait, TCPWait
from helpers import LABKIT_CLI, alive, gone, names_running, unique


def http_server(name: str, port: int, cwd, **kwargs) -> ManagedProcess:
    return ManagedProcess(
        name, [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        wait=TCPWait(port), cwd=cwd, what="web server", **kwargs)


def test_managed_process_lifecycle_and_registry(tmp_path):
    (tmp_path / "hello.txt").write_text("hi from the test\n")
    port = labkit.free_port()
    name = unique("web")
    web = http_server(name, port, tmp_path)
    assert not web.running and web.pid is None
    assert web.start() is web
    try:
        assert web.running
        assert web.ready_after is not None
        assert labkit.curl(f"http://127.0.0.1:{port}/hello.txt").text == "hi from the test\n"

        records = [r for r in labkit.running_processes() if r["name"] == name]
        assert len(records) == 1
        record = records[0]
        assert record["pid"] == web.pid
        assert record["pgid"] == web.pid == os.getpgid(web.pid)  # its own process group
        assert os.getsid(web.pid) == web.pid  # and its own session: the Stop button misses it
        assert record["owner_pid"] == os.getpid()
        assert record["command"] == web.command
        assert psutil.Process(web.pid).environ()["LABKIT_TAG"] == record["tag"]
        assert "127.0.0.1" in repr(web.command) and "running" in repr(web)
    finally:
        pid = web.pid
        web.stop()
    assert not web.running
    assert gone(pid) and not psutil.pid_exists(pid)
    assert name not in names_running()
    assert not (labkit.workspace() / ".labkit" / "processes" / f"{name}.json").exists()
    assert "GET /hello.txt" in web.logs()


def test_same_name_stops_the_first(tmp_path, capsys):
    name = unique("slot")
    first = http_server(name, labkit.free_port(), tmp_path).start()
    second = http_server(name, labkit.free_port(), tmp_path)
    try:
        second.start()
        assert not first.running  # stopped, and reaped by poll()
        assert gone(first.pid)
        assert second.running
        assert [r["pid"] for r in labkit.running_processes() if r["name"] == name] == [second.pid]
        assert f"stopped the previous '{name}'" in capsys.readouterr().out
        # Stopping the old handle must not remove the new process's record.
        first.stop()
        assert name in names_running() and second.running
    finally:
        second.stop()
        first.stop()
    assert name not in names_running()


def test_context_manager_stops(tmp_path):
    port = labkit.free_port()
    with http_server(unique("ctx"), port, tmp_path) as web:
        pid = web.pid
        assert alive(pid)
    assert gone(pid)


def test_process_exiting_while_starting(tmp_path):
    name = unique("exits")
    p = ManagedProcess(
        name, [sys.executable, "-c", "import sys; print('about to fail', flush=True); sys.exit(3)"],
        wait=TCPWait(labkit.free_port()))
    with pytest.raises(ProcessExited) as info:
        p.start()
    assert info.value.returncode == 3
    assert "exited with code 3" in info.value.message
    assert "about to fail" in info.value.cause
    # Process failures carry the process's name and its log tail.
    assert info.value.name == name
    assert "about to fail" in info.value.log_tail
    assert name not in names_running()


def test_missing_program(tmp_path):
    name = unique("missing")
    p = ManagedProcess(name, [str(tmp_path / "no-such-program")])
    with pytest.raises(ProcessExited, match="could not start") as info:
        p.start()
    assert info.value.fix
    assert name not in names_running()


def test_start_timeout_stops_the_process(tmp_path):
    name = unique("slow")
    p = ManagedProcess(name, [sys.executable, "-c", "import time; time.sleep(60)"],
                              wait=OutputWait("never printed"), timeout=0.5)
    with pytest.raises(StartTimeout) as info:
        p.start()
    assert "never printed" in info.value.message
    assert info.value.name == name
    assert gone(p.pid)
    assert name not in names_running()


def test_output_wait(tmp_path):
    p = ManagedProcess(
        unique("talker"),
        [sys.executable, "-u", "-c", "import time; print('ready now'); time.sleep(60)"],
        wait=OutputWait(r"ready\s+now"))
    with p:
        assert p.running and "ready now" in p.logs()
    assert gone(p.pid)


class InterruptedWait:
    """A readiness check that is interrupted, like the Stop button does."""

    description = "the Stop button"

    def __init__(self):
        self.pids: list[int] = []

    def ready(self, process):
        self.pids.append(process.pid)
        assert alive(process.pid)  # the process really started
        raise KeyboardInterrupt


def test_keyboard_interrupt_while_waiting_leaves_nothing_running():
    name = unique("interrupted")
    wait = InterruptedWait()
    p = ManagedProcess(name, [sys.executable, "-c", "import time; time.sleep(60)"], wait=wait)
    with pytest.raises(KeyboardInterrupt) as info:
        p.start()
    # One line saying what was stopped, instead of a traceback through labkit.
    assert isinstance(info.value, Interrupted)
    assert info.value._render_traceback_() == [
        f"\x1b[1;33mInterrupted\x1b[0m: stopped process '{name}' while it was starting; "
        "nothing is left running"]
    assert wait.pids == [p.pid]
    assert gone(p.pid)
    assert not p.running
    assert name not in names_running()


HELPER = """\
import json, sys, time
from labkit.processes import ManagedProcess, TCPWait
web = ManagedProcess({name!r}, [sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                                "{port}"], wait=TCPWait({port}), cwd={cwd!r}).start()
print(json.dumps({{"pid": web.pid}}), flush=True)
time.sleep(120)
"""


def test_cli_clean_stops_what_another_process_started(tmp_path):
    name = unique("other")
    port = labkit.free_port()
    owner = subprocess.Popen(
        [sys.executable, "-c", HELPER.format(name=name, port=port, cwd=str(tmp_path))],
        stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        line = owner.stdout.readline()
        assert line, f"the helper process failed (exit code {owner.poll()})"
        pid = json.loads(line)["pid"]
        assert alive(pid)
        assert name in names_running()
        record = next(r for r in labkit.running_processes() if r["name"] == name)
        assert record["owner_pid"] == owner.pid

        ps = subprocess.run([LABKIT_CLI, "ps"], capture_output=True, text=True, timeout=60)
        assert name in ps.stdout and str(pid) in ps.stdout

        out = subprocess.run([LABKIT_CLI, "clean"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert f"{name} (pid {pid})" in out.stdout
        assert gone(pid)
        assert owner.poll() is None  # the owner itself is left alone
        assert name not in names_running()

        again = subprocess.run([LABKIT_CLI, "clean"], capture_output=True, text=True, timeout=60)
        assert "nothing to stop" in again.stdout
        ps = subprocess.run([LABKIT_CLI, "ps"], capture_output=True, text=True, timeout=60)
        assert "no labkit processes are running" in ps.stdout
    finally:
        owner.kill()
        owner.wait()
        owner.stdout.close()


def test_clean_leaves_other_workspaces_alone(tmp_path):
    """A test run (or another checkout) must not stop the learner's processes."""
    other_ws = tmp_path / "other-workspace"
    name = unique("elsewhere")
    port = labkit.free_port()
    owner = subprocess.Popen(
        [sys.executable, "-c", HELPER.format(name=name, port=port, cwd=str(tmp_path))],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "LABKIT_WORKSPACE": str(other_ws)})
    pid = None
    try:
        pid = json.loads(owner.stdout.readline())["pid"]
        labkit.clean(verbose=False)
        assert alive(pid), "clean() stopped a process that belongs to another workspace"
        out = subprocess.run([LABKIT_CLI, "clean"], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "LABKIT_WORKSPACE": str(other_ws)})
        assert f"{name} (pid {pid})" in out.stdout
        assert gone(pid)
    finally:
        owner.kill()
        owner.wait()
        owner.stdout.close()
        if pid is not None and alive(pid):
            os.killpg(pid, 9)


def test_clean_sweeps_untracked_leftovers(tmp_path):
    """A tagged process whose record is lost (e.g. a deleted registry) is still found."""
    name = unique("untracked")
    p = ManagedProcess(name, [sys.executable, "-c", "import time; time.sleep(60)"]).start()
    try:
        (labkit.workspace() / ".labkit" / "processes" / f"{name}.json").unlink()
        assert name not in names_running()
        stopped = labkit.clean(verbose=False)
        assert f"{name} (pid {p.pid}, untracked)" in stopped
        assert gone(p.pid)
    finally:
        p.stop()


def test_free_port_is_free():
    import socket

    port = labkit.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
