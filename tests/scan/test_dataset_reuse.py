"""A scan dataset (`scan(out=...)`) reuses the rows of unchanged files only when they were made with
the same settings and columns: rows of an older release are read again, never mixed in."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl

import recipe_audit


def _folder(photos: list[Path], tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for p in photos[:count]:
        shutil.copy2(p, folder / p.name)
    return folder


def test_unchanged_files_are_reused_under_the_same_settings(photos: list[Path], tmp_path: Path) -> None:
    folder, out = _folder(photos, tmp_path, 12), tmp_path / "run"
    first = recipe_audit.scan(folder, out=out, shard_size=5, progress=False)
    shutil.copy2(photos[20], folder / "new.jpg" if photos[20].suffix == ".jpg" else folder / "new.png")
    second = recipe_audit.scan(folder, out=out, shard_size=5, progress=False)
    assert first.rows_read == 12 and second.rows_read == 1 and second.rows_reused > 0
    assert second.files.collect().height == 13


def test_rows_of_another_release_or_setting_are_read_again(photos: list[Path], tmp_path: Path) -> None:
    folder, out = _folder(photos, tmp_path, 12), tmp_path / "run"
    recipe_audit.scan(folder, out=out, shard_size=5, progress=False)
    # An older release: the same files, a frame without this release's last column.
    record = json.loads((out / "_run.json").read_text())
    record["settings"] = record["settings"].replace(",sharpness_fine:Float64", "")
    (out / "_run.json").write_text(json.dumps(record))
    for shard in out.glob("part-*.parquet"):
        pl.read_parquet(shard).drop("sharpness_fine").write_parquet(shard)
    (folder / photos[0].name).unlink()  # one file gone: every shard is written again
    again = recipe_audit.scan(folder, out=out, shard_size=5, progress=False)
    assert (again.rows_read, again.rows_reused) == (11, 0)
    rows = again.files.collect()  # one schema across the shards: it reads as one frame
    assert rows.height == 11 and "sharpness_fine" in rows.columns
    finer = recipe_audit.scan(folder, out=out, shard_size=5, progress=False, min_decode_side=128)
    assert (finer.rows_read, finer.rows_reused) == (11, 0)


def test_rows_measured_by_another_revision_are_read_again(photos: list[Path], tmp_path: Path) -> None:
    """Same columns, same settings, but measured otherwise (an earlier build's decode scale): the
    measures' revision in the record tells them apart."""
    folder, out = _folder(photos, tmp_path, 6), tmp_path / "run"
    recipe_audit.scan(folder, out=out, shard_size=5, progress=False)
    record = json.loads((out / "_run.json").read_text())
    revision = f"measures={recipe_audit._core.MEASURES_REVISION}"
    assert revision in record["settings"]
    record["settings"] = record["settings"].replace(revision, "measures=1")
    (out / "_run.json").write_text(json.dumps(record))
    (folder / photos[0].name).unlink()  # one file gone: every shard is written again
    again = recipe_audit.scan(folder, out=out, shard_size=5, progress=False)
    assert (again.rows_read, again.rows_reused) == (5, 0)
