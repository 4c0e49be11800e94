"""The Python side of bench/pybench: one workload through the elliptics
package against a running node, for a fixed time; prints one JSON line.

    python3 pybench.py --addr 127.0.0.1:PORT --workload write-single --duration 3

Workloads (1 KiB values; keys preloaded by the Go side for reads):
  write-single / read-single   one call at a time, .get() on each
  write-bulk / read-bulk       bulk_write / bulk_read of --bulk keys per call
  write-async / read-async     --concurrency calls in flight with asyncio
"""

import argparse
import asyncio
import json
import os
import time

import elliptics


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--addr", required=True)
    p.add_argument("--workload", required=True)
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--keys", type=int, default=10000)
    p.add_argument("--bulk", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--size", type=int, default=1024)
    a = p.parse_args()

    node = elliptics.Node(elliptics.Logger("/dev/stderr", elliptics.log_level.error))
    node.add_remotes([a.addr])
    s = elliptics.Session(node)
    s.groups = [1]
    value = os.urandom(a.size)
    keys = ["kvbench-%05d" % i for i in range(a.keys)]  # the Go side's key names (bench.Keys)

    op, mode = a.workload.split("-")
    warm = min(0.5, a.duration / 4)
    ops = 0
    if mode == "single":
        # Reads use what they read (the data of every entry), as a caller
        # would: entries fill their fields lazily, and a benchmark that only
        # counted them would not pay for that.
        call = (lambda k: s.write_data(k, value).get()) if op == "write" else (lambda k: len(s.read_data(k).get()[0].data))
        i, deadline = 0, time.monotonic() + warm
        while time.monotonic() < deadline:
            call(keys[i % a.keys])
            i += 1
        start = time.monotonic()
        end = start + a.duration
        while True:
            call(keys[i % a.keys])
            i += 1
            ops += 1
            if ops % 64 == 0 and time.monotonic() >= end:
                break
        elapsed = time.monotonic() - start
    elif mode == "bulk":
        batches = [keys[j:j + a.bulk] for j in range(0, a.keys - a.bulk + 1, a.bulk)]
        if op == "write":
            call = lambda b: s.bulk_write({k: value for k in b}).get()
        else:
            call = lambda b: s.bulk_read(b).get()
        i, deadline = 0, time.monotonic() + warm
        while time.monotonic() < deadline:
            call(batches[i % len(batches)])
            i += 1
        start = time.monotonic()
        end = start + a.duration
        while time.monotonic() < end:
            got = call(batches[i % len(batches)])
            if op == "read":
                if len(got) != a.bulk:
                    raise SystemExit("bulk_read returned %d of %d keys" % (len(got), a.bulk))
                if sum(len(e.data) for e in got) != a.bulk * a.size:
                    raise SystemExit("bulk_read returned short data")
            i += 1
            ops += a.bulk
        elapsed = time.monotonic() - start
    elif mode == "async":
        async def worker(w: int, end: float) -> int:
            n, i = 0, w
            while time.monotonic() < end:
                k = keys[i % a.keys]
                if op == "write":
                    await s.write_data(k, value)
                else:
                    got = await s.read_data(k)
                    len(got[0].data)
                i += a.concurrency
                n += 1
            return n

        async def run(seconds: float) -> int:
            end = time.monotonic() + seconds
            return sum(await asyncio.gather(*(worker(w, end) for w in range(a.concurrency))))

        asyncio.run(run(warm))
        start = time.monotonic()
        ops = asyncio.run(run(a.duration))
        elapsed = time.monotonic() - start
    else:
        raise SystemExit("unknown workload " + a.workload)
    node.close()
    print(json.dumps({"workload": a.workload, "ops": ops, "seconds": elapsed}))


if __name__ == "__main__":
    main()
