"""A forked child cannot use the library: it gets elliptics.Error at once, never hangs."""

import os
import time

import elliptics


def _wait_child(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError("the forked child hung")


def test_fork_guard(session, key):
    session.write_data(key, b"parent").get()
    r = os.fork()
    if r == 0:  # the child
        code = 1
        try:
            t0 = time.monotonic()
            try:
                session.read_data(key).get()
                code = 2  # must not succeed
            except elliptics.Error as e:
                ok = (
                    isinstance(e, elliptics.ForkedProcessError)
                    and "fork" in e.message
                    and e.code == -1
                    and time.monotonic() - t0 < 1
                )
                code = 0 if ok else 3
            # every other entry point is guarded too; a new Node as well
            for call in (lambda: session.groups, lambda: elliptics.Node(), lambda: session.write_data(key, b"x")):
                try:
                    call()
                    code = code or 4
                except elliptics.Error:
                    pass
        finally:
            os._exit(code)
    assert _wait_child(r, 20) == 0
    # the parent is unaffected
    assert session.read_data(key).get()[0].data == b"parent"


def test_fork_child_exits_cleanly_with_live_objects(node, key):
    # objects inherited from the parent are dropped in the child without calls
    s = elliptics.Session(node)
    s.groups = [1]
    pending = s.write_data(key, b"x")
    pid = os.fork()
    if pid == 0:
        try:
            del pending
            s.close()  # no library call in the child: just forgets the handle
        finally:
            os._exit(0)
    assert _wait_child(pid, 20) == 0
    assert pending.get()[0].size == 1
    s.groups = [1]  # the parent's session is intact
