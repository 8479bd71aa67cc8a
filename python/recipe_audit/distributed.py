"""The same scan on a Ray cluster: each shard of a `scan(..., out=...)` run is one Ray task.

Ray is imported only when an engine is made (``pip install 'recipe-audit[ray]'``). The driver
lists the source once, cuts the listing into shards and submits one task per shard that is not
complete yet; each task runs exactly the function a local run calls (`output.run_shard`), which
reads its files (local paths must be visible on every node, e.g. a shared file system; object
stores are read by each worker directly), writes its shard under its deterministic name and
returns counts. A task lost with its node is retried by Ray and rewrites the same name, so the
dataset is complete and never holds a row twice; the driver writes ``_run.json`` at the end.
The package reaches the workers through Ray's runtime environment (``py_modules``: this
package's folder, its compiled core included) unless they already have it installed.

Near duplicates past one machine (`find_duplicates`) are a multi-index-hashing join: identical
hashes are collapsed first; each map task cuts its slice of the distinct hashes into blocks and
sends every ``(block, value)`` key to a reduce task by a hash of the key (a Ray shuffle through the
object store); each reduce task groups its keys into buckets and searches every bucket exactly in
Rust, returning a spanning forest (at most one edge per hash); the driver joins the forests into
connected components. Two hashes within the radius share a block (pigeonhole, see
`recipe_audit.blockjoin`), so the groups equal the single-machine search's. A bucket larger than
``2 * chunk_size`` (a hot key: near-identical blank frames, a logo on 100,000 images) is not
searched in its reduce task but salted: cut into chunks and searched tile by tile as separate
tasks, still exactly; every such key is reported in ``engine.last_join.hot_keys``.

>>> engine = recipe_audit.distributed.RayEngine(address="auto")             # doctest: +SKIP
>>> run = recipe_audit.scan("s3://bucket/images", out="s3://bucket/audit", engine=engine)  # doctest: +SKIP
>>> dups = recipe_audit.distributed.find_duplicates(run.files, engine)      # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recipe_audit import _core, blockjoin, thumbmatch
from recipe_audit.output import ShardJob, run_shard


Chunk = tuple[np.ndarray, np.ndarray]  # hashes and their global ids


def _tile_edges(a: Chunk, b: Chunk, radius: int, same: bool) -> tuple[np.ndarray, np.ndarray]:
    """Spanning-forest edges (global ids) of the matches within chunk `a` (same) or between two."""
    (a_hashes, a_ids), (b_hashes, b_ids) = a, b
    if same:
        roots = _core.hamming_groups(a_hashes, radius).astype(np.int64)
        nodes = np.flatnonzero(roots != np.arange(len(a_hashes)))
        return a_ids[nodes], a_ids[roots[nodes]]
    left, right = _core.hamming_forest_across(a_hashes, b_hashes, radius)
    ids = np.concatenate((a_ids, b_ids))
    return ids[left], ids[right]


def _emit_partitions(hashes: np.ndarray, first_id: int, layout: blockjoin.BlockLayout,
                     partitions: int) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...] | tuple[np.ndarray, ...]:
    """Map side: this slice's keys, cut into one ``(keys, hashes, ids)`` part per reduce task."""
    keys = blockjoin.emit_keys(hashes, layout)
    repeat = len(keys) // max(len(hashes), 1)
    rows_hashes = np.tile(hashes, repeat)
    rows_ids = np.tile(np.arange(first_id, first_id + len(hashes), dtype=np.uint32), repeat)
    target = blockjoin.partition_of(keys, partitions)
    order = np.argsort(target, kind="stable")
    cuts = np.cumsum(np.bincount(target, minlength=partitions))[:-1]
    parts = tuple(zip(*(np.split(column[order], cuts) for column in (keys, rows_hashes, rows_ids))))
    return parts if partitions > 1 else parts[0]


def _search_partition(radius: int, chunk_size: int, *parts: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Iterator[Any]:
    """Reduce side: bucket this partition's keys and search each bucket of up to
    ``2 * chunk_size`` hashes in Rust. Yields the result first (edges, counts, and for each
    larger, hot, bucket its key, size and number of chunks), then the hot buckets' chunks of
    `chunk_size` `(hashes, ids)`: on Ray these stay in the object store for the tile tasks
    instead of passing through the driver."""
    keys, hashes, ids = (np.concatenate([p[k] for p in parts]) for k in range(3))
    buckets = blockjoin.bucket(keys, hashes, ids)
    sizes = buckets.sizes
    hot = sizes > 2 * chunk_size
    cold = buckets.select(~hot)
    a, b = _core.hamming_forest_in_buckets(cold.hashes, cold.ids, cold.offsets, radius)
    hot_buckets = buckets.select(hot)
    spans = list(zip(hot_buckets.offsets[:-1].astype(np.int64), hot_buckets.offsets[1:].astype(np.int64)))
    cold_sizes = sizes[~hot].astype(np.float64)
    yield {"a": a, "b": b, "keys": len(keys), "buckets": len(sizes), "largest": int(sizes.max()) if len(sizes) else 0,
           "candidates": int((cold_sizes * (cold_sizes - 1) / 2).sum()),
           "hot": [(int(key), int(end - start), -(-int(end - start) // chunk_size))
                   for key, (start, end) in zip(hot_buckets.keys.tolist(), spans)]}
    for start, end in spans:
        for at in range(start, end, chunk_size):
            stop = min(at + chunk_size, end)
            yield hot_buckets.hashes[at:stop], hot_buckets.ids[at:stop]


def _same_cluster(address: str, connected: str) -> bool:
    """Whether `address` names the connected cluster's GCS (a ``ray://`` client address cannot be
    compared with it, so it is taken on trust)."""
    return address.startswith("ray://") or address == connected


def _run_remote(job: ShardJob) -> dict[str, Any]:
    import ray

    result = run_shard(job)
    return {**result, "node": ray.get_runtime_context().get_node_id()}


class RayEngine:
    """Runs shard jobs as Ray tasks.

    Args:
        address: the cluster (``"auto"``, ``"ray://host:10001"``, ``"127.0.0.1:6379"``); None
            starts a local Ray instance.
        cpus_per_task: CPUs Ray reserves for each shard task (and the scan threads it uses).
        ship_package: send this package to the workers in the runtime environment; turn off
            when the workers have ``recipe-audit`` installed.
        max_in_flight: shard tasks submitted at once (bounds driver memory for huge runs).
        scheduling: Ray's scheduling strategy for every task. ``"SPREAD"`` (the default, as in
            Ray Data) puts tasks on all nodes from the start; Ray's ``"DEFAULT"`` packs them on
            the driver's node until it is full and starts other nodes' workers late, which left
            the second node idle for whole short runs (benches/engines_compare.py: 2,000 files
            in 8 shards took 3.2 s on 2 nodes with DEFAULT, 1.8 s with SPREAD).
    """

    def __init__(self, address: str | None = "auto", *, cpus_per_task: int = 1, ship_package: bool = True,
                 max_in_flight: int = 64, scheduling: str = "SPREAD") -> None:
        try:
            import ray
        except ImportError as err:
            raise ImportError("the Ray engine needs Ray: pip install 'recipe-audit[ray]'") from err
        self._ray = ray
        self.cpus_per_task = cpus_per_task
        self.max_in_flight = max_in_flight
        self.scheduling = scheduling
        if ray.is_initialized():
            connected = ray.get_runtime_context().gcs_address
            if address not in (None, "auto") and not _same_cluster(address, connected):
                raise RuntimeError(f"this process is already connected to the Ray cluster at {connected}, not "
                                   f"{address}; call ray.shutdown() first, or use address='auto'")
        else:
            package = str(Path(__file__).resolve().parent)
            # The Rust search's thread pool takes the CPUs Ray gave the task, not the whole node.
            runtime_env: dict[str, Any] = {"env_vars": {"RAYON_NUM_THREADS": str(cpus_per_task)}}
            if ship_package:
                runtime_env["py_modules"] = [package]
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False, include_dashboard=False)
        self.node_ids: list[str] = []
        """The node that ran each shard of the last `map_shards`, in completion order."""
        self.last_join: JoinStats | None = None
        """What the last `find_duplicates` on this engine did: layout, keys, buckets, hot keys."""

    def map_shards(self, jobs: Sequence[ShardJob]) -> Iterator[dict[str, Any]]:
        """Each job's result as its task finishes (any order)."""
        self.node_ids = []
        for job in jobs:
            job.settings.threads = self.cpus_per_task
        for result in self.map(_run_remote, [(job,) for job in jobs]):
            self.node_ids.append(result.pop("node"))
            yield result

    def map(self, fn: Any, argument_lists: Sequence[Sequence[Any]]) -> Iterator[Any]:
        """``fn(*args)`` as Ray tasks, `max_in_flight` at a time; results in completion order."""
        ray = self._ray
        task = ray.remote(num_cpus=self.cpus_per_task, max_retries=3, scheduling_strategy=self.scheduling)(fn)
        queue, pending = list(argument_lists), []
        while queue or pending:
            while queue and len(pending) < self.max_in_flight:
                pending.append(task.remote(*queue.pop(0)))
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])

    def map_reduce(self, map_fn: Callable[..., Any], map_arguments: Sequence[Sequence[Any]],
                   reduce_fn: Callable[..., Any], reduce_arguments: Sequence[Any], partitions: int, *,
                   streamed: bool = False) -> Iterator[Any]:
        """A shuffle: ``map_fn(*args, partitions)`` returns one part per reduce task, and
        ``reduce_fn(*reduce_arguments, *parts)`` gets part ``j`` of every map task. Parts travel
        through Ray's object store (spilled to disk when large), never through the driver.

        With `streamed`, `reduce_fn` is a generator: its first item comes back as the result,
        the others stay in the object store, and each reduce gives ``(result, references)``. The
        driver owns those objects, so they outlive the worker that made them, and a task that
        is handed a reference reads the object from the store.

        Results come in completion order, or in task order with `streamed`.
        """
        ray = self._ray
        mapper = ray.remote(num_cpus=self.cpus_per_task, num_returns=partitions, max_retries=3,
                            scheduling_strategy=self.scheduling)(map_fn)
        outputs = [mapper.remote(*args, partitions) for args in map_arguments]
        if partitions == 1:
            outputs = [[out] for out in outputs]
        reducer = ray.remote(num_cpus=self.cpus_per_task, max_retries=3, scheduling_strategy=self.scheduling,
                             num_returns="streaming" if streamed else 1)(reduce_fn)
        pending = [reducer.remote(*reduce_arguments, *[out[j] for out in outputs]) for j in range(partitions)]
        if streamed:
            for generator in pending:
                result = ray.get(next(generator))
                yield result, list(generator)
            return
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])

    def cpus(self) -> int:
        """CPUs in the cluster (sets how many tasks a join is cut into)."""
        return int(self._ray.cluster_resources().get("CPU", 1))

    def put(self, value: Any) -> Any:
        """Store `value` once in the cluster's object store (tasks receive it, not a copy per task)."""
        return self._ray.put(value)

    def nodes(self) -> int:
        """Alive nodes in the cluster."""
        return sum(1 for node in self._ray.nodes() if node.get("Alive"))


log = logging.getLogger("recipe_audit")


def _search_columns(files: pl.DataFrame | pl.LazyFrame, hash: str) -> pl.DataFrame:
    """Only the columns the searches read, so a dataset of 1e8 rows is not collected whole."""
    if isinstance(files, pl.DataFrame):
        return files
    wanted = ["path", "status", "content_hash", hash, "phash", "phash_mirror", "thumb", "colorfulness", "chroma_rg", "chroma_yb",
              "width", "height",
              "label", "split"]
    names = files.collect_schema().names()
    return files.select(list(dict.fromkeys(c for c in wanted if c in names))).collect()


@dataclass(frozen=True)
class JoinStats:
    """What a distributed near-duplicate join did (``engine.last_join``).

    Attributes:
        layout: the block layout (`recipe_audit.blockjoin.choose_layout`).
        hashes: distinct hashes joined (identical hashes collapsed first).
        keys: block keys shuffled (``hashes * layout.keys_per_hash``).
        buckets: distinct keys.
        largest_bucket: hashes under the most common key.
        candidate_pairs: pairs inside the buckets searched in reduce tasks: the most that
            could be verified by popcount (the indexed search checks far fewer).
        map_tasks, reduce_tasks, tile_tasks: tasks run; tiles are the salted hot buckets.
        hot_keys: one row per hot key: ``block``, ``value``, ``hashes``, ``tiles``.
        largest_group: distinct hashes in the largest group (set by `find_duplicates`). One
            group holding a large share of a big set means unrelated images chain at this
            radius (docs/scale.md: at 1e8 images radius 10 links ~470 unrelated ones each).
    """

    layout: blockjoin.BlockLayout
    hashes: int
    keys: int
    buckets: int
    largest_bucket: int
    candidate_pairs: int
    map_tasks: int
    reduce_tasks: int
    tile_tasks: int
    hot_keys: pl.DataFrame = field(repr=False)
    largest_group: int | None = None


CHAINING_SHARE = 0.01
"""A group over this share of the distinct hashes (and over `CHAINING_MIN` of them) is logged
as a likely chain of unrelated images."""
CHAINING_MIN = 1_000


def _salted_tiles(chunks: Sequence[Any], radius: int) -> list[tuple[Any, Any, int, bool]]:
    """A hot bucket's chunks (or references to them), one tile task per pair of chunks: every
    pair of its hashes is in exactly one tile."""
    return [(chunks[i], chunks[j], radius, i == j) for i in range(len(chunks)) for j in range(i, len(chunks))]


def near_duplicate_forest(distinct: np.ndarray, engine: RayEngine, radius: int, *, chunk_size: int = 1_000_000,
                          partitions: int | None = None) -> tuple[np.ndarray, np.ndarray, JoinStats]:
    """The distributed block join over sorted distinct hashes: spanning-forest edges (indices
    into `distinct`) whose components are exactly the within-`radius` groups, and its stats.

    Args:
        chunk_size: distinct hashes per map task, and half the size above which a bucket is hot
            (salted into tiles of two chunks), so no task searches more than ``2 * chunk_size``.
        partitions: reduce tasks; by default enough for ~8M keys each and two per cluster CPU.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    layout = blockjoin.choose_layout(len(distinct), radius)
    keys = len(distinct) * layout.keys_per_hash
    if partitions is None:
        partitions = blockjoin.default_partitions(keys, engine.cpus())
    starts = list(range(0, len(distinct), chunk_size))
    maps = [(engine.put(distinct[s:s + chunk_size]), s, layout) for s in starts]
    edges_a, edges_b, hot, tiles_per_key, reduced = [], [], [], [], []
    for result, chunks in engine.map_reduce(_emit_partitions, maps, _search_partition, (radius, chunk_size),
                                            partitions, streamed=True):
        edges_a.append(result["a"])
        edges_b.append(result["b"])
        for key, size, count in result.pop("hot"):
            hot.append((key, size))
            tiles_per_key.append(_salted_tiles(chunks[:count], radius))
            chunks = chunks[count:]
        reduced.append(result)
    tiles = [tile for key_tiles in tiles_per_key for tile in key_tiles]
    for a, b in engine.map(_tile_edges, tiles):
        edges_a.append(a)
        edges_b.append(b)
    hot_keys = pl.DataFrame(
        [(*blockjoin.key_block_value(key), size, len(t)) for (key, size), t in zip(hot, tiles_per_key)],
        schema={"block": pl.UInt32, "value": pl.UInt32, "hashes": pl.UInt64, "tiles": pl.UInt64}, orient="row")
    stats = JoinStats(layout=layout, hashes=len(distinct), keys=sum(r["keys"] for r in reduced),
                      buckets=sum(r["buckets"] for r in reduced),
                      largest_bucket=max((r["largest"] for r in reduced), default=0),
                      candidate_pairs=sum(r["candidates"] for r in reduced), map_tasks=len(maps),
                      reduce_tasks=partitions, tile_tasks=len(tiles), hot_keys=hot_keys.sort("hashes", descending=True))
    empty = np.zeros(0, np.uint32)
    return (np.concatenate(edges_a or [empty]).astype(np.uint32), np.concatenate(edges_b or [empty]).astype(np.uint32),
            stats)


def find_duplicates(files: pl.DataFrame | pl.LazyFrame, engine: RayEngine, *, hash: str = "phash",
                    max_distance: int | None = None, exact: bool = True, chunk_size: int = 1_000_000,
                    crops: bool | None = None) -> pl.DataFrame:
    """`recipe_audit.find_duplicates` on `engine`, with the same rule and the same frame.

    The default window rule runs as tiles: the textured pictures in chunks of `chunk_size`, one
    task per pair of chunks (`thumbmatch.tile_links`), the groups joined on the driver. The
    single-hash search (`max_distance`, ``crops=False`` or another `hash`) runs as a block join;
    ``engine.last_join`` then holds its `JoinStats`.

    Args:
        files: a scan frame, or the lazy frame of a dataset run (``ScanRun.files``); only the
            columns the search needs are collected.
        engine: a `RayEngine`; ``engine.last_join`` holds the block join's `JoinStats` afterwards
            (None after the window rule).
        chunk_size: pictures per chunk (window rule), or distinct hashes per map task (block
            join: a bucket of more than ``2 * chunk_size`` hashes is hot and searched as tiles of
            two chunks, so no task holds more).
        crops: ``False`` selects the single-hash search, as in `recipe_audit.find_duplicates`.

    Example:
        >>> dups = recipe_audit.distributed.find_duplicates(run.files, engine)   # doctest: +SKIP
        >>> engine.last_join.hot_keys                                            # doctest: +SKIP
        >>> leaks = recipe_audit.find_leaks(run.files.collect(), dups)           # doctest: +SKIP
    """
    from recipe_audit.duplicates import _groups_frame, _radius, _usable, _windows_rule, _windows_usable

    files = _search_columns(files, hash)
    extra = [c for c in ("label", "split") if c in files.columns]
    if _windows_rule(files, hash, max_distance, crops, None):
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        usable = _windows_usable(files)
        engine.last_join = None
        roots = thumbmatch.matched_groups(
            thumbmatch.thumbnails(usable), thumbmatch.shapes(usable), chunk_size=chunk_size,
            run_tiles=lambda tiles: engine.map(thumbmatch.tile_links, tiles), put=engine.put)
        return _groups_frame(usable, roots, hash=hash, exact=exact, flips=True, extra=extra)
    usable = _usable(files, hash)
    radius = _radius(hash, max_distance)
    if radius >= blockjoin.BITS:
        raise ValueError("the distributed search takes max_distance up to 63 bits")
    distinct = np.unique(usable[hash].to_numpy())
    a, b, stats = near_duplicate_forest(distinct, engine, radius, chunk_size=chunk_size)
    if stats.hot_keys.height:
        log.warning("near-duplicate join: %d hot keys (largest %d hashes) salted into %d tiles",
                    stats.hot_keys.height, stats.largest_bucket, stats.tile_tasks)
    roots = _core.hamming_components(len(distinct), a, b)
    largest = int(np.bincount(roots).max()) if len(roots) else 0
    engine.last_join = stats = replace(stats, largest_group=largest)
    if largest > max(CHAINING_MIN, CHAINING_SHARE * len(distinct)):
        log.warning("near-duplicate join: one group holds %d of %d distinct hashes; at radius %d unrelated "
                    "images may be chaining into it (try a smaller max_distance; see docs/scale.md)",
                    largest, len(distinct), radius)
    per_row = roots[np.searchsorted(distinct, usable[hash].to_numpy())]
    return _groups_frame(usable, per_row, hash=hash, exact=exact, flips=False, extra=extra)


def find_leaks(files: pl.DataFrame | pl.LazyFrame, engine: RayEngine, dups: pl.DataFrame | None = None, *,
               max_distance: int | None = None, max_twins: int = 10) -> pl.DataFrame:
    """`recipe_audit.find_leaks` with the duplicate groups from the block join on `engine`.

    Example:
        >>> leaks = recipe_audit.distributed.find_leaks(run.files, engine)   # doctest: +SKIP
    """
    from recipe_audit.duplicates import find_leaks as leaks_from_groups

    files = _search_columns(files, "phash")
    dups = find_duplicates(files, engine, max_distance=max_distance) if dups is None else dups
    return leaks_from_groups(files, dups, max_twins=max_twins)


def find_label_conflicts(files: pl.DataFrame | pl.LazyFrame, engine: RayEngine, dups: pl.DataFrame | None = None, *,
                         max_distance: int | None = None) -> pl.DataFrame:
    """`recipe_audit.find_label_conflicts` with the duplicate groups from the block join on `engine`.

    Example:
        >>> conflicts = recipe_audit.distributed.find_label_conflicts(run.files, engine)   # doctest: +SKIP
    """
    from recipe_audit.duplicates import find_label_conflicts as conflicts_from_groups

    files = _search_columns(files, "phash")
    dups = find_duplicates(files, engine, max_distance=max_distance) if dups is None else dups
    return conflicts_from_groups(files, dups)
