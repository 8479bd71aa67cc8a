"""Scanning a bucket against scanning the same files on disk, and against boto3 as the reader.

    python -m benches.studies.s3_throughput [N_FILES]        # default 2000; starts SeaweedFS on loopback

Uploads N real-photo crops (make_photo_corpus, 200-800 px) to a fresh SeaweedFS server, then in
one run: recipe_audit.scan on the local folder; recipe_audit.scan("s3://...") (obstore, 64 in
flight); and the same pipeline fed by boto3 `get_object` from 64 threads (what a user would write
by hand), each three times. Prints medians (wall time, and the client process's CPU per file) as a
markdown table. Client and server share the
machine's cores, so the ratios matter, not the absolute rates.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import recipe_audit
from recipe_audit import examples

from tests.support.object_store import seaweedfs


def _median(fn, rounds: int = 3) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds of this process (every thread, the Rust pool's
    included; the server's CPU is not counted)."""
    times, cpu = [], []
    for _ in range(rounds):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(times), statistics.median(cpu)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    work = Path(tempfile.mkdtemp(prefix="ra_s3_bench_"))
    paths = examples.make_photo_corpus(work / "photos", n, seed=3)
    (work / "weed").mkdir()
    with seaweedfs(work / "weed") as server:
        client = server.client()
        client.create_bucket(Bucket="bench")
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda p: client.upload_file(str(p), "bench", f"photos/{p.name}"), paths))
        uri = "s3://bench/photos"
        local = _median(lambda: recipe_audit.scan(work / "photos", progress=False))
        remote = _median(lambda: recipe_audit.scan(uri, storage_options=server.options, progress=False))

        def by_boto3() -> None:
            keys = [
                o["Key"]
                for page in client.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix="photos/")
                for o in page.get("Contents", [])
            ]
            with ThreadPoolExecutor(64) as pool:
                blobs = list(pool.map(lambda k: client.get_object(Bucket="bench", Key=k)["Body"].read(), keys))
            recipe_audit.scan_bytes(keys, blobs)

        boto = _median(by_boto3)
        same = recipe_audit.scan(uri, storage_options=server.options, progress=False)
        assert same.height == n and (same["status"] == "ok").all()
    print("| source | median s | files/s | vs local | client CPU ms / file |")
    print("|---|---|---|---|---|")
    for name, (secs, cpu) in [
        ("local folder", local),
        ("s3:// via obstore (recipe_audit)", remote),
        ("boto3 get_object x64 threads + scan_bytes", boto),
    ]:
        print(f"| {name} | {secs:.2f} | {n / secs:,.0f} | {local[0] / secs:.2f}x | {1000 * cpu / n:.2f} |")


if __name__ == "__main__":
    main()
