"""Helpers the tests share (fixtures live in conftest.py; these are plain functions)."""

from __future__ import annotations

import re
import sys
import time
import uuid
from pathlib import Path

import psutil

import labkit

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
LABKIT_CLI = str(Path(sys.executable).parent / "labkit")


def unique(prefix: str = "t") -> str:
    """A process/Envoy name nobody else uses (a name is a slot)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def gone(pid: int | None, timeout: float = 10.0) -> bool:
    """True once ``pid`` no longer runs (a zombie counts as gone)."""
    assert pid is not None
    deadline = time.monotonic() + timeout
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def envoy_children() -> list[psutil.Process]:
    """Live envoy / func-e processes started (directly or not) by this test process."""
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and re.search(r"envoy|func-e", p.name()):
                out.append(p)
        except psutil.NoSuchProcess:
            continue
    return out


def names_running() -> set[str]:
    return {r["name"] for r in labkit.running_processes()}


def refusing_plugin_source(message: str) -> str:
    """Go source of a filter whose OnPluginStart logs ``message`` and fails."""
    return REFUSING_PLUGIN.replace("MESSAGE", message)


REFUSING_PLUGIN = """\
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{}
}

type pluginContext struct{ types.DefaultPluginContext }

func (*pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	proxywasm.LogCritical("MESSAGE")
	return types.OnPluginStartStatusFailed
}
"""
