"""Value types, enums and errors: no cluster needed."""

import pickle
import socket

import pytest

import elliptics


def test_id_forms_and_ordering():
    raw = bytes(range(64))
    a = elliptics.Id(list(raw), 2)
    assert a.id == list(raw)
    assert a.group_id == 2
    assert str(a) == raw.hex()
    assert elliptics.Id.from_hex(raw.hex(), 2) == a
    assert elliptics.Id(raw, 2) == a
    assert elliptics.Id(raw, 3) != a
    # short forms are zero-padded on the right
    assert elliptics.Id("ff").id == [255] + [0] * 63
    assert elliptics.Id([1, 2]).id[:3] == [1, 2, 0]
    assert elliptics.Id([0] * 64, 0) < elliptics.Id([255] * 64, 0)
    assert sorted([elliptics.Id("02"), elliptics.Id("01")]) == [elliptics.Id("01"), elliptics.Id("02")]
    assert len({elliptics.Id("01", 1), elliptics.Id("01", 1), elliptics.Id("01", 2)}) == 2
    assert pickle.loads(pickle.dumps(a)) == a
    with pytest.raises(ValueError):
        elliptics.Id(b"x" * 65)
    with pytest.raises(ValueError):
        elliptics.Id("zz")


def test_time():
    t = elliptics.Time(10, 5)
    assert (t.tsec, t.tnsec) == (10, 5)
    assert elliptics.Time(10, 5) == t
    assert elliptics.Time(10, 4) < t < elliptics.Time(11, 0)
    assert len({t, elliptics.Time(10, 5)}) == 1
    now = elliptics.Time.now()
    assert now > elliptics.Time(1_600_000_000, 0)
    assert abs(float(now) - __import__("time").time()) < 5
    assert str(elliptics.Time(0, 1000)) == "1970-01-01 00:00:00.000001"
    with pytest.raises(OverflowError):
        elliptics.Time(-1, 0)


def test_address():
    a = elliptics.Address("127.0.0.1", 1025)
    assert (a.host, a.port, a.family) == ("127.0.0.1", 1025, socket.AF_INET)
    assert str(a) == "127.0.0.1:1025:%d" % socket.AF_INET
    assert a.host_port() == "127.0.0.1:1025"
    assert elliptics.Address.from_host_port("127.0.0.1:1025") == a
    assert elliptics.Address.from_host_port_family(str(a)) == a
    assert elliptics.Address.parse(str(a)) == a
    assert tuple(a) == ("127.0.0.1", 1025, socket.AF_INET)
    assert len({a, elliptics.Address("127.0.0.1", 1025)}) == 1
    assert elliptics.Address("localhost", 1, socket.AF_INET).host == "127.0.0.1"
    v6 = elliptics.Address("::1", 80)
    assert v6.host_port() == "[::1]:80" and v6.family == socket.AF_INET6
    with pytest.raises(elliptics.InvalidError):
        elliptics.Address.from_host_port("nonsense")


def test_enums_have_original_values():
    ep = elliptics.exceptions_policy
    assert (ep.no_exceptions, ep.throw_at_start, ep.throw_at_wait, ep.throw_at_get, ep.throw_at_iterator_end) == (
        0,
        1,
        2,
        4,
        8,
    )
    assert ep.default_exceptions == ep.throw_at_wait | ep.throw_at_get | ep.throw_at_iterator_end
    c = elliptics.checkers
    assert (c.no_check, c.at_least_one, c.all, c.quorum) == (0, 1, 2, 3)
    f = elliptics.filters
    assert (f.positive, f.negative, f.all) == (0, 1, 2)
    assert f.all_with_ack == f.all and f.positive_final == f.positive
    assert [int(x) for x in elliptics.log_level] == [0, 1, 2, 3, 4]
    assert elliptics.io_flags.append == 2 and elliptics.io_flags.cas_timestamp == 1 << 15
    assert elliptics.command_flags.direct == 8 and elliptics.command_flags.trace_bit == 256


@pytest.mark.parametrize(
    "code,cls",
    [
        (-1, elliptics.NotPermittedError),
        (-2, elliptics.NotFoundError),
        (-5, elliptics.BackendIOError),
        (-6, elliptics.NoRouteError),
        (-11, elliptics.TryAgainError),
        (-12, elliptics.OutOfMemoryError),
        (-17, elliptics.ExistsError),
        (-22, elliptics.InvalidError),
        (-28, elliptics.NoSpaceError),
        (-30, elliptics.ReadOnlyError),
        (-71, elliptics.ProtocolError),
        (-77, elliptics.CompareAndSwapError),
        (-84, elliptics.CorruptError),
        (-90, elliptics.TooLargeError),
        (-95, elliptics.NotSupportedError),
        (-104, elliptics.ConnectionError),
        (-108, elliptics.ShutdownError),
        (-110, elliptics.TimeoutError),
        (-114, elliptics.AlreadyError),
        (-125, elliptics.CancelledError),
        (-9999, elliptics.Error),
    ],
)
def test_error_classes(code, cls):
    assert elliptics.error_class(code) is cls
    e = elliptics.make_error(code, "oops")
    assert type(e) is cls and isinstance(e, elliptics.Error)
    assert e.code == code
    assert e.message.startswith("oops: ") and e.message.endswith(": %d" % code)
    assert str(e) == e.message
    assert e.info == elliptics.ErrorInfo(code, e.message)
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is cls and again.code == code


def test_error_message_format_and_builtin_bases():
    e = elliptics.make_error(-6, "insufficient results count due to checker: 1 of 3 (3)")
    assert e.message == "insufficient results count due to checker: 1 of 3 (3): No such device or address: -6"
    assert isinstance(elliptics.make_error(-110), TimeoutError)  # builtins.TimeoutError
    assert isinstance(elliptics.make_error(-104), ConnectionError)  # builtins.ConnectionError
    assert isinstance(elliptics.make_error(-22), ValueError)
    assert issubclass(elliptics.ShutdownError, elliptics.ConnectionError)
    assert issubclass(elliptics.CorruptError, elliptics.BackendIOError)


def test_library_version():
    assert elliptics.library_version() == elliptics.__version__ == "0.1.0"
    assert elliptics.abi_version() == elliptics.ABI_VERSION == 1
    assert elliptics.strerror(-2)


def test_config():
    c = elliptics.Config()
    assert c.wait_timeout == 5 and c.check_timeout == 5
    c.io_thread_num = 4
    assert c.io_thread_num == 4
    with pytest.raises(OverflowError):
        c.io_thread_num = -1
    with pytest.raises(OverflowError):
        c.client_prio = 256
    c.cookie = "x" * 40
    assert c.cookie == "x" * 31
    with pytest.raises(TypeError):
        elliptics.Config(no_such_setting=1)


def test_node_without_remotes_fails_cleanly():
    with elliptics.Node(elliptics.Logger("", elliptics.log_level.error)) as n:
        with pytest.raises(elliptics.Error) as ei:
            n.add_remotes(["127.0.0.1:1"])
        assert ei.value.code < 0
    assert n.closed
    with pytest.raises(elliptics.InvalidError):
        elliptics.Session(n)
