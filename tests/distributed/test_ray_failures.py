"""Failures on a real multi-node Ray cluster on loopback (tests/ray_cluster.py), on real data: a
node or the driver SIGKILLed in the middle of a sharded scan still ends in a dataset that holds
every file exactly once and equals the local scan; a rerun after a dead driver writes only the
shards that were missing."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pytest

import recipe_audit
from recipe_audit.io.dataset_folder import RUN_RECORD
from recipe_audit.io.datasets import ScanRun

from tests.support.ray_cluster import ENV, Node, RayCluster, wait_until

ray = pytest.importorskip("ray")

# One file a shard: 71 tasks of a few milliseconds each, so a kill lands while most are still to run.
SHARD_SIZE = 1
SHARD_TASK = "_run_remote"  # the Ray task of one shard (recipe_audit.distributed); workers are titled ray::<it>

DRIVER = """
import os
import sys

import ray

import recipe_audit
from recipe_audit.distributed import RayEngine

address, root, out, shard_size, job_file = sys.argv[1:]
engine = RayEngine(address=address)
with open(job_file + ".partial", "w") as f:
    f.write(ray.get_runtime_context().get_job_id())
os.replace(job_file + ".partial", job_file)
recipe_audit.scan(root, out=out, shard_size=int(shard_size), engine=engine, progress=False)
"""


def _sharded_scan(root: Path, out: Path, engine) -> ScanRun:
    return recipe_audit.scan(root, out=out, shard_size=SHARD_SIZE, engine=engine, progress=False)


def _shard_files(out: Path) -> list[Path]:
    """Complete shards only: a shard is written under a hidden temporary name and renamed."""
    return sorted(out.glob("part-*.parquet"))


def _identity(path: Path) -> tuple[int, int, int]:
    """What changes if a file is rewritten, even with the same bytes: inode, mtime, size."""
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def assert_dataset_equals_local(run: ScanRun, out: Path, local: pl.DataFrame) -> None:
    """Every listed file once, rows equal to the local scan, and nothing else in the folder."""
    rows = run.files.collect()
    assert rows.height == local.height and rows["path"].is_unique().all(), "a file is missing or has two rows"
    assert rows.select(local.columns).equals(local)
    visible = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert visible == sorted([RUN_RECORD] + [Path(s).name for s in run.shards]), "a shard outside the record"
    # Someone reading the whole folder (not through _run.json) gets the same rows, none twice.
    folder = pl.read_parquet(out / "part-*.parquet").sort("path")
    assert folder.select(local.columns).equals(local)


def _in_background(work: Callable[[], object]) -> Future:
    pool = ThreadPoolExecutor(1)
    future = pool.submit(work)
    pool.shutdown(wait=False)
    return future


def _warm_up(node: Node, engine, root: Path, scratch: Path) -> None:
    """Scan until `node` has run a shard. Its first worker takes seconds to start (a fresh Python
    with the shipped package), longer than a whole run of tiny shards on the warm nodes."""
    runs = iter(range(1_000))

    def ran_a_shard_there() -> bool:
        _sharded_scan(root, scratch / str(next(runs)), engine)
        return node.node_id in engine.node_ids

    wait_until(ran_a_shard_there, "the new node to run a shard", timeout=120, every=0)


def test_a_node_killed_mid_run_leaves_a_complete_dataset(
    ray_cluster: RayCluster, example_root: Path, tmp_path: Path
) -> None:
    from recipe_audit.distributed import RayEngine

    local = recipe_audit.scan(example_root, progress=False)
    engine = RayEngine(address=ray_cluster.address)
    doomed = ray_cluster.add_node()  # a third node of its own: the session's two stay whole
    try:
        _warm_up(doomed, engine, example_root, tmp_path / "warm-up")
        out = tmp_path / "dataset"
        scan = _in_background(lambda: _sharded_scan(example_root, out, engine))
        wait_until(
            lambda: doomed.running(SHARD_TASK) or scan.done(), "the new node to run a shard", timeout=120, every=0.001
        )
        finished_before_the_kill = scan.done()
        ray_cluster.kill_node(doomed)
        assert not finished_before_the_kill, "the run ended before the node ran a shard: nothing was killed mid-run"
        run = scan.result(timeout=300)
    finally:
        ray_cluster.kill_node(doomed)
    assert (run.rows, len(run.shards)) == (local.height, math.ceil(local.height / SHARD_SIZE))
    assert_dataset_equals_local(run, out, local)
    # Leave the session's cluster as the other tests know it: two live nodes.
    wait_until(lambda: engine.nodes() == 2, "the GCS to mark the killed node dead", timeout=120, every=0.2)


def _start_driver(cluster: RayCluster, root: Path, out: Path, workdir: Path) -> tuple[subprocess.Popen, str]:
    """A second Ray driver, a process of its own running the sharded scan; returns it and its job id
    once it is connected."""
    script, job_file, log = workdir / "driver.py", workdir / "job_id", workdir / "driver.log"
    script.write_text(DRIVER)
    with open(log, "wb") as out_log:
        driver = subprocess.Popen(
            [sys.executable, str(script), cluster.address, str(root), str(out), str(SHARD_SIZE), str(job_file)],
            stdout=out_log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **ENV},
            start_new_session=True,
        )
    wait_until(lambda: job_file.exists() or driver.poll() is not None, "the driver to connect", timeout=120)
    assert job_file.exists(), f"the driver died before connecting:\n{log.read_text()[-3000:]}"
    return driver, job_file.read_text()


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the driver and anything it started
    except ProcessLookupError:
        pass
    process.wait()


def test_a_driver_killed_mid_run_resumes_and_skips_the_finished_shards(
    ray_cluster: RayCluster, example_root: Path, tmp_path: Path
) -> None:
    from recipe_audit.distributed import RayEngine

    local = recipe_audit.scan(example_root, progress=False)
    total = math.ceil(local.height / SHARD_SIZE)
    out = tmp_path / "dataset"
    driver, job_id = _start_driver(ray_cluster, example_root, out, tmp_path)
    try:
        wait_until(
            lambda: len(_shard_files(out)) >= 5 or driver.poll() is not None,
            "the driver to write 5 shards",
            timeout=120,
            every=0.002,
        )
        assert driver.poll() is None, f"the driver ended by itself:\n{(tmp_path / 'driver.log').read_text()[-3000:]}"
    finally:
        _kill(driver)
    # Its tasks outlive it briefly; once Ray has ended every worker of its job no shard can land.
    wait_until(lambda: not ray_cluster.job_processes(job_id), f"the workers of job {job_id} to end", timeout=120)
    assert not (out / RUN_RECORD).exists(), "the driver finished: it was not killed mid-run"
    before = {path.name: _identity(path) for path in _shard_files(out)}
    assert 5 <= len(before) < total
    rows_done = pl.read_parquet(_shard_files(out)).height

    run = _sharded_scan(example_root, out, RayEngine(address=ray_cluster.address))

    assert run.shards_written == total - len(before), "the rerun rewrote finished shards or skipped missing ones"
    assert run.rows_read == local.height - rows_done
    assert {name: _identity(out / name) for name in before} == before, "a finished shard was touched"
    assert_dataset_equals_local(run, out, local)
