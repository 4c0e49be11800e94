"""Per-call wall and CPU time of a Python bulk call loop, and the share of
it spent building the entries (elliptics._result._from_slab).

Against a running node (one mem backend of group 1, as bench/pybench uses):

    python3 bench/pybench/bulkloop.py --addr 127.0.0.1:PORT --op read --calls 3000

Each call is 100 keys of 1 KiB (written first); reads check every entry's
data. CPU time is the whole process's (the library's Go threads included).
"""

import argparse
import os
import time

import elliptics
from elliptics import _result


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--addr", required=True)
    p.add_argument("--op", choices=("read", "write"), default="read")
    p.add_argument("--calls", type=int, default=3000)
    p.add_argument("--bulk", type=int, default=100)
    a = p.parse_args()

    node = elliptics.Node(elliptics.Logger("/dev/stderr", elliptics.log_level.error))
    node.add_remotes([a.addr])
    s = elliptics.Session(node)
    s.groups = [1]
    keys = ["bulkloop-%03d" % i for i in range(a.bulk)]
    value = os.urandom(1024)
    s.bulk_write({k: value for k in keys}).get()

    inner = _result._from_slab
    spent = [0.0]

    def timed(*args):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        r = inner(*args)
        spent[0] += time.perf_counter() - t
        return r

    _result._from_slab = timed
    if a.op == "read":

        def call() -> None:
            got = s.bulk_read(keys).get()
            if sum(len(e.data) for e in got) != a.bulk * len(value):
                raise SystemExit("short read")

    else:

        def call() -> None:
            if len(s.bulk_write({k: value for k in keys}).get()) != a.bulk:
                raise SystemExit("missing entries")

    for _ in range(200):
        call()
    spent[0] = 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(a.calls):
        call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = a.calls
    print("bulk %s: per call wall %.0f us, cpu %.0f us, entries %.1f us" % (a.op, wall / n * 1e6, cpu / n * 1e6, spent[0] / n * 1e6))


if __name__ == "__main__":
    main()
