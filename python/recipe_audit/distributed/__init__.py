"""The same scan on a Ray cluster: each shard of a `scan(..., out=...)` run is one Ray task.

Ray is imported only when an engine is made (``pip install 'recipe-audit[ray]'``). The driver
lists the source once, cuts the listing into shards and submits one task per shard that is not
complete yet; each task runs exactly the function a local run calls (`recipe_audit.io.datasets.run_shard`), which
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
`recipe_audit.dedup.blockjoin`), so the groups equal the single-machine search's. A bucket larger than
``2 * chunk_size`` (a hot key: near-identical blank frames, a logo on 100,000 images) is not
searched in its reduce task but salted: cut into chunks and searched tile by tile as separate
tasks, still exactly; every such key is reported in ``engine.last_join.hot_keys``.

>>> engine = recipe_audit.distributed.RayEngine(address="auto")             # doctest: +SKIP
>>> run = recipe_audit.scan("s3://bucket/images", out="s3://bucket/audit", engine=engine)  # doctest: +SKIP
>>> dups = recipe_audit.distributed.find_duplicates(run.files, engine)      # doctest: +SKIP
"""

from recipe_audit.distributed.engine import RayEngine
from recipe_audit.distributed.join import (
    CHAINING_MIN,
    CHAINING_SHARE,
    find_duplicates,
    find_label_conflicts,
    find_leaks,
    near_duplicate_forest,
)
from recipe_audit.distributed.stats import JoinStats

__all__ = [
    "RayEngine",
    "JoinStats",
    "find_duplicates",
    "find_leaks",
    "find_label_conflicts",
    "near_duplicate_forest",
    "CHAINING_SHARE",
    "CHAINING_MIN",
]
