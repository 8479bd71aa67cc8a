"""The same scan on a real two-node Ray cluster on loopback: the dataset equals a local run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import recipe_audit
from recipe_audit.io.datasets import LOCK

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster(ray_cluster) -> str:
    """The address of the session's two-node cluster (tests/conftest.py, tests/ray_cluster.py)."""
    return ray_cluster.address


def test_ray_run_equals_the_local_run(cluster: str, example_root: Path, tmp_path: Path) -> None:
    from recipe_audit.distributed import RayEngine

    engine = RayEngine(address=cluster)
    assert engine.nodes() == 2
    local = recipe_audit.scan(example_root, progress=False)
    # A fresh node's first worker can take longer to start than a whole small run, so one node
    # may do everything at first: every run must equal the local one, and within three runs
    # both nodes must have done work.
    for attempt in range(3):
        out = tmp_path / f"ray{attempt}"
        run = recipe_audit.scan(example_root, out=out, shard_size=10, engine=engine, progress=False)
        assert (run.rows, len(run.shards), run.shards_written) == (71, 8, 8)
        assert run.files.collect().select(local.columns).equals(local)
        if len(set(engine.node_ids)) == 2:
            break
    assert len(set(engine.node_ids)) == 2, "both nodes ran shards"
    again = recipe_audit.scan(example_root, out=out, shard_size=10, engine=engine, progress=False)
    assert again.shards_written == 0
    assert sorted(n for n in os.listdir(out) if n != LOCK) == sorted(["_run.json"] + [Path(s).name for s in run.shards])


def test_engine_needs_an_output(example_root: Path) -> None:
    with pytest.raises(ValueError, match="out="):
        recipe_audit.scan(example_root, engine=object())


def test_cli_runs_the_shards_on_the_cluster(
    cluster: str, example_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from recipe_audit.cli import main

    args = [
        "scan",
        str(example_root),
        "--dataset",
        str(tmp_path / "cli"),
        "--shard-size",
        "25",
        "--engine",
        "ray",
        "--address",
        cluster,
    ]
    assert main(args) == 0
    assert "3 shards written, 71 files read" in capsys.readouterr().out
    assert main(["scan", str(example_root), "--engine", "ray"]) == 2


def test_an_engine_for_another_cluster_is_refused_while_connected(cluster: str) -> None:
    from recipe_audit.distributed import RayEngine

    RayEngine(address=cluster)
    with pytest.raises(RuntimeError, match="already connected to the Ray cluster at"):
        RayEngine(address="127.0.0.9:6379")
    assert RayEngine(address="auto").nodes() == 2
