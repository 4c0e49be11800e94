"""Flag and constant enums, named as in the original binding."""

from __future__ import annotations

import enum

__all__ = [
    "log_level",
    "checkers",
    "filters",
    "exceptions_policy",
    "io_flags",
    "command_flags",
    "record_flags",
    "iterator_flags",
    "iterator_types",
]


class log_level(enum.IntEnum):
    """Verbosity of the client log (``Logger(path, level)``)."""

    error = 0
    warning = 1
    info = 2
    notice = 3
    debug = 4


class checkers(enum.IntEnum):
    """How a multi-group call decides its success from the per-group statuses."""

    no_check = 0  #: always successful
    at_least_one = 1  #: the default: one group succeeded
    all = 2  #: every group succeeded
    quorum = 3  #: more than half of the groups succeeded


class filters(enum.IntEnum):
    """Which entries a result carries.

    Every entry of this implementation is final (there are no separate acks),
    so the ``*_with_ack`` and ``*_final`` names of the original are aliases.
    """

    positive = 0  #: the default: successful entries only
    negative = 1  #: failed entries only
    all = 2  #: every entry
    positive_with_ack = 0
    positive_final = 0
    negative_with_ack = 1
    negative_final = 1
    all_with_ack = 2
    all_final = 2


class exceptions_policy(enum.IntFlag):
    """When a failed call raises (bits, combined with ``|``)."""

    no_exceptions = 0  #: never raise; inspect ``result.error()``
    throw_at_start = 1  #: the call itself raises if it could not be started
    throw_at_wait = 2  #: ``result.wait()`` raises
    throw_at_get = 4  #: ``result.get()`` (and ``await result``) raises
    throw_at_iterator_end = 8  #: iterating the result raises at the end
    default_exceptions = 2 | 4 | 8  #: the default


class io_flags(enum.IntFlag):
    """I/O flags of data calls (``session.ioflags``), numbered as on the wire."""

    default = 0
    skip_sending = 1 << 0
    append = 1 << 1
    prepare = 1 << 4
    commit = 1 << 5
    overwrite = 1 << 7
    nocsum = 1 << 8
    plain_write = 1 << 9
    nodata = 1 << 9
    cache = 1 << 10
    cache_only = 1 << 11
    cache_remove_from_disk = 1 << 12
    compare_and_swap = 1 << 13
    checksum = 1 << 14
    write_no_file_info = 1 << 14
    cas_timestamp = 1 << 15
    mix_states = 1 << 16
    whole_object = 1 << 20  #: this implementation: every column of the object
    column_only = 1 << 21  #: this implementation: one column only


class command_flags(enum.IntFlag):
    """Command flags of requests (``session.cflags``), numbered as on the wire."""

    default = 0
    need_ack = 1 << 0
    direct = 1 << 3  #: serve locally, never forward
    nolock = 1 << 4
    checksum = 1 << 5  #: lookup computes and verifies the checksum
    nocache = 1 << 6
    direct_backend = 1 << 7
    trace_bit = 1 << 8  #: log this request at every hop


class record_flags(enum.IntFlag):
    """Flags of a stored record (``entry.record_flags``)."""

    remove = 1 << 0
    nocsum = 1 << 1
    append = 1 << 4
    exthdr = 1 << 6
    uncommitted = 1 << 7
    chunked_csum = 1 << 8


class iterator_flags(enum.IntFlag):
    """Flags of server-side iterators and ``server_send``, numbered as on the wire."""

    default = 0
    data = 1 << 0  #: send each record's data
    key_range = 1 << 1  #: iterate the ranges given (set automatically when ranges are given)
    ts_range = 1 << 2  #: only records in [time_begin, time_end] (set automatically with a time bound)
    no_meta = 1 << 3  #: leave timestamps, user flags and expiry out
    move = 1 << 4  #: copy iterators, server_send: remove the source once copied
    overwrite = 1 << 5  #: copy iterators, server_send: overwrite newer data


class iterator_types(enum.IntEnum):
    """Where an iterator's records go."""

    disk = 1  #: to a file on the node (not supported)
    network = 2  #: to the caller (start_iterator)
    server_send = 3  #: copied to other groups by the node (start_copy_iterator)
