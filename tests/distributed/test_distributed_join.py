"""The near-duplicate block join on a real two-node Ray cluster: groups, leaks and label conflicts
equal the single-machine frames, hot keys are salted and reported, and the CLI runs it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import recipe_audit

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def engine(ray_cluster):
    """An engine on the session's two-node cluster (tests/conftest.py)."""
    from recipe_audit.distributed import RayEngine

    return RayEngine(address=ray_cluster.address)


def _with_near_copies(files: pl.DataFrame, copies: int, max_bits: int, seed: int) -> pl.DataFrame:
    """`copies` rows of `files` again under new names, their pHash 1..max_bits bits off."""
    rng = np.random.default_rng(seed)
    masks = [
        int(sum(1 << int(b) for b in rng.choice(64, rng.integers(1, max_bits + 1), replace=False)))
        for _ in range(copies)
    ]
    extra = files.sample(copies, seed=seed).with_columns(
        path=pl.col("path") + f"_copy{seed}",
        content_hash=pl.col("content_hash") + f"x{seed}",
        phash=pl.col("phash") ^ pl.Series(masks, dtype=pl.UInt64),
    )
    return pl.concat([files, extra]).sort("path")


def test_groups_equal_the_local_search(engine, example_root: Path, photos: list[Path]) -> None:
    from recipe_audit.distributed import find_duplicates

    files = recipe_audit.scan(example_root, progress=False)
    local = recipe_audit.find_duplicates(files, crops=False)
    assert local.height > 0
    for chunk_size in (3, 1000):  # many map tasks and salted buckets, and one map task
        assert find_duplicates(files, engine, chunk_size=chunk_size, crops=False).equals(local)
    real = recipe_audit.scan(photos[0].parent, progress=False).filter(pl.col("status") == "ok")
    both = _with_near_copies(real, 40, 10, seed=3)
    for radius in (4, 10):
        local = recipe_audit.find_duplicates(both, crops=False, max_distance=radius)
        assert local.height > 10
        assert find_duplicates(both, engine, max_distance=radius, chunk_size=16, crops=False).equals(local)
        stats = engine.last_join
        assert stats.layout.blocks == radius + 1 and stats.map_tasks == -(-both["phash"].n_unique() // 16)
        assert stats.keys == stats.hashes * stats.layout.keys_per_hash


def test_hot_keys_are_salted_and_reported(engine, photos: list[Path]) -> None:
    from recipe_audit.distributed import find_duplicates

    real = recipe_audit.scan(photos[0].parent, progress=False).filter(pl.col("status") == "ok")
    # 150 nearly blank frames: their pHashes agree on most blocks (a hot key per block).
    rng = np.random.default_rng(8)
    blank = pl.DataFrame(
        {
            "path": [f"blank/{i:03}.png" for i in range(150)],
            "status": "ok",
            "content_hash": [f"b{i}" for i in range(150)],
            "phash": pl.Series(
                [int(sum(1 << int(b) for b in rng.choice(64, 3, replace=False))) for _ in range(150)], dtype=pl.UInt64
            ),
            "width": pl.Series([64] * 150, dtype=real["width"].dtype),
            "height": pl.Series([64] * 150, dtype=real["height"].dtype),
        }
    )
    files = pl.concat([real.select(blank.columns), blank])
    got = find_duplicates(files, engine, chunk_size=20, crops=False)
    assert got.equals(recipe_audit.find_duplicates(files, crops=False))
    hot = engine.last_join.hot_keys
    assert hot.height > 0 and engine.last_join.tile_tasks > 0
    assert hot["value"].to_list() == [0] * hot.height, "the hot keys are the blank blocks"
    assert hot["hashes"].max() > 40
    distinct_per_group = (
        got.join(files.select("path", "phash"), on="path").group_by("group").agg(pl.col("phash").n_unique())
    )
    assert engine.last_join.largest_group == distinct_per_group["phash"].max() >= 150


def test_a_chain_of_unrelated_hashes_is_warned_about(engine, caplog: pytest.LogCaptureFixture) -> None:
    from recipe_audit.distributed import find_duplicates

    # A random walk of 1,200 steps of 2 bits: neighbours are 2 bits apart, the ends ~40 apart,
    # yet at radius 2 the components join them all: what background pairs do at 1e8 images.
    rng = np.random.default_rng(5)
    walk, value = [], int(rng.integers(0, 2**63))
    for _ in range(1200):
        value ^= int(sum(1 << int(b) for b in rng.choice(64, 2, replace=False)))
        walk.append(value)
    files = pl.DataFrame(
        {
            "path": [f"walk/{i:04}.jpg" for i in range(1200)],
            "status": "ok",
            "content_hash": [f"w{i}" for i in range(1200)],
            "phash": pl.Series(walk, dtype=pl.UInt64),
            "width": pl.Series([64] * 1200, dtype=pl.UInt32),
            "height": pl.Series([64] * 1200, dtype=pl.UInt32),
        }
    )
    with caplog.at_level("WARNING", logger="recipe_audit"):
        got = find_duplicates(files, engine, max_distance=2, chunk_size=500)
    distinct = files["phash"].n_unique()
    assert engine.last_join.largest_group == distinct and got["group"].n_unique() == 1
    assert any("chaining" in r.getMessage() and f"{distinct} of {distinct}" in r.getMessage() for r in caplog.records)


def test_window_rule_on_the_cluster_equals_the_local_search(engine, photos: list[Path], tmp_path: Path) -> None:
    """Real photos with cropped, turned, mirrored and relit copies: the default rule as tiles of 9
    pictures (many tasks on both nodes) gives the local frame."""
    from PIL import Image, ImageEnhance

    from recipe_audit.distributed import find_duplicates

    for p in [p for p in photos if p.suffix == ".jpg"][:12]:
        with Image.open(p) as im:
            rgb = im.convert("RGB")
        w, h = rgb.size
        rgb.save(tmp_path / p.name)
        rgb.crop((int(w * 0.06), 0, w, h - int(h * 0.04))).save(tmp_path / f"{p.stem}_crop.jpg")
        rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(tmp_path / f"{p.stem}_flip.jpg")
        ImageEnhance.Brightness(rgb).enhance(0.8).save(tmp_path / f"{p.stem}_dark.png")
    files = recipe_audit.scan(tmp_path, progress=False)
    local = recipe_audit.find_duplicates(files)
    assert local["group"].n_unique() >= 10 and local.height >= 40
    assert find_duplicates(files, engine, chunk_size=9).equals(local)
    assert engine.last_join is None


def test_leaks_and_conflicts_equal_the_local_frames(engine, example_root: Path, tmp_path: Path) -> None:
    from recipe_audit import distributed

    run = recipe_audit.scan(example_root, out=tmp_path / "run", shard_size=20, engine=engine, progress=False)
    files = run.files.collect()
    # The default rule on both sides: the window search as tiles on the cluster equals the local one.
    local_dups = recipe_audit.find_duplicates(files)
    assert distributed.find_duplicates(run.files, engine, chunk_size=16).equals(local_dups)
    leaks = distributed.find_leaks(run.files, engine)
    assert leaks.height > 0
    assert leaks.equals(recipe_audit.find_leaks(files, local_dups))
    conflicts = distributed.find_label_conflicts(run.files, engine)
    assert conflicts.height > 0
    assert conflicts.equals(recipe_audit.find_label_conflicts(files, local_dups))


def test_cli_runs_the_join_on_the_cluster(
    engine, example_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from recipe_audit.cli import main

    address = ray.get_runtime_context().gcs_address
    assert engine.nodes() == 2
    out = tmp_path / "leaks.parquet"
    assert (
        main(
            [
                "leaks",
                str(example_root),
                "--engine",
                "ray",
                "--address",
                address,
                "--dataset",
                str(tmp_path / "d"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "near-duplicate search: the window rule" in printed and "files outside train with a copy in train" in printed
    files = recipe_audit.scan(example_root, progress=False)
    assert pl.read_parquet(out).equals(recipe_audit.find_leaks(files, recipe_audit.find_duplicates(files)))
    assert main(["duplicates", str(example_root), "--engine", "ray", "--address", address]) == 2
    assert "needs --dataset" in capsys.readouterr().err
