"""The same scan on a real two-node Ray cluster on loopback: the dataset equals a local run."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

import recipe_audit
from recipe_audit.io.dataset_folder import LOCK

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster(ray_cluster) -> str:
    """The address of the session's two-node cluster (tests/conftest.py, tests/ray_cluster.py)."""
    return ray_cluster.address


@pytest.fixture
def own_connection(cluster: str) -> Iterator[None]:
    """No Ray connection for the test to start with (it connects as a user would), and afterwards
    the state the other tests expect: connected through an engine, the package shipped, if it was
    connected before."""
    from recipe_audit.distributed import RayEngine

    connected = ray.is_initialized()
    ray.shutdown()
    try:
        yield
    finally:
        ray.shutdown()
        if connected:
            RayEngine(address=cluster)


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


def test_relative_paths_are_the_drivers(
    cluster: str, example_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker starts in its own folder: the files and the dataset are found where the driver
    means them, and the rows equal a local run's."""
    import shutil

    from recipe_audit.distributed import RayEngine

    shutil.copytree(example_root, tmp_path / "ex")
    monkeypatch.chdir(tmp_path)
    run = recipe_audit.scan("ex", out="out", shard_size=25, engine=RayEngine(address=cluster), progress=False)
    local = recipe_audit.scan("ex", progress=False)
    assert Path(run.out) == tmp_path / "out"
    assert run.files.collect().select(local.columns).equals(local)


def test_s3_settings_from_the_drivers_environment_reach_the_workers(
    cluster: str, s3_server, example_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recipe_audit.distributed import RayEngine

    client = s3_server.client()
    client.create_bucket(Bucket="from-env")
    jpegs = sorted(p for p in example_root.rglob("*.jpg") if p.stat().st_size > 0)[:6]
    for p in jpegs:
        client.upload_file(str(p), "from-env", f"imgs/{p.name}")
    for name, value in (
        ("AWS_ENDPOINT_URL", s3_server.endpoint),
        ("AWS_ACCESS_KEY_ID", s3_server.access_key),
        ("AWS_SECRET_ACCESS_KEY", s3_server.secret_key),
        ("AWS_REGION", s3_server.region),
    ):
        monkeypatch.setenv(name, value)
    run = recipe_audit.scan(
        "s3://from-env/imgs", out=tmp_path / "ds", engine=RayEngine(address=cluster), progress=False
    )
    local = recipe_audit.scan("s3://from-env/imgs", progress=False)
    assert run.files.collect()["status"].to_list() == ["ok"] * 6
    assert run.files.collect().select(local.columns).equals(local)


def test_nothing_to_search_on_the_cluster_is_an_empty_frame(cluster: str, tmp_path: Path) -> None:
    from recipe_audit.distributed import RayEngine, find_duplicates

    (tmp_path / "none").mkdir()
    nothing = recipe_audit.scan(tmp_path / "none", progress=False)
    engine = RayEngine(address=cluster)
    for options in ({"max_distance": 4}, {"crops": False}):
        found = find_duplicates(nothing, engine, **options)  # type: ignore[arg-type]
        assert found.equals(recipe_audit.find_duplicates(nothing, **options))  # type: ignore[arg-type]


def test_an_engine_the_cluster_cannot_serve_is_refused_at_once(cluster: str, tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    from recipe_audit.cli import main
    from recipe_audit.distributed import RayEngine

    with pytest.raises(ValueError, match="max_in_flight"):
        RayEngine(address=cluster, max_in_flight=0)
    with pytest.raises(ValueError, match="largest node"):
        RayEngine(address=cluster, cpus_per_task=64)
    (tmp_path / "data").mkdir()
    assert main(["duplicates", str(tmp_path / "data"), "--engine", "ray", "--dataset", str(tmp_path / "d"),
                 "--max-distance", "64"]) == 2  # fmt: skip
    # A fresh process, not connected yet: an address nobody listens on is an error, not minutes of retries.
    started = time.monotonic()
    cli = subprocess.run(
        [sys.executable, "-m", "recipe_audit.cli", "scan", str(tmp_path / "data"), "--dataset",
         str(tmp_path / "ds"), "--engine", "ray", "--address", "127.0.0.9:6379"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 2 and "cannot reach" in cli.stderr and "Traceback" not in cli.stderr
    assert time.monotonic() - started < 60


def test_an_engine_on_a_connection_made_before_it_warns(cluster: str, own_connection: None) -> None:
    """The user's own `ray.init` keeps its runtime environment: the engine says that its package
    and thread cap are not applied (and they indeed are not), then runs on that connection."""
    import warnings

    from recipe_audit.distributed import RayEngine

    def _thread_cap() -> str | None:  # a worker's (defined here: sent by value, not imported)
        return os.environ.get("RAYON_NUM_THREADS")

    # The engine's own connection first (as an earlier cell of a notebook), then the user's.
    RayEngine(address=cluster)
    ray.shutdown()
    ray.init(address=cluster, log_to_driver=False, include_dashboard=False)
    with pytest.warns(RuntimeWarning, match="connected before this engine; its runtime environment stays"):
        engine = RayEngine(address=cluster, cpus_per_task=1)
    assert set(engine.map(_thread_cap, [()] * 2)) == {None}, "no thread cap: the warning is true"
    ray.shutdown()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        RayEngine(address=cluster)  # its own connection: nothing to warn about, for a second engine either
        assert set(RayEngine(address="auto").map(_thread_cap, [()] * 2)) == {"1"}
    assert not [w for w in seen if "connected before this engine" in str(w.message)]


def test_workers_of_another_build_are_refused(cluster: str, own_connection: None, tmp_path: Path) -> None:
    """Workers that import another recipe_audit (here: this package with another thumbnail code
    revision, shipped by the user's own `ray.init`) would write rows of another build into the
    dataset: the engine refuses them, naming what they run."""
    import recipe_audit.thumbcode as thumbcode
    from recipe_audit.distributed import RayEngine

    package = Path(recipe_audit.__file__).parent
    other = tmp_path / "recipe_audit"
    shutil.copytree(package, other, ignore=shutil.ignore_patterns("__pycache__"))
    code = other / "thumbcode.py"
    line = f"REVISION = {thumbcode.REVISION}\n"
    assert code.read_text().count(line) == 1
    code.write_text(code.read_text().replace(line, f"REVISION = {thumbcode.REVISION + 1000}\n"))
    ray.init(address=cluster, runtime_env={"py_modules": [str(other)]}, log_to_driver=False, include_dashboard=False)
    with pytest.warns(RuntimeWarning, match="connected before this engine"):
        with pytest.raises(RuntimeError, match="the workers import another recipe_audit") as refused:
            RayEngine(address=cluster)
    assert f"thumb_code={thumbcode.REVISION + 1000} " in str(refused.value)


def test_tile_progress_of_the_window_rule_on_the_cluster(
    cluster: str, photos: list[Path], capfd: pytest.CaptureFixture[str]
) -> None:
    """``progress=True`` draws the tiles done on stderr (several tiles: chunks of 20 of 80 real
    photos); ``progress=False``, and None when stderr is not a terminal, draw nothing; the groups
    are the same."""
    from recipe_audit.distributed import RayEngine, find_duplicates

    engine = RayEngine(address=cluster)
    files = recipe_audit.scan(photos[0].parent, progress=False).filter(pl.col("status") == "ok")
    capfd.readouterr()
    shown = find_duplicates(files, engine, chunk_size=20, progress=True)
    err = capfd.readouterr().err
    # Redrawn in place (a carriage return before each), one draw a tile, a newline after the last.
    drawn = [(int(done), int(total)) for done, total in re.findall(r"\rnear duplicates: tile (\d+)/(\d+), \d+ s", err)]
    total = drawn[-1][1] if drawn else 0
    assert total >= 3 and drawn == [(done, total) for done in range(1, total + 1)], err
    assert re.search(rf"tile {total}/{total}, \d+ s\n", err), err
    for quiet in (False, None):
        assert find_duplicates(files, engine, chunk_size=20, progress=quiet).equals(shown)
        assert "near duplicates" not in capfd.readouterr().err
