"""Streamed file transfers: Session.write_file and Session.read_file (the
original's names and arguments), whose data never goes through Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest

import elliptics

MiB = 1 << 20


@pytest.fixture
def payload(tmp_path):
    """A local file of a few MiB of random bytes (not a multiple of the
    chunk), and its contents."""
    data = os.urandom(5 * MiB + 4321)
    path = tmp_path / "src.bin"
    path.write_bytes(data)
    return str(path), data


def test_round_trip(session, key, payload, tmp_path):
    src, data = payload
    entries = session.write_file(key, src).get()
    assert len(entries) == 3  # one per group, as write_data
    assert {e.group_id for e in entries} == {1, 2, 3}
    assert all(e.status == 0 and e.total_size == len(data) for e in entries)
    assert session.read_data(key).get()[0].data == data

    dst = tmp_path / "dst.bin"
    (e,) = session.read_file(key, str(dst)).get()
    assert dst.read_bytes() == data
    assert (e.offset, e.size, e.total_size) == (0, len(data), len(data))
    assert e.data == b""  # the data went to the file
    assert e.group_id in (1, 2, 3)


def test_small_chunks_and_progress(session, key, payload, tmp_path):
    src, data = payload
    seen = []
    session.write_file(key, src, chunk_size=MiB, progress=lambda done, total: seen.append((done, total))).get()
    assert seen[-1] == (len(data), len(data))
    assert len(seen) == 6  # 5 whole chunks and a short one
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)

    seen.clear()
    dst = tmp_path / "dst.bin"
    session.read_file(key, dst, chunk_size=MiB, progress=lambda done, total: seen.append((done, total))).get()
    assert dst.read_bytes() == data  # an os.PathLike works too
    assert seen[-1] == (len(data), len(data)) and len(seen) == 6


def test_local_slices(session, key, payload, tmp_path):
    src, data = payload
    session.write_file(key, src, local_offset=MiB + 7, size=2 * MiB).get()
    assert session.read_data(key).get()[0].data == data[MiB + 7 : 3 * MiB + 7]
    # size 0 with a local offset: to the end of the file.
    session.write_file(key, src, 0, 4 * MiB).get()
    assert session.read_data(key).get()[0].data == data[4 * MiB :]
    # Positionally, as the original: key, filename, offset, local_offset, size.
    session.write_file(key, src, 0, 10, 100).get()
    assert session.read_data(key).get()[0].data == data[10:110]


def test_read_ranges(session, key, payload, tmp_path):
    src, data = payload
    session.write_file(key, src).get()
    dst = tmp_path / "part.bin"
    (e,) = session.read_file(key, str(dst), 3 * MiB - 5, MiB + 10, chunk_size=MiB // 2).get()
    assert dst.read_bytes() == data[3 * MiB - 5 : 4 * MiB + 5]
    assert (e.offset, e.size, e.total_size) == (3 * MiB - 5, MiB + 10, len(data))
    # From an offset to the end; a size past the end stops at the end.
    session.read_file(key, str(dst), offset=len(data) - 100).get()
    assert dst.read_bytes() == data[-100:]
    session.read_file(key, str(dst), offset=len(data) - 100, size=10 * MiB).get()
    assert dst.read_bytes() == data[-100:]
    # An existing longer file is truncated to what was read.
    dst.write_bytes(b"x" * (8 * MiB))
    session.read_file(key, str(dst), size=3).get()
    assert dst.read_bytes() == data[:3]
    with pytest.raises(elliptics.InvalidError):
        session.read_file(key, str(dst), offset=len(data) + 1).get()


def test_remote_offset(session, key, payload, tmp_path):
    """A non-zero remote offset writes into the object as it is (chunk by
    chunk, as write_data at that offset), keeping the bytes around it."""
    src, data = payload
    session.write_data(key, b"0123456789" * 10).get()
    session.write_file(key, src, 20, 0, 30, chunk_size=16).get()
    assert session.read_data(key).get()[0].data == b"0123456789" * 2 + data[:30] + (b"0123456789" * 10)[50:]
    # Past the end it extends the object.
    session.write_file(key, src, 100, 0, 2 * MiB).get()
    got = session.read_data(key).get()[0].data
    assert len(got) == 100 + 2 * MiB and got[100:] == data[: 2 * MiB]


def test_missing_key(session, key, tmp_path):
    dst = tmp_path / "out.bin"
    with pytest.raises(elliptics.NotFoundError):
        session.read_file(key, str(dst)).get()
    assert not dst.exists()  # a file made for nothing is removed
    dst.write_bytes(b"keep me")
    with pytest.raises(elliptics.NotFoundError):
        session.read_file(key, str(dst)).get()
    assert dst.read_bytes() == b"keep me"  # an existing file is left as it was


def test_missing_local_file(session, key, tmp_path):
    with pytest.raises(FileNotFoundError) as ei:
        session.write_file(key, str(tmp_path / "nope.bin"))
    assert "nope.bin" in str(ei.value)
    with pytest.raises(FileNotFoundError):
        session.read_file(key, str(tmp_path / "no-dir" / "out.bin"))
    with pytest.raises(IsADirectoryError):
        session.write_file(key, str(tmp_path))
    with pytest.raises(elliptics.NotFoundError):  # nothing was written
        session.read_data(key).get()


def test_bad_arguments(session, key, payload, tmp_path):
    src, data = payload
    with pytest.raises(ValueError):
        session.write_file(key, src, local_offset=len(data) + 1)
    with pytest.raises(ValueError):
        session.write_file(key, src, local_offset=10, size=len(data))
    with pytest.raises(ValueError):
        session.write_file(key, src, offset=-1)
    with pytest.raises(ValueError):
        session.read_file(key, str(tmp_path / "x"), size=-1)
    with pytest.raises(ValueError):
        session.write_file(key, "")
    with pytest.raises(TypeError):
        session.write_file(key, 42)
    with pytest.raises(TypeError):
        session.write_file(key, src, progress=5)
    with pytest.raises(TypeError):
        session.write_file(key, src, 0, 0, 0, 0)  # chunk_size is keyword-only


def test_empty_file(session, key, tmp_path):
    src = tmp_path / "empty"
    src.write_bytes(b"")
    session.write_file(key, str(src)).get()
    assert session.read_data(key).get()[0].data == b""
    dst = tmp_path / "out"
    dst.write_bytes(b"old")
    session.read_file(key, str(dst)).get()
    assert dst.read_bytes() == b""


def test_progress_stops_transfer(session, key, payload, tmp_path):
    src, data = payload

    def stop(done, total):
        raise RuntimeError("enough")

    with pytest.raises(elliptics.CancelledError):
        session.write_file(key, src, chunk_size=MiB, progress=stop).get()
    with pytest.raises(elliptics.NotFoundError):  # the upload was never committed
        session.read_data(key).get()

    session.write_file(key, src).get()

    def not_found(done, total):
        raise elliptics.NotFoundError("stop", -2)

    with pytest.raises(elliptics.NotFoundError):
        session.read_file(key, str(tmp_path / "dst"), chunk_size=MiB, progress=not_found).get()


def test_async_and_callbacks(session, key, payload, tmp_path):
    """The results are the package's AsyncResults: connect() and asyncio."""
    import asyncio

    src, data = payload
    done = threading.Event()
    got = []
    session.write_file(key, src).connect(lambda entries, error: (got.append((len(entries), error.code)), done.set()))
    assert done.wait(30)
    assert got == [(3, 0)]

    async def main():
        s = session.clone()
        await s.write_file(key, src, chunk_size=MiB)
        return await s.read_file(key, str(tmp_path / "a.bin"))

    (e,) = asyncio.run(main())
    assert e.size == len(data)
    assert (tmp_path / "a.bin").read_bytes() == data


# The child of test_big_file_memory: writes a 256 MiB file and reads it
# back, and reports its peak RSS over its baseline (after the import, the
# connection and the local file, before the transfers).
_BIG_CHILD = textwrap.dedent(
    """
    import hashlib, json, os, resource, sys
    import elliptics

    addrs, src, dst, key = sys.argv[1].split(","), sys.argv[2], sys.argv[3], sys.argv[4]
    MiB = 1 << 20
    size = 256 * MiB
    block = os.urandom(MiB)
    with open(src, "wb") as f:  # sparse first, then filled with one repeated block
        f.truncate(size)
        for _ in range(size // MiB):
            f.write(block)
    node = elliptics.Node(elliptics.Logger("", elliptics.log_level.error))
    node.add_remotes(addrs)
    s = elliptics.Session(node)
    s.groups = [1, 2]
    s.timeout = 60
    s.write_data(key + "-warm", b"x").get()  # the connections exist before the baseline
    s.read_data(key + "-warm").get()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    w = s.write_file(key, src).get()
    r = s.read_file(key, dst).get()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ok = os.path.getsize(dst) == size
    with open(dst, "rb") as f:
        for _ in range(size // MiB):
            ok = ok and f.read(MiB) == block
    print(json.dumps({"base_kib": base, "peak_kib": peak, "written": len(w), "read": r[0].size, "same": ok}))
    """
)


def test_big_file_memory(cluster, key, tmp_path):
    """256 MiB through write_file and read_file in a fresh process: its
    peak RSS grows by far less than the file (about a chunk or two)."""
    src, dst = str(tmp_path / "big.src"), str(tmp_path / "big.dst")
    out = subprocess.run(
        [sys.executable, "-c", _BIG_CHILD, ",".join(cluster.addrs), src, dst, key],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
    )
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["written"] == 2 and res["read"] == 256 * MiB and res["same"]
    grown = (res["peak_kib"] - res["base_kib"]) / 1024
    print("big file: base %.1f MiB, peak %.1f MiB, grown %.1f MiB" % (res["base_kib"] / 1024, res["peak_kib"] / 1024, grown))
    assert grown < 120, "peak RSS grew by %.1f MiB (base %d KiB)" % (grown, res["base_kib"])


def _vm_kib(field: str) -> int:
    """A VmRSS/VmHWM figure of this process from /proc/self/status, KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def _reset_peak_rss() -> bool:
    """Resets VmHWM to the current RSS (Linux 4.0+); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _sha256_file(path, chunk: int = MiB) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                return h.hexdigest()
            h.update(b)


def test_64mib_round_trip_constant_memory(session, key, tmp_path):
    """A 64 MiB file goes to three groups and comes back byte-identical,
    while this process's peak RSS grows by well under the file's size: the
    library streams it a chunk at a time instead of holding it."""
    size = 64 * MiB + 123  # not a multiple of the chunk
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        left = size
        while left:
            n = min(left, MiB)
            f.write(os.urandom(n))
            left -= n
    want = _sha256_file(src)

    measure = _reset_peak_rss()
    before = _vm_kib("VmRSS")
    entries = session.write_file(key, str(src), chunk_size=MiB).get()
    assert [e.status for e in entries] == [0, 0, 0]
    assert all(e.total_size == size for e in entries)
    dst = tmp_path / "back.bin"
    (e,) = session.read_file(key, str(dst), chunk_size=MiB).get()
    grown = (_vm_kib("VmHWM") - before) * 1024
    assert (e.size, e.total_size) == (size, size)
    assert os.path.getsize(dst) == size
    assert _sha256_file(dst) == want
    if measure:
        # Holding the file would take 64 MiB at least; 1 MiB chunks in
        # flight (one per group) and the Go heap's slack stay far below
        # (7-10 MiB measured; 4 MiB chunks, the default, about 27 MiB).
        assert grown < 32 * MiB, f"peak RSS grew by {grown / MiB:.1f} MiB"
