"""Dataframe layers on Ray, side by side on one real two-node cluster: plain Ray tasks (what
`recipe_audit.distributed` uses), Ray Data, and Daft on Ray.

    python -m benches.studies.engines_compare [N_FILES] [JOIN_ROWS] [ROUNDS]     # defaults 2000 500000 3

Starts its own two-node cluster on this machine with the tests' `tests/support/ray_cluster.RayCluster`
(one CPU a node, so the two nodes share the machine's cores; its own temporary folder; stopped by
its own process sessions, never `ray stop`). Each engine runs in a fresh
driver process. Work files go to $RA_ENGINES_DIR (default /tmp/ra_engines); the photos are kept
for reruns.

1. Scan: N real-photo crops (``examples.make_photo_corpus``: JPEG quality 75-95, long side
   300-800 px) into a Parquet dataset, in shards of 250 files, each engine calling the same Rust
   pipeline (``_core.scan_bytes`` / ``run_shard``) with one thread per task:
   (a) ``recipe_audit.scan(dir, out=..., engine=RayEngine(address))``;
   (b) Ray Data ``from_items(paths)`` -> ``map_batches`` (reads the files) -> ``write_parquet``,
       and ``read_binary_files`` -> ``map_batches`` -> ``write_parquet``;
   (c) Daft on Ray: paths -> ``url.download()`` -> batch UDF -> ``write_parquet``, and paths ->
       batch UDF that reads the files -> ``write_parquet``.
   Each runs once cold (the driver's first job: worker processes, runtime environment and
   engine actors start), then ROUNDS times warm, every time into a fresh folder (wall time,
   files/s; the warm median), then once more into the folder of its first run (does a rerun
   duplicate rows, does it skip work?) and, for Ray Data and Daft, once more with their overwrite
   mode. Every dataset is read back with Polars (all its
   Parquet files, as a reader that knows nothing of `_run.json` would) and checked row for row
   against a local `recipe_audit.scan`.
2. Hash-block self-join, the shuffle a distributed near-duplicate search needs: JOIN_ROWS rows of
   (key: uint64, id: uint32, hash: uint64), key = block index << 32 | block value for 11 blocks
   (9 of 6 bits, 2 of 5) of a 64-bit hash, so JOIN_ROWS / 11 hashes: the real pHashes of step 1
   plus uniform random ones. Grouped by key; in each group the pairs with popcount(a ^ b) <= 10
   are kept (NumPy, the same function for every engine), each pair only in the first block where
   the two agree, so it is reported once. Exact by pigeonhole (10 = 11 - 1). Engines: Ray Data
   ``groupby("key").map_groups``, Daft ``groupby("key").agg(list_agg)`` + a batch UDF, and plain
   Ray tasks (P map tasks returning ``num_returns=P`` hash partitions, P reduce tasks taking one
   partition from every map). The input starts as P Arrow tables in the driver; timing runs from
   handing them to the engine to the pairs being back in the driver; one cold run, then ROUNDS
   warm ones. Every engine's pairs are
   compared with the exact Rust search (``_core.hamming_pairs``) on the same hashes.

Prints markdown tables for BENCHMARKS.md and writes the raw results to $RA_ENGINES_DIR/results.json.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.support.ray_cluster import RayCluster

ROOT = Path(os.environ.get("RA_ENGINES_DIR", "/tmp/ra_engines"))
SHARD = 250  # files per shard / batch / block in every scan engine
PARTS = 4  # input partitions and shuffle partitions of the join (2 CPUs in the cluster)
RADIUS = 10
WIDTHS = [6] * 9 + [5] * 2  # 11 blocks covering the 64 bits
SHIFTS = [sum(WIDTHS[:k]) for k in range(len(WIDTHS))]
CHILD_TIMEOUT = 420


# ----------------------------------------------------------------------------- the shared work


def scan_batch(names: list[str], blobs: list[bytes] | None = None):
    """The per-file pipeline on one batch, as an Arrow table (the same Rust call `run_shard` makes)."""
    import polars as pl

    from recipe_audit import _core
    from recipe_audit.io.scan import frame_from_columns

    if blobs is None:
        blobs = [Path(n).read_bytes() for n in names]
    frame = frame_from_columns(_core.scan_bytes(list(names), list(blobs), threads=1))
    return frame.to_arrow(compat_level=pl.CompatLevel.oldest())


def verify_group(key: int, ids, hashes):
    """Pairs (min id << 32 | max id) within one key group at popcount distance <= RADIUS, each
    kept only if `key`'s block is the first block on which the two hashes agree."""
    import numpy as np

    n = len(ids)
    if n < 2:
        return np.zeros(0, np.uint64)
    ids = np.asarray(ids, np.uint64)
    hashes = np.asarray(hashes, np.uint64)
    out = []
    step = max(1, 4_000_000 // n)  # rows of the n x n triangle at a time (bounded memory)
    block = int(key) >> 32
    for start in range(0, n - 1, step):
        stop = min(n - 1, start + step)
        a = np.repeat(np.arange(start, stop), np.arange(n - 1 - start, n - 1 - stop, -1))
        first = np.arange(start + 1, stop + 1)
        counts = n - first
        b = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(first, counts)
        x = hashes[a] ^ hashes[b]
        keep = np.bitwise_count(x) <= RADIUS
        a, b, x = a[keep], b[keep], x[keep]
        for j in range(block):  # agree on an earlier block: that group reports it
            agree = ((x >> np.uint64(SHIFTS[j])) & np.uint64((1 << WIDTHS[j]) - 1)) == 0
            a, b, x = a[~agree], b[~agree], x[~agree]
        ia, ib = ids[a], ids[b]
        out.append((np.minimum(ia, ib) << np.uint64(32)) | np.maximum(ia, ib))
    return np.concatenate(out) if out else np.zeros(0, np.uint64)


def verify_sorted(keys, ids, hashes):
    """`verify_group` over every group of rows sorted by key."""
    import numpy as np

    if len(keys) == 0:
        return np.zeros(0, np.uint64)
    cuts = np.flatnonzero(np.diff(keys)) + 1
    starts = np.concatenate([[0], cuts])
    stops = np.concatenate([cuts, [len(keys)]])
    parts = [verify_group(keys[s], ids[s:e], hashes[s:e]) for s, e in zip(starts, stops) if e - s > 1]
    return np.concatenate(parts) if parts else np.zeros(0, np.uint64)


def block_table(hashes):
    """The 11 (key, id, hash) rows of every hash."""
    import numpy as np
    import pyarrow as pa

    hashes = np.asarray(hashes, np.uint64)
    ids = np.arange(len(hashes), dtype=np.uint32)
    keys = [
        (np.uint64(k) << np.uint64(32)) | ((hashes >> np.uint64(SHIFTS[k])) & np.uint64((1 << WIDTHS[k]) - 1))
        for k in range(len(WIDTHS))
    ]
    return pa.table(
        {"key": np.concatenate(keys), "id": np.tile(ids, len(WIDTHS)), "hash": np.tile(hashes, len(WIDTHS))}
    )


# ----------------------------------------------------------------------------- the cluster


def _cluster_env(cluster: RayCluster) -> dict[str, str]:
    """The cluster's environment for the child drivers, with Daft's telemetry and progress bars off."""
    return {**cluster.env, "DAFT_ANALYTICS_ENABLED": "0", "DO_NOT_TRACK": "1", "RAY_DATA_DISABLE_PROGRESS_BARS": "1"}


# ----------------------------------------------------------------------------- children


def _connect(address: str) -> None:
    import ray

    package = str(Path(__import__("recipe_audit").__file__).resolve().parent)
    # The runtime environment `RayEngine` gives its tasks (package shipped, one Rust thread).
    ray.init(
        address=address,
        runtime_env={"py_modules": [package], "env_vars": {"RAYON_NUM_THREADS": "1"}},
        log_to_driver=False,
        include_dashboard=False,
    )


def _parquet_rows(out: Path, reference):
    """What a reader of every Parquet file under `out` gets, against the local scan."""
    import polars as pl

    files = sorted(glob.glob(str(out / "**" / "*.parquet"), recursive=True))
    if not files:
        return {"files": 0, "rows": 0, "distinct_paths": 0, "equal": False}
    rows = pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
    cols = [c for c in reference.columns if c in rows.columns]
    distinct = rows["path"].n_unique()
    equal = (
        rows.height == reference.height
        and len(cols) == len(reference.columns)
        and rows.select(cols).sort("path").equals(reference.select(cols).sort("path"))
    )
    return {"files": len(files), "rows": rows.height, "distinct_paths": distinct, "equal": bool(equal)}


def child_scan(spec: dict) -> dict:
    import polars as pl

    if spec["engine"] != "ra_tasks":  # RayEngine connects itself (and refuses a second init)
        _connect(spec["address"])
    photos, work = spec["photos"], Path(spec["work"])
    reference = pl.read_parquet(spec["reference"])
    engine_name, rounds = spec["engine"], spec["rounds"]
    make = _scan_runner(engine_name, spec["address"], photos)
    result = {"engine": engine_name, "fresh_s": [], "checks": [], "load_before": os.getloadavg()[0]}
    for k in range(rounds + 1):  # run 0 is the job's first (cold): workers start
        out = work / f"{engine_name}-{k}"
        shutil.rmtree(out, ignore_errors=True)
        dt, info = make(out, "fresh")
        result["fresh_s"].append(dt)
        result["checks"].append({**_parquet_rows(out, reference), **info})
    first = work / f"{engine_name}-0"
    dt, info = make(first, "again")
    result["rerun_s"] = dt
    result["rerun"] = {**_parquet_rows(first, reference), **info}
    if not engine_name.startswith("ra_"):
        dt, info = make(first, "overwrite")
        result["overwrite_s"] = dt
        result["overwrite"] = {**_parquet_rows(first, reference), **info}
    return result


def _scan_runner(name: str, address: str, photos: str):
    import ray

    def paths() -> list[str]:
        return sorted(str(p) for p in Path(photos).iterdir() if p.is_file())

    if name == "ra_tasks":
        import recipe_audit
        from recipe_audit.distributed import RayEngine

        engine = RayEngine(address)

        def run(out: Path, mode: str):
            t = time.perf_counter()
            r = recipe_audit.scan(photos, out=out, shard_size=SHARD, engine=engine, progress=False)
            dt = time.perf_counter() - t
            return dt, {
                "shards_written": r.shards_written,
                "rows_read": r.rows_read,
                "nodes_used": len(set(engine.node_ids)),
                "run_json_rows": r.files.collect().height,
            }

        return run

    if name.startswith("raydata"):
        import pyarrow as pa
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False

        def from_paths(batch: pa.Table) -> pa.Table:
            return scan_batch(batch["path"].to_pylist())

        def from_bytes(batch: pa.Table) -> pa.Table:
            return scan_batch(batch["path"].to_pylist(), batch["bytes"].to_pylist())

        def run(out: Path, mode: str):
            t = time.perf_counter()
            listing = paths()
            if name == "raydata_items":
                ds = ray.data.from_items([{"path": p} for p in listing], override_num_blocks=len(listing) // SHARD or 1)
                ds = ds.map_batches(from_paths, batch_size=SHARD, batch_format="pyarrow", num_cpus=1)
            else:
                ds = ray.data.read_binary_files(
                    listing, include_paths=True, override_num_blocks=len(listing) // SHARD or 1
                )
                ds = ds.map_batches(from_bytes, batch_size=SHARD, batch_format="pyarrow", num_cpus=1)
            ds.write_parquet(str(out), mode="overwrite" if mode == "overwrite" else "append")
            return time.perf_counter() - t, {}

        return run

    if name.startswith("daft"):
        import daft
        import pyarrow as pa
        from daft import col

        daft.set_runner_ray(noop_if_initialized=True)
        sample = scan_batch(paths()[:1])
        struct = pa.struct(list(sample.schema))

        @daft.func.batch(return_dtype=daft.DataType.from_arrow_type(struct), unnest=True, batch_size=SHARD)
        def scan_download(path: daft.Series, data: daft.Series):
            table = scan_batch(path.to_pylist(), data.to_pylist())
            return pa.StructArray.from_arrays([c.combine_chunks() for c in table.columns], fields=list(table.schema))

        @daft.func.batch(return_dtype=daft.DataType.from_arrow_type(struct), unnest=True, batch_size=SHARD)
        def scan_read(path: daft.Series):
            table = scan_batch(path.to_pylist())
            return pa.StructArray.from_arrays([c.combine_chunks() for c in table.columns], fields=list(table.schema))

        def run(out: Path, mode: str):
            t = time.perf_counter()
            listing = paths()
            df = daft.from_pydict({"path": listing}).into_partitions(len(listing) // SHARD or 1)
            if name == "daft_download":
                df = df.with_column("data", col("path").download()).select(scan_download(col("path"), col("data")))
            else:
                df = df.select(scan_read(col("path")))
            df.write_parquet(str(out), write_mode="overwrite" if mode == "overwrite" else "append")
            return time.perf_counter() - t, {}

        return run
    raise ValueError(name)


def child_join(spec: dict) -> dict:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    import ray

    name, rounds = spec["engine"], spec["rounds"]
    if name != "library":
        _connect(spec["address"])
    table = pq.read_table(spec["table"])
    step = -(-table.num_rows // PARTS)
    chunks = [table.slice(s, step).combine_chunks() for s in range(0, table.num_rows, step)]
    check = None

    if name == "tasks":

        @ray.remote(num_returns=PARTS, num_cpus=1)
        def split(chunk: pa.Table):
            key = chunk["key"].to_numpy()
            part = ((key * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)) % np.uint64(PARTS)
            cols = {c: chunk[c].to_numpy() for c in ("key", "id", "hash")}
            return tuple({c: v[part == p] for c, v in cols.items()} for p in range(PARTS))

        @ray.remote(num_cpus=1)
        def reduce(*parts):
            cols = {c: np.concatenate([p[c] for p in parts]) for c in ("key", "id", "hash")}
            order = np.argsort(cols["key"], kind="stable")
            return verify_sorted(cols["key"][order], cols["id"][order], cols["hash"][order])

        def once():
            maps = [split.remote(ray.put(c)) for c in chunks]
            reduces = [reduce.remote(*[m[p] for m in maps]) for p in range(PARTS)]
            return np.concatenate(ray.get(reduces))

    elif name.startswith("raydata"):
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        partitions = PARTS if name == "raydata_p4" else None

        def group_fn(batch: dict) -> dict:
            return {"code": verify_group(batch["key"][0], batch["id"], batch["hash"])}

        def once():
            ds = (
                ray.data.from_arrow(chunks)
                .groupby("key", num_partitions=partitions)
                .map_groups(group_fn, batch_format="numpy")
            )
            got = [b["code"] for b in ds.iter_batches(batch_format="numpy", batch_size=None)]
            return np.concatenate(got) if got else np.zeros(0, np.uint64)

    elif name == "daft":
        import daft
        from daft import col

        daft.set_runner_ray(noop_if_initialized=True)

        @daft.func.batch(return_dtype=daft.DataType.list(daft.DataType.uint64()))
        def verify_lists(key: daft.Series, ids: daft.Series, hashes: daft.Series):
            return [
                verify_group(k, np.asarray(i, np.uint32), np.asarray(h, np.uint64)).tolist()
                for k, i, h in zip(key.to_pylist(), ids.to_pylist(), hashes.to_pylist())
            ]

        def once():
            df = daft.from_arrow(chunks).groupby("key").agg(col("id").list_agg(), col("hash").list_agg())
            df = df.select(verify_lists(col("key"), col("id"), col("hash")).alias("code")).explode("code")
            codes = df.to_arrow()["code"]
            return codes.drop_null().to_numpy().astype(np.uint64)

    elif name == "library":
        from recipe_audit import _core
        from recipe_audit.distributed import RayEngine, near_duplicate_forest

        engine = RayEngine(spec["address"])
        # The product's own join: distinct hashes, its own block layout, exact Rust search per bucket.
        # It returns a spanning forest, so it is checked by its connected components.
        distinct = np.unique(table.slice(0, table.num_rows // len(WIDTHS))["hash"].to_numpy())

        def once():
            a, b, stats = near_duplicate_forest(distinct, engine, RADIUS)
            once.stats = stats
            return (a.astype(np.uint64) << np.uint64(32)) | b.astype(np.uint64)

        def check(codes):
            a = (codes >> np.uint64(32)).astype(np.uint32)
            b = (codes & np.uint64(0xFFFFFFFF)).astype(np.uint32)
            mine = _core.hamming_components(len(distinct), a, b)
            return bool(np.array_equal(mine, _core.hamming_groups(distinct, RADIUS)))

    else:
        raise ValueError(name)

    times, digest = [], None
    load = os.getloadavg()[0]
    for _ in range(rounds + 1):  # run 0 is the job's first (cold): workers start
        t = time.perf_counter()
        codes = once()
        times.append(time.perf_counter() - t)
        digest = np.unique(codes)
        if len(digest) != len(codes) and name != "library":  # (a forest may repeat an edge)
            times[-1] = -times[-1]  # duplicate pairs: flag it, keep going
    np.save(spec["pairs"], digest)
    out = {"engine": name, "times": times, "pairs": len(digest), "raw_pairs": len(codes), "load_before": load}
    if check is not None:
        out["same_groups"] = check(digest)
        out["layout"] = once.stats.layout.describe()
        out["candidates"] = int(once.stats.candidate_pairs)
    return out


# ----------------------------------------------------------------------------- the driver


def _child(kind: str, spec: dict, env: dict[str, str]) -> dict:
    spec_path = ROOT / f"spec-{kind}-{spec['engine']}.json"
    spec_path.write_text(json.dumps(spec))
    t = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", kind, str(spec_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return {"engine": spec["engine"], "error": f"timed out after {CHILD_TIMEOUT} s"}
    wall = time.perf_counter() - t
    (ROOT / f"log-{kind}-{spec['engine']}.txt").write_text(proc.stdout + proc.stderr)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"engine": spec["engine"], "error": (proc.stderr or proc.stdout)[-1500:]}
    return {**json.loads(lines[-1][7:]), "process_s": wall}


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": sys.version.split()[0]}
    for pkg in ("ray", "daft", "pyarrow", "polars", "numpy", "recipe-audit"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "-"
    return out


def _corpus(n: int) -> Path:
    from recipe_audit import examples

    dest = ROOT / f"photos_n{n}"
    marker = ROOT / f"photos_n{n}.complete"
    if not marker.exists():
        shutil.rmtree(dest, ignore_errors=True)
        t = time.perf_counter()
        examples.make_photo_corpus(dest, n, seed=5, png_share=0.0, min_side=300, max_side=800)
        marker.write_text(str(n))
        print(f"wrote {n} photos in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return dest


SCAN_ENGINES = ("ra_tasks", "raydata_items", "raydata_binary", "daft_download", "daft_read")
JOIN_ENGINES = ("tasks", "raydata", "raydata_p4", "daft", "library")


def _only(engines: tuple[str, ...]) -> list[str]:
    """$RA_ENGINES_ONLY (comma-separated names) picks a subset, for trying one engine."""
    wanted = os.environ.get("RA_ENGINES_ONLY")
    return [e for e in engines if not wanted or e in wanted.split(",")]


def _fmt(s: float) -> str:
    return f"{s:.2f}"


def main() -> None:
    import numpy as np
    import polars as pl
    import pyarrow.parquet as pq

    import recipe_audit
    from recipe_audit import _core

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    join_rows = int(sys.argv[2]) if len(sys.argv) > 2 else 500_000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    ROOT.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()[0]
    photos = _corpus(n)
    t = time.perf_counter()
    reference = recipe_audit.scan(photos, progress=False)
    local_s = time.perf_counter() - t
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        recipe_audit.scan(photos, progress=False)
        times.append(time.perf_counter() - t)
    local_s = statistics.median(times)
    reference.write_parquet(ROOT / "reference.parquet")

    # The join input: real pHashes, then uniform random ones up to join_rows / 11 hashes.
    real = reference.filter(pl.col("status") == "ok")["phash"].to_numpy().astype(np.uint64)
    n_hashes = max(len(real), join_rows // len(WIDTHS))
    rng = np.random.default_rng(17)
    hashes = np.concatenate([real, rng.integers(0, 2**64, n_hashes - len(real), dtype=np.uint64)])
    hashes = hashes[rng.permutation(len(hashes))]
    table = block_table(hashes)
    pq.write_table(table, ROOT / "join.parquet")
    t = time.perf_counter()
    i, j, _ = _core.hamming_pairs(hashes, RADIUS)
    rust_s = time.perf_counter() - t
    truth = np.unique((np.minimum(i, j).astype(np.uint64) << np.uint64(32)) | np.maximum(i, j).astype(np.uint64))
    keys, ids, hs = (table[c].to_numpy() for c in ("key", "id", "hash"))
    t = time.perf_counter()
    order = np.argsort(keys, kind="stable")
    local_pairs = np.unique(verify_sorted(keys[order], ids[order], hs[order]))
    numpy_local_s = time.perf_counter() - t
    groups = np.unique(keys, return_counts=True)[1]
    candidates = int((groups.astype(np.int64) * (groups - 1) // 2).sum())
    if not np.array_equal(local_pairs, truth):
        raise SystemExit(f"the block join does not match the exact search: {len(local_pairs)} vs {len(truth)}")

    started = time.perf_counter()
    cluster = RayCluster(nodes=2).__enter__()
    cluster_start_s = time.perf_counter() - started
    env = _cluster_env(cluster)
    try:
        scan_results = []
        for engine in _only(SCAN_ENGINES):
            work = ROOT / "out"
            work.mkdir(exist_ok=True)
            spec = {
                "engine": engine,
                "address": cluster.address,
                "photos": str(photos),
                "work": str(work),
                "reference": str(ROOT / "reference.parquet"),
                "rounds": rounds,
            }
            r = _child("scan", spec, env)
            print(json.dumps(r), file=sys.stderr)
            scan_results.append(r)
        join_results = []
        for engine in _only(JOIN_ENGINES):
            spec = {
                "engine": engine,
                "address": cluster.address,
                "table": str(ROOT / "join.parquet"),
                "pairs": str(ROOT / f"pairs-{engine}.npy"),
                "rounds": rounds,
            }
            r = _child("join", spec, env)
            if "error" not in r:
                r["same_pairs"] = r.get("same_groups", bool(np.array_equal(np.load(spec["pairs"]), truth)))
            print(json.dumps(r), file=sys.stderr)
            join_results.append(r)
    finally:
        cluster.stop()

    results = {
        "versions": _versions(),
        "n_files": n,
        "rounds": rounds,
        "load_start": load_start,
        "cluster_start_s": cluster_start_s,
        "cluster_cpus": float(cluster.nodes),
        "local_scan_s": local_s,
        "scan": scan_results,
        "join": {
            "rows": table.num_rows,
            "hashes": len(hashes),
            "real_hashes": len(real),
            "candidates": candidates,
            "pairs": len(truth),
            "rust_exact_s": rust_s,
            "numpy_local_s": numpy_local_s,
            "engines": join_results,
        },
    }
    (ROOT / "results.json").write_text(json.dumps(results, indent=1))
    print_tables(results)


LABELS = {
    "ra_tasks": "plain Ray tasks: `recipe_audit.scan(out=, engine=RayEngine)`",
    "raydata_items": "Ray Data `from_items` -> `map_batches` (reads files) -> `write_parquet`",
    "raydata_binary": "Ray Data `read_binary_files` -> `map_batches` -> `write_parquet`",
    "daft_download": "Daft on Ray `col(path).download()` -> batch UDF -> `write_parquet`",
    "daft_read": "Daft on Ray paths -> batch UDF (reads files) -> `write_parquet`",
    "tasks": "plain Ray tasks: 4 map tasks (`num_returns=4`) -> 4 reduce tasks",
    "raydata": "Ray Data `groupby(key).map_groups` (default partitions)",
    "raydata_p4": "Ray Data `groupby(key, num_partitions=4).map_groups`",
    "daft": "Daft on Ray `groupby(key).agg(list_agg)` -> batch UDF -> `explode`",
    "library": "for reference: `recipe_audit.distributed.near_duplicate_forest` (plain tasks; its own layout, Rust search per bucket)",
}


def print_tables(res: dict) -> None:
    v = res["versions"]
    n = res["n_files"]
    print(f"versions: {', '.join(f'{k} {x}' for k, x in v.items())}")
    print(
        f"cluster: 2 nodes x 1 CPU on one 2-core machine, up in {res['cluster_start_s']:.1f} s; "
        f"local recipe_audit.scan (both cores, no Ray): {res['local_scan_s']:.2f} s "
        f"({n / res['local_scan_s']:,.0f} files/s); load average at start {res.get('load_start', 0):.1f}\n"
    )
    print(
        f"| scan of {n:,} files into Parquet | warm median s | files/s | first run s | rows equal the local scan "
        f"| rerun into the same folder | rerun s | overwrite mode |"
    )
    print("|---|---:|---:|---:|---|---|---:|---|")
    for r in res["scan"]:
        if "error" in r:
            print(f"| {LABELS[r['engine']]} | failed: {r['error'].strip().splitlines()[-1][:160]} | | | | | | |")
            continue
        med = statistics.median(r["fresh_s"][1:] or r["fresh_s"])
        ok = all(c["equal"] and c["rows"] == n for c in r["checks"])
        rr = r["rerun"]
        if r["engine"].startswith("ra_"):
            again = (
                f"{rr['rows']:,} rows ({rr['rows'] / n:.0f}x), {rr['shards_written']} shards written, "
                f"{rr['rows_read']:,} files read"
            )
            over = "not needed"
        else:
            again = f"**{rr['rows']:,} rows ({rr['rows'] / n:.0f}x)**, all {n:,} files read again"
            ov = r["overwrite"]
            over = (
                f"{ov['rows']:,} rows{'' if ov['equal'] else ' (NOT equal)'}, {r['overwrite_s']:.2f} s, all read again"
            )
        print(
            f"| {LABELS[r['engine']]} | {_fmt(med)} | {n / med:,.0f} | {_fmt(r['fresh_s'][0])} | "
            f"{'yes' if ok else 'NO'} | {again} | {_fmt(r['rerun_s'])} | {over} |"
        )
    j = res["join"]
    print(
        f"\njoin: {j['rows']:,} rows = {j['hashes']:,} hashes ({j['real_hashes']:,} real pHashes) x 11 blocks; "
        f"{j['candidates']:,} candidate pairs in the key groups; {j['pairs']:,} pairs within {RADIUS} bits. "
        f"Same search without an engine: NumPy in one process {j['numpy_local_s']:.2f} s, "
        f"exact Rust search (`_core.hamming_pairs`) {j['rust_exact_s']:.2f} s.\n"
    )
    print(
        "| hash-block self-join | warm median s | warm runs s | first run s | pairs | same pairs as the exact search |"
    )
    print("|---|---:|---|---:|---:|---|")
    for r in j["engines"]:
        if "error" in r:
            print(f"| {LABELS[r['engine']]} | failed: {r['error'].strip().splitlines()[-1][:160]} | | | | |")
            continue
        ts = [abs(t) for t in r["times"]]
        warm = ts[1:] or ts
        pairs = f"{r['pairs']:,}" if "layout" not in r else f"{r['pairs']:,} forest edges"
        same = (
            ("yes" if r["same_pairs"] else "NO")
            if "layout" not in r
            else (f"same groups: {'yes' if r['same_pairs'] else 'NO'} ({r['layout']}, {r['candidates']:,} candidates)")
        )
        print(
            f"| {LABELS[r['engine']]} | {_fmt(statistics.median(warm))} | {', '.join(_fmt(t) for t in warm)} | "
            f"{_fmt(ts[0])} | {pairs} | {same}"
            f"{' (duplicates in output)' if any(t < 0 for t in r['times']) else ''} |"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, spec_file = sys.argv[2], sys.argv[3]
        spec = json.loads(Path(spec_file).read_text())
        result = child_scan(spec) if kind == "scan" else child_join(spec)
        print("RESULT " + json.dumps(result))
        sys.stdout.flush()
        import ray

        ray.shutdown()
        os._exit(0)  # skip slow interpreter teardown of Ray/Daft threads
    elif len(sys.argv) > 1 and sys.argv[1] == "--tables":
        print_tables(json.loads((ROOT / "results.json").read_text()))
    else:
        main()
