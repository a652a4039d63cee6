"""How soon a worker sees another machine's change to a store on a Chroma server.

A worker on a server store asks the server for the catalog's generation (one small get) at most
every `ingest.store.RECHECK_SECONDS`. This starts a `chroma run` on a free local port and prints
what one such get costs, and how long after a writer's flip a reader that checks as a worker does
(before every question, here every 2 ms) sees it. The reader has its own client and catalog
state, as another process would.

    python benchmarks/change_visibility.py [--flips 30]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from chroma_server import chroma_server  # noqa: E402
from ingest import store as store_module  # noqa: E402
from ingest.pipeline import open_store  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--flips", type=int, default=30)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, chroma_server(Path(tmp) / "data") as url:
        where = {"chroma_url": url, "chroma_collection": "visibility"}
        writer = open_store(Path(tmp) / "writer", **where)
        writer._state.flip({})
        del store_module._DIRECTORIES[(url, "visibility")]  # the reader starts as another process would
        reader = open_store(Path(tmp) / "reader", **where)
        reader.catalog_key()
        costs = []
        for _ in range(200):
            t = time.perf_counter()
            reader._state._marker()
            costs.append((time.perf_counter() - t) * 1000)
        q = statistics.quantiles(costs, n=100)
        print(f"one generation read: p50 {q[49]:.2f} ms, p95 {q[94]:.2f} ms (200 reads)")
        delays = []
        for i in range(args.flips):
            time.sleep(0.1 + 0.37 * (i % 3))  # flips at different points of the reader's interval
            before = reader.catalog_key()
            writer._state.flip({})
            t0 = time.monotonic()
            while reader.catalog_key() == before:
                time.sleep(0.002)
            delays.append(time.monotonic() - t0)
        print(f"a flip seen after: median {statistics.median(delays):.2f} s, max {max(delays):.2f} s "
              f"({args.flips} flips; RECHECK_SECONDS = {store_module.RECHECK_SECONDS:g})")


if __name__ == "__main__":
    main()
