"""The sharded scan on 1 vs 2 Ray nodes, and the distributed near-duplicate join against the local
search, side by side in one run.

    python -m benches.studies.ray_scale [N_FILES] [N_HASHES]      # defaults 8000 and 1000000; ~6 min

Scan: N real-photo crops (make_photo_corpus, 200-800 px) in shards of N/16 files (about a
second of one core each: Ray starts a node's worker lazily, ~1-2 s with the runtime environment,
and a run of 0.2 s shards was over before the second node's worker was up) scanned into a sharded
dataset by
`scan(out=..., engine=RayEngine)` on a cluster of one node and then of two (one CPU each), and by
the local sharded run (`engine=None`, 2 threads) and the plain in-memory `scan`. Both Ray nodes
run on this machine's 2 cores, so "2 nodes" shows the overhead and the scaling of the mechanism,
not of a second machine.

Join: N_HASHES 64-bit hashes, 90% uniform and 10% near copies (1-10 bits flipped) of them, so there
are real groups; `_core.hamming_groups` (the single-machine search, 2 threads) against
`distributed.near_duplicate_forest` + components on the 2-node cluster, with the groups checked
equal. Prints markdown tables of medians.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np

import recipe_audit
from recipe_audit import _core, examples

from tests.support.ray_cluster import RayCluster


def _timed(fn, rounds: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(rounds):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def _hashes(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**63, int(n * 0.9), dtype=np.uint64) * np.uint64(2) + rng.integers(
        0, 2, int(n * 0.9), dtype=np.uint64
    )
    picks = rng.choice(base, n - len(base))
    flips = np.zeros(len(picks), dtype=np.uint64)
    for k in range(10):  # one bit always, then nine more each with probability 1/2
        flip = rng.random(len(picks)) < (1.0 if k == 0 else 0.5)
        bit = rng.integers(0, 64, len(picks)).astype(np.uint64)
        flips ^= np.where(flip, np.uint64(1) << bit, np.uint64(0))
    return np.unique(np.concatenate([base, picks ^ flips]))


def _in_fresh_process(fn, *args):
    """Run fn(*args) in a spawned process: a driver connects to one cluster per process (after
    `ray.shutdown()` a second `ray.init` to a new cluster timed out on its GCS)."""
    with get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def _scan_on_cluster(photos: str, n_files: int, work: str, nodes: int) -> tuple[float, float]:
    import ray

    from recipe_audit.distributed import RayEngine

    with RayCluster(nodes=nodes) as cluster:
        engine = RayEngine(address=cluster.address)
        assert engine.nodes() == nodes
        secs, run = _timed(
            lambda: recipe_audit.scan(
                photos,
                out=Path(work) / f"ray{nodes}-{time.monotonic_ns()}",
                shard_size=n_files // 16,
                engine=engine,
                progress=False,
            )
        )
        assert run.rows == n_files and len(set(engine.node_ids)) == nodes
        share = max(engine.node_ids.count(node) for node in set(engine.node_ids)) / len(engine.node_ids)
        ray.shutdown()  # before the cluster stops, or the driver's exit hooks wait on a dead GCS
    return secs, share


def _scan_rows(photos: Path, n_files: int, work: Path) -> list[tuple[str, float]]:
    rows = []
    secs, _ = _timed(lambda: recipe_audit.scan(photos, threads=2, progress=False))
    rows.append(("scan(dir), in memory, 2 threads", secs))
    secs, _ = _timed(
        lambda: recipe_audit.scan(
            photos, out=work / f"local-{time.monotonic_ns()}", shard_size=n_files // 16, threads=2, progress=False
        )
    )
    rows.append(("scan(dir, out=), local shards, 2 threads", secs))
    for nodes in (1, 2):
        secs, share = _in_fresh_process(_scan_on_cluster, str(photos), n_files, str(work), nodes)
        rows.append(
            (
                f"scan(dir, out=, engine=RayEngine), {nodes} node{'s' * (nodes > 1)} x 1 CPU "
                f"(busiest node ran {share:.0%} of the last run's shards)",
                secs,
            )
        )
    return rows


def _join_on_cluster(n_hashes: int, expected_roots: str) -> tuple[float, str]:
    import ray

    from recipe_audit.distributed import RayEngine, near_duplicate_forest

    hashes = _hashes(n_hashes)
    with RayCluster(nodes=2) as cluster:
        engine = RayEngine(address=cluster.address)
        stats = None

        def joined() -> np.ndarray:
            nonlocal stats
            a, b, stats = near_duplicate_forest(hashes, engine, 10, chunk_size=250_000)
            return _core.hamming_components(len(hashes), a, b)

        secs, roots = _timed(joined)
        ray.shutdown()
    assert np.array_equal(roots, np.load(expected_roots)), "the join's groups differ from the local search"
    return secs, (
        f"{stats.layout.describe()}, {stats.keys:,} keys, {stats.reduce_tasks} reduce tasks, "
        f"largest bucket {stats.largest_bucket:,}, {stats.hot_keys.height} hot keys"
    )


def _join_rows(n_hashes: int, work: Path) -> list[tuple[str, float]]:
    hashes = _hashes(n_hashes)
    local_secs, local = _timed(lambda: _core.hamming_groups(hashes, 10))
    rows = [(f"_core.hamming_groups, {len(hashes):,} hashes, radius 10, 2 threads", local_secs)]
    np.save(work / "roots.npy", local)
    secs, described = _in_fresh_process(_join_on_cluster, n_hashes, str(work / "roots.npy"))
    rows.append((f"distributed join on 2 nodes x 1 CPU ({described})", secs))
    groups = len(np.unique(local))
    print(f"join: {len(hashes):,} distinct hashes, {len(hashes) - groups:,} joined into groups; equal: yes")
    return rows


def main() -> None:
    n_files = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    n_hashes = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    work = Path(tempfile.mkdtemp(prefix="ra_ray_bench_"))
    photos = work / "photos"
    examples.make_photo_corpus(photos, n_files, seed=4)
    scan_rows = _scan_rows(photos, n_files, work)
    print("| scan of", f"{n_files:,}", "files | median s | files/s | vs in-memory scan |")
    print("|---|---|---|---|")
    for name, secs in scan_rows:
        print(f"| {name} | {secs:.2f} | {n_files / secs:,.0f} | {scan_rows[0][1] / secs:.2f}x |")
    join_rows = _join_rows(n_hashes, work)
    print("\n| near-duplicate search | median s | vs local |")
    print("|---|---|---|")
    for name, secs in join_rows:
        print(f"| {name} | {secs:.2f} | {join_rows[0][1] / secs:.2f}x |")


if __name__ == "__main__":
    main()
