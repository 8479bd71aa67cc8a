"""`RayEngine`: shard jobs, task maps and shuffles as Ray tasks (Ray imported when one is made)."""

from __future__ import annotations

import socket
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from recipe_audit._optional import require
from recipe_audit.distributed.stats import JoinStats
from recipe_audit.io.datasets import ShardJob, run_shard
from recipe_audit.io.listing import Settings


def _same_cluster(address: str, connected: str) -> bool:
    """Whether `address` names the connected cluster's GCS (a ``ray://`` client address cannot be
    compared with it, so it is taken on trust)."""
    return address.startswith("ray://") or address == connected


_connected_here: set[str] = set()
"""The Ray jobs (one per `ray.init`) this module connected with its own runtime environment (the
package shipped): not addresses, since a `ray.shutdown()` and the user's own `ray.init` of the
same address are another connection, with the user's runtime environment."""


def _fingerprint() -> str:
    return Settings().fingerprint()


def _check_reachable(address: str | None) -> None:
    """A ``host:port`` that nothing answers on is a ConnectionError at once (Ray itself retries
    it for minutes without a word)."""
    if address in (None, "auto") or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return  # not host:port: Ray says what it makes of it
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as error:
        raise ConnectionError(
            f"RayEngine: cannot reach a Ray cluster at {address} ({error}); is `ray start --head` running there?"
        ) from None


def _run_remote(job: ShardJob) -> dict[str, Any]:
    ray = require("ray", extra="ray", feature="the Ray engine")
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
            the second node idle for whole short runs (benches/studies/engines_compare.py: 2,000 files
            in 8 shards took 3.2 s on 2 nodes with DEFAULT, 1.8 s with SPREAD).
    """

    def __init__(
        self,
        address: str | None = "auto",
        *,
        cpus_per_task: int = 1,
        ship_package: bool = True,
        max_in_flight: int = 64,
        scheduling: str = "SPREAD",
    ) -> None:
        for name, value in (("cpus_per_task", cpus_per_task), ("max_in_flight", max_in_flight)):
            if value < 1:
                raise ValueError(f"RayEngine: {name} must be at least 1, not {value!r}")
        ray = require("ray", extra="ray", feature="the Ray engine")
        self._ray = ray
        self.cpus_per_task = cpus_per_task
        self.max_in_flight = max_in_flight
        self.scheduling = scheduling
        if ray.is_initialized():
            connected = ray.get_runtime_context().gcs_address
            if address not in (None, "auto") and not _same_cluster(address, connected):
                raise RuntimeError(
                    f"this process is already connected to the Ray cluster at {connected}, not "
                    f"{address}; call ray.shutdown() first, or use address='auto'"
                )
            if ray.get_runtime_context().get_job_id() not in _connected_here:
                # Someone else's connection: its runtime environment stays, so this package is
                # not shipped and the thread cap not set; the workers' own package must match.
                warnings.warn(
                    "RayEngine: Ray was connected before this engine; its runtime environment stays "
                    "(ship_package and the searches' thread cap cpus_per_task are not applied)",
                    RuntimeWarning,
                    stacklevel=2,
                )
            self._check_workers()
        else:
            _check_reachable(address)
            package = str(Path(__file__).resolve().parent.parent)  # recipe_audit/, with its core
            # The Rust search's thread pool takes the CPUs Ray gave the task, not the whole node.
            runtime_env: dict[str, Any] = {"env_vars": {"RAYON_NUM_THREADS": str(cpus_per_task)}}
            if ship_package:
                runtime_env["py_modules"] = [package]
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False, include_dashboard=False)
            _connected_here.add(ray.get_runtime_context().get_job_id())
            if not ship_package:
                self._check_workers()
        largest = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")), default=0)
        if cpus_per_task > largest:
            raise ValueError(
                f"RayEngine: cpus_per_task={cpus_per_task}, but the largest node of the cluster has "
                f"{largest:g} CPUs: no task could ever start"
            )
        self.node_ids: list[str] = []
        """The node that ran each shard of the last `map_shards`, in completion order."""
        self.last_join: JoinStats | None = None
        """What the last `find_duplicates` on this engine did: layout, keys, buckets, hot keys."""

    def _check_workers(self) -> None:
        """A worker's scan must be this process's: the same columns, measures and settings
        fingerprint (rows of two builds would mix in one dataset)."""
        theirs = self._ray.get(self._ray.remote(num_cpus=0)(_fingerprint).remote())
        if theirs != _fingerprint():
            raise RuntimeError(
                "RayEngine: the workers import another recipe_audit than this process "
                f"(theirs: {theirs}); ship this one (ship_package=True, on a fresh connection: "
                "ray.shutdown() first) or install the same release on every node"
            )

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
        queue, pending = list(argument_lists), list[Any]()
        while queue or pending:
            while queue and len(pending) < self.max_in_flight:
                pending.append(task.remote(*queue.pop(0)))
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])

    def map_reduce(
        self,
        map_fn: Callable[..., Any],
        map_arguments: Sequence[Sequence[Any]],
        reduce_fn: Callable[..., Any],
        reduce_arguments: Sequence[Any],
        partitions: int,
        *,
        streamed: bool = False,
    ) -> Iterator[Any]:
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
        mapper = ray.remote(
            num_cpus=self.cpus_per_task, num_returns=partitions, max_retries=3, scheduling_strategy=self.scheduling
        )(map_fn)
        outputs = [mapper.remote(*args, partitions) for args in map_arguments]
        if partitions == 1:
            outputs = [[out] for out in outputs]
        reducer = ray.remote(
            num_cpus=self.cpus_per_task,
            max_retries=3,
            scheduling_strategy=self.scheduling,
            num_returns="streaming" if streamed else 1,
        )(reduce_fn)
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


__all__ = ["RayEngine"]
