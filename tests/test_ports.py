"""Ports: the one asked for or a free one, and a PortInUseError that says which and whose."""

from __future__ import annotations

import socket

import pytest

from labkit._ports import LEAVE_IT_OUT, ensure_free, free_ports, pick_ports
from labkit.errors import PortInUseError


@pytest.fixture
def held():
    """A port this very process listens on (as a learner's cell could)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_free_ports_are_distinct_and_free():
    ports = free_ports(5)
    assert len(set(ports)) == 5
    for port in ports:
        ensure_free(port)


def test_pick_ports_keeps_what_is_asked_and_fills_the_rest():
    wanted = free_ports(1)[0]
    chosen = pick_ports({"listener": wanted, "admin": None, "other": None})
    assert chosen["listener"] == wanted
    assert len(set(chosen.values())) == 3


def test_a_port_held_by_this_kernel_says_which_port_and_whose(held):
    """Before: 'port N is already in use by python (pid P)', fix: 'leave the port out'."""
    with pytest.raises(PortInUseError) as info:
        pick_ports({"listener": None, "admin": held})
    err = info.value
    assert (err.port, err.role) == (held, "admin")
    assert err.message.startswith(f"the admin port {held} on 127.0.0.1 is already in use")
    assert "this Python process itself" in err.message and "its kernel" in err.message
    assert err.fix.startswith("this kernel itself listens there")
    assert err.fix.endswith(LEAVE_IT_OUT)


def test_a_config_files_port_is_not_to_be_left_out(held):
    with pytest.raises(PortInUseError) as info:
        pick_ports({"listener": held}, instead="change its port_value in envoy.yaml")
    assert "leave the port out" not in info.value.fix
    assert info.value.fix.endswith("change its port_value in envoy.yaml")


def test_the_same_port_twice_is_refused():
    port = free_ports(1)[0]
    with pytest.raises(PortInUseError, match="this config's own listener port"):
        pick_ports({"listener": port, "admin": port})
