"""wait_for: the one waiting helper."""

from __future__ import annotations

import time

import pytest

from labkit._wait import wait_for
from labkit.errors import CheckFailed, WaitTimeout


def test_returns_the_first_truthy_answer():
    answers = iter([None, 0, "", "ready"])
    assert wait_for(lambda: next(answers), timeout=5, interval=0.001, what="it") == "ready"


def test_a_timeout_says_what_was_awaited_and_what_was_seen():
    t0 = time.monotonic()
    with pytest.raises(WaitTimeout) as info:
        wait_for(lambda: False, timeout=0.2, interval=0.05, what="the answer",
                 seen=lambda: "only silence")
    assert 0.2 <= time.monotonic() - t0 < 2
    assert "the answer" in info.value.message and info.value.last_seen == "only silence"
    assert "only silence" in str(info.value)


def test_the_probe_runs_at_least_once_and_may_stop_the_wait():
    calls = []
    assert wait_for(lambda: calls.append(1) or True, timeout=0, what="x") is True
    assert calls == [1]

    def probe():
        raise CheckFailed("the process exited")

    with pytest.raises(CheckFailed, match="exited"):
        wait_for(probe, timeout=5, what="x")


def test_a_custom_error():
    with pytest.raises(CheckFailed, match="custom: .*nothing"):
        wait_for(lambda: None, timeout=0, what="x", seen=lambda: "nothing",
                 error=lambda message, seen: CheckFailed(f"custom: {message} {seen}"))
