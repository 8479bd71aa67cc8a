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

Near duplicates past one machine (`find_duplicates`): the distinct hashes are cut into chunks and
every pair of chunks is one task running the exact Rust search between them; each task returns a
spanning forest of its matches (at most one edge per hash, however large a cluster), and the
driver joins the forests into connected components. Every pair of hashes lies in exactly one
tile, so the groups are exactly those of the single-machine search; identical hashes (blank
frames, a logo on 100,000 images) are collapsed to one before the search.

>>> engine = recipe_audit.distributed.RayEngine(address="auto")             # doctest: +SKIP
>>> run = recipe_audit.scan("s3://bucket/images", out="s3://bucket/audit", engine=engine)  # doctest: +SKIP
>>> dups = recipe_audit.distributed.find_duplicates(run.files, engine)      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recipe_audit import _core
from recipe_audit.output import ShardJob, run_shard


def _tile_edges(a: np.ndarray, b: np.ndarray, offset_a: int, offset_b: int, radius: int,
                same: bool) -> tuple[np.ndarray, np.ndarray]:
    """Spanning-forest edges (global ids) of the matches within chunk `a` (same) or between two."""
    if same:
        roots = _core.hamming_groups(a, radius).astype(np.int64)
        nodes = np.flatnonzero(roots != np.arange(len(a)))
        return nodes + offset_a, roots[nodes] + offset_a
    left, right = _core.hamming_forest_across(a, b, radius)
    glob = lambda v: np.where(v < len(a), v.astype(np.int64) + offset_a, v.astype(np.int64) - len(a) + offset_b)  # noqa: E731
    return glob(left), glob(right)


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
    """

    def __init__(self, address: str | None = "auto", *, cpus_per_task: int = 1, ship_package: bool = True,
                 max_in_flight: int = 64) -> None:
        try:
            import ray
        except ImportError as err:
            raise ImportError("the Ray engine needs Ray: pip install 'recipe-audit[ray]'") from err
        self._ray = ray
        self.cpus_per_task = cpus_per_task
        self.max_in_flight = max_in_flight
        if not ray.is_initialized():
            package = str(Path(__file__).resolve().parent)
            runtime_env = {"py_modules": [package]} if ship_package else None
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False, include_dashboard=False)
        self.node_ids: list[str] = []
        """The node that ran each shard of the last `map_shards`, in completion order."""

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
        task = ray.remote(num_cpus=self.cpus_per_task, max_retries=3)(fn)
        queue, pending = list(argument_lists), []
        while queue or pending:
            while queue and len(pending) < self.max_in_flight:
                pending.append(task.remote(*queue.pop(0)))
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])

    def put(self, value: Any) -> Any:
        """Store `value` once in the cluster's object store (tasks receive it, not a copy per task)."""
        return self._ray.put(value)

    def nodes(self) -> int:
        """Alive nodes in the cluster."""
        return sum(1 for node in self._ray.nodes() if node.get("Alive"))


def find_duplicates(files: pl.DataFrame | pl.LazyFrame, engine: RayEngine, *, hash: str = "phash",
                    max_distance: int | None = None, exact: bool = True, chunk_size: int = 1_000_000) -> pl.DataFrame:
    """`recipe_audit.find_duplicates(crops=False)`, with the search run as tasks on `engine`: the
    same frame (the crop-tolerant windows are not distributed yet).

    Args:
        files: a scan frame, or the lazy frame of a dataset run (``ScanRun.files``); only the
            columns the search needs are collected.
        engine: a `RayEngine`.
        chunk_size: distinct hashes per chunk: a task searches two chunks, so memory per task is
            bounded by ``2 * chunk_size`` hashes; there are ``k (k + 1) / 2`` tasks for k chunks.

    Example:
        >>> dups = recipe_audit.distributed.find_duplicates(run.files, engine)   # doctest: +SKIP
        >>> leaks = recipe_audit.find_leaks(run.files.collect(), dups)           # doctest: +SKIP
    """
    from recipe_audit.duplicates import _groups_frame, _radius, _usable

    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    wanted = ["path", "status", "content_hash", hash, "width", "height", "label", "split"]
    if isinstance(files, pl.LazyFrame):
        files = files.select([c for c in wanted if c in files.collect_schema().names()]).collect()
    usable = _usable(files, hash)
    radius = _radius(hash, max_distance)
    extra = [c for c in ("label", "split") if c in files.columns]
    distinct = np.unique(usable[hash].to_numpy())
    starts = list(range(0, len(distinct), chunk_size))
    chunks = [engine.put(distinct[s:s + chunk_size]) for s in starts]
    tiles = [(chunks[i], chunks[j], starts[i], starts[j], radius, i == j)
             for i in range(len(starts)) for j in range(i, len(starts))]
    edges = list(engine.map(_tile_edges, tiles))
    a = np.concatenate([e[0] for e in edges] or [np.zeros(0, np.int64)]).astype(np.uint32)
    b = np.concatenate([e[1] for e in edges] or [np.zeros(0, np.int64)]).astype(np.uint32)
    roots = _core.hamming_components(len(distinct), a, b)
    per_row = roots[np.searchsorted(distinct, usable[hash].to_numpy())]
    return _groups_frame(usable, per_row, hash=hash, exact=exact, flips=False, extra=extra)
