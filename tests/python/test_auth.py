"""Client keys (Config(key_id=..., key_secret=...)) on a node with [security]."""

from __future__ import annotations

import os
from typing import Iterator

import pytest

import elliptics
from conftest import Daemon, _free_addr

APP_SECRET = "py-app-secret-0123456789"


@pytest.fixture
def secured(daemon_binary: str, tmp_path) -> Iterator[Daemon]:
    d = str(tmp_path)
    config = os.path.join(d, "node.toml")
    with open(config, "w") as f:
        f.write(
            '[node]\nlisten = ["%s"]\ndata_dir = "%s"\n[[backend]]\ntype = "mem"\n'
            '[security]\ncluster_secret = "py-cluster-secret-0123456789"\n'
            '[[security.keys]]\nid = "app"\nsecret = "%s"\npermissions = ["read", "write"]\n'
            % (_free_addr(), os.path.join(d, "data"), APP_SECRET)
        )
    daemon = Daemon(daemon_binary, 1, d, config)
    yield daemon
    daemon.kill()


def test_key_reads_and_writes(secured: Daemon) -> None:
    with elliptics.Node(config=elliptics.Config(key_id="app", key_secret=APP_SECRET)) as n:
        n.add_remotes(secured.addr)
        s = elliptics.Session(n)
        s.groups = [1]
        s.write_data("k", b"hello").get()
        assert s.read_data("k").get()[0].data == b"hello"


@pytest.mark.parametrize("config", [elliptics.Config(), elliptics.Config(key_id="app", key_secret="wrong-secret-0123456789")])
def test_refused_without_the_key(secured: Daemon, config: elliptics.Config) -> None:
    with elliptics.Node(config=config) as n:
        with pytest.raises(elliptics.NotPermittedError):
            n.add_remotes(secured.addr)
