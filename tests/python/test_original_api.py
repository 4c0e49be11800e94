"""A script written the way a user of the original binding wrote it, end to end.

Only the Python 2 idioms are updated (print(), bytes literals, except ... as);
every elliptics name and call shape is the original's.
"""

import elliptics


def test_original_style_script(cluster, tmp_path):
    log = str(tmp_path / "client.log")
    # --- setup, as in the original docs --------------------------------------
    elog = elliptics.Logger(log, elliptics.log_level.error)
    cfg = elliptics.Config()
    cfg.wait_timeout = 60
    cfg.check_timeout = 60
    cfg.io_thread_num = 4
    cfg.nonblocking_io_thread_num = 4
    cfg.net_thread_num = 4
    node = elliptics.Node(elog, cfg)
    a1, a2, a3 = cluster.addrs
    node.add_remotes(
        [
            elliptics.Address.from_host_port_family(a1 + ":2"),  # an Address
            a2 + ":2",  # "host:port:family"
            elliptics.Address.from_host_port(a3),
        ]
    )
    node.set_timeouts(60, 60)

    session = elliptics.Session(node)
    session.groups = [1, 2, 3]
    session.set_exceptions_policy(elliptics.exceptions_policy.default_exceptions)
    session.ioflags = elliptics.io_flags.default
    session.cflags = elliptics.command_flags.default
    assert session.get_groups() == [1, 2, 3]
    assert session.timeout == 60  # the node's wait timeout

    # --- write, read, lookup -------------------------------------------------
    key = "original api test key"
    results = session.write_data(key, b"original data").get()
    assert len(results) == 3
    for r in results:
        assert r.error.code == 0
        assert r.group_id in (1, 2, 3)
        assert isinstance(r.address, elliptics.Address)
        assert r.size == len(b"original data")

    data = session.read_data(key).get()[0].data
    assert data == b"original data"

    result = session.read_data(key, offset=9, size=4).get()[0]
    assert result.data == b"data"
    assert isinstance(result.timestamp, elliptics.Time)
    assert isinstance(result.id, elliptics.Id)

    lookup = session.lookup(key).get()[0]
    assert lookup.error.code == 0
    assert lookup.storage_address == lookup.address

    # the Id of a key, and reading by Id
    key_id = session.transform(key)
    assert isinstance(key_id, elliptics.Id) and len(key_id.id) == 64
    assert session.read_data(elliptics.Id(key_id.id, 0)).get()[0].data == b"original data"
    assert elliptics.Id.from_hex(str(key_id)) == key_id

    # timestamps
    session.timestamp = elliptics.Time(1400000000, 0)
    session.write_data(key, b"timed").get()
    assert session.read_data(key).get()[0].timestamp == elliptics.Time(1400000000, 0)
    session.timestamp = elliptics.Time(2**64 - 1, 2**64 - 1)  # the original "unset"
    session.write_data(key, b"now").get()
    assert session.read_data(key).get()[0].timestamp > elliptics.Time(1400000000, 0)

    # --- remove, and the exception a missing key raises ----------------------
    session.remove(key).get()
    try:
        session.read_data(key).get()
        raise AssertionError("read of a removed key succeeded")
    except elliptics.NotFoundError as e:
        assert e.code == -2
        assert "No such file or directory: -2" in e.message
    except elliptics.Error:
        raise AssertionError("wrong exception class")

    # no exceptions: the status is in the result
    session.exceptions_policy = elliptics.exceptions_policy.no_exceptions
    async_result = session.read_data(key)
    async_result.wait()
    assert async_result.successful() is False
    assert async_result.error().code == -2
    session.exceptions_policy = elliptics.exceptions_policy.default_exceptions

    # iterate over a result as entries arrive
    groups = []
    for r in session.write_data(key, b"again"):
        groups.append(r.group_id)
    assert sorted(groups) == [1, 2, 3]

    # routes
    routes = session.routes
    assert routes.groups() == [1, 2, 3]
    assert len(routes.addresses()) == 3
    assert session.lookup_address(key, 1) in routes.addresses()

    # create_node, the helper of the original tests
    node2 = elliptics.create_node(
        log_file=log, log_level=elliptics.log_level.error, wait_timeout=30, check_timeout=30, remotes=cluster.addrs
    )
    s2 = elliptics.Session(node2)
    s2.add_groups([1, 2, 3])
    assert s2.read_data(key).get()[0].data == b"again"
