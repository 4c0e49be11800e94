"""Recovery jobs from Python: start, follow, control (RECOVERY)."""

from __future__ import annotations

import time

import pytest

import elliptics


def _wait_finished(s: elliptics.Session, address: str, job_id: int) -> elliptics.RecoveryJob:
    deadline = time.monotonic() + 30
    while True:
        jobs = [j for j in s.recovery_status(address) if j.id == job_id]
        assert len(jobs) == 1, "job %d not listed" % job_id
        if jobs[0].finished:
            return jobs[0]
        assert time.monotonic() < deadline, "job %d never finished: %r" % (job_id, jobs[0])
        time.sleep(0.05)


def test_dc_fills_a_group(joined_cluster, key):
    n = joined_cluster.node()
    try:
        s = elliptics.Session(n)
        s.groups = [2]
        s.write_data(key, b"only in group 2").get()
        g1 = joined_cluster.daemons[1].addr

        jobs = s.start_recovery("dc", address=g1, verify=True, objects_rate=10000)
        assert len(jobs) == 1
        job = jobs[0]
        assert (job.kind, job.verify, job.group_id) == ("dc", True, 1)
        assert str(job.address.port) == g1.rsplit(":", 1)[1]
        done = _wait_finished(s, g1, job.id)
        assert done.state == "done", done
        assert done.moved >= 1 and done.corrupt == 0

        s.groups = [1]
        assert s.read_data(key).get()[0].data == b"only in group 2"
        # Finished jobs refuse control.
        with pytest.raises(elliptics.InvalidError):
            s.pause_recovery(g1, job.id)
    finally:
        n.close()


def test_dry_run_moves_nothing(joined_cluster, key):
    n = joined_cluster.node()
    try:
        s = elliptics.Session(n)
        s.groups = [3]
        s.write_data(key, b"only in group 3").get()
        g2 = joined_cluster.daemons[2].addr
        job = s.start_recovery("dc", address=g2, dry_run=True)[0]
        done = _wait_finished(s, g2, job.id)
        assert done.dry_run and done.state == "done" and done.moved == 0
        s.groups = [2]
        with pytest.raises(elliptics.NotFoundError):
            s.read_data(key).get()
    finally:
        n.close()


def test_status_of_every_node_and_errors(joined_cluster):
    n = joined_cluster.node()
    try:
        s = elliptics.Session(n)
        every = s.recovery_status()
        assert {j.address.port for j in every} <= {int(a.rsplit(":", 1)[1]) for a in joined_cluster.addrs}
        a = joined_cluster.addrs[0]
        with pytest.raises(elliptics.NotFoundError):
            s.stop_recovery(a, 12345)
        with pytest.raises(ValueError):
            s.start_recovery("defrag", address=a)
        # A node still in the route table is not gone.
        with pytest.raises(elliptics.InvalidError):
            s.forget_node(a, joined_cluster.addrs[1])
    finally:
        n.close()
