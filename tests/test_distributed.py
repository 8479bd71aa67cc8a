"""The same scan on a real two-node Ray cluster on loopback: the dataset equals a local run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import recipe_audit

ray = pytest.importorskip("ray")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """`ray start --head` plus a second node joining it (two raylets, one CPU each)."""
    ray_cli = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    port = _free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    common = ["--num-cpus=1", "--disable-usage-stats"]
    subprocess.run([ray_cli, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
                    "--include-dashboard=false", *common], check=True, env=env, capture_output=True, timeout=180)
    address = f"127.0.0.1:{port}"
    subprocess.run([ray_cli, "start", f"--address={address}", "--node-ip-address=127.0.0.1", *common],
                   check=True, env=env, capture_output=True, timeout=180)
    try:
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        subprocess.run([ray_cli, "stop", "--force"], env=env, capture_output=True, timeout=120)


def test_ray_run_equals_the_local_run(cluster: str, example_root: Path, tmp_path: Path) -> None:
    from recipe_audit.distributed import RayEngine

    engine = RayEngine(address=cluster)
    assert engine.nodes() == 2
    run = recipe_audit.scan(example_root, out=tmp_path / "ray", shard_size=10, engine=engine, progress=False)
    assert (run.rows, len(run.shards), run.shards_written) == (71, 8, 8)
    assert len(set(engine.node_ids)) == 2, "both nodes ran shards"
    local = recipe_audit.scan(example_root, progress=False)
    assert run.files.collect().select(local.columns).equals(local)
    again = recipe_audit.scan(example_root, out=tmp_path / "ray", shard_size=10, engine=engine, progress=False)
    assert again.shards_written == 0
    assert sorted(os.listdir(tmp_path / "ray")) == sorted(["_run.json"] + [Path(s).name for s in run.shards])


def test_engine_needs_an_output(example_root: Path) -> None:
    with pytest.raises(ValueError, match="out="):
        recipe_audit.scan(example_root, engine=object())


def test_cli_runs_the_shards_on_the_cluster(cluster: str, example_root: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from recipe_audit.cli import main

    args = ["scan", str(example_root), "--dataset", str(tmp_path / "cli"), "--shard-size", "25",
            "--engine", "ray", "--address", cluster]
    assert main(args) == 0
    assert "3 shards written, 71 files read" in capsys.readouterr().out
    assert main(["scan", str(example_root), "--engine", "ray"]) == 2


def test_near_duplicates_on_the_cluster_equal_the_local_search(cluster: str, example_root: Path, photos: list[Path]) -> None:
    import numpy as np

    from recipe_audit.distributed import RayEngine, find_duplicates

    engine = RayEngine(address=cluster)
    files = recipe_audit.scan(example_root, progress=False)
    for chunk_size in (7, 1000):  # many tiles, and one
        assert find_duplicates(files, engine, chunk_size=chunk_size).equals(recipe_audit.find_duplicates(files, crops=False))
    # Real photo hashes with near copies planted across chunk boundaries (1-5 bits flipped).
    real = recipe_audit.scan(photos[0].parent, progress=False).filter(pl.col("status") == "ok")
    rng = np.random.default_rng(3)
    copies = real.sample(40, seed=1).with_columns(
        path=pl.col("path") + "_copy",
        content_hash=pl.col("content_hash") + "x",
        phash=pl.col("phash") ^ pl.Series([int(sum(1 << int(b) for b in rng.choice(64, rng.integers(1, 6), replace=False)))
                                             for _ in range(40)], dtype=pl.UInt64))
    both = pl.concat([real, copies]).sort("path")
    local = recipe_audit.find_duplicates(both, crops=False)
    assert local.height > 40
    assert find_duplicates(both, engine, chunk_size=16).equals(local)
    leaks = recipe_audit.find_leaks(files, find_duplicates(files, engine, chunk_size=7))
    assert leaks.equals(recipe_audit.find_leaks(files, recipe_audit.find_duplicates(files, crops=False)))
