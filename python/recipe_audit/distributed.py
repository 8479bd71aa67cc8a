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

>>> engine = recipe_audit.distributed.RayEngine(address="auto")             # doctest: +SKIP
>>> run = recipe_audit.scan("s3://bucket/images", out="s3://bucket/audit", engine=engine)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from recipe_audit.output import ShardJob, run_shard


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
        self._task = ray.remote(num_cpus=cpus_per_task, max_retries=3)(_run_remote)
        self.node_ids: list[str] = []
        """The node that ran each shard of the last `map_shards`, in completion order."""

    def map_shards(self, jobs: Sequence[ShardJob]) -> Iterator[dict[str, Any]]:
        """Each job's result as its task finishes (any order)."""
        ray = self._ray
        pending: list[Any] = []
        queue = list(jobs)
        self.node_ids = []
        for job in queue:
            job.settings.threads = self.cpus_per_task
        while queue or pending:
            while queue and len(pending) < self.max_in_flight:
                pending.append(self._task.remote(queue.pop(0)))
            done, pending = ray.wait(pending, num_returns=1)
            result = ray.get(done[0])
            self.node_ids.append(result.pop("node"))
            yield result

    def nodes(self) -> int:
        """Alive nodes in the cluster."""
        return sum(1 for node in self._ray.nodes() if node.get("Alive"))
