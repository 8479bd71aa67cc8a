"""An incremental scan dataset (`scan(out=...)`, `scan --dataset`) under the changes and damage a
data lake meets: every rerun must equal a fresh scan of the same files, and nothing outside the
dataset's own shards may be touched."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import polars as pl
import pytest

import recipe_audit
from recipe_audit.io.dataset_folder import LOCK


def _folder(photos: list[Path], root: Path, count: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for p in photos[:count]:
        shutil.copy2(p, root / p.name)
    return root


def _same_as_fresh(run: recipe_audit.ScanRun, source: object) -> None:
    """The dataset's rows equal a fresh scan's, column by column (``version`` is the dataset's own)."""
    fresh = recipe_audit.scan(source, progress=False)  # type: ignore[arg-type]
    rows = run.files.collect().drop("version")
    fresh = fresh.drop("version") if "version" in fresh.columns else fresh
    assert rows.columns == fresh.columns
    assert rows.height == fresh.height == run.rows
    for column in fresh.columns:
        assert rows[column].equals(fresh[column]), column


def test_a_row_that_could_not_be_read_is_read_again(photos: list[Path], tmp_path: Path) -> None:
    """A file that was unreadable once (a permission since fixed, a disk that did not answer)
    keeps its size and mtime: its row must not be taken from the earlier run."""
    folder, out = _folder(photos, tmp_path / "imgs", 6), tmp_path / "run"
    recipe_audit.scan(folder, out=out, shard_size=4, progress=False)
    # What a run that met a read error wrote, under the shard's own name.
    shard = sorted(out.glob("part-*.parquet"))[0]
    rows = pl.read_parquet(shard)
    failed = rows.with_columns(
        status=pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("unreadable")).otherwise("status"),
        phash=pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise("phash"),
    )
    failed.write_parquet(shard)
    again = recipe_audit.scan(folder, out=out, shard_size=4, progress=False)
    assert again.rows_read == 1 and again.shards_written == 1
    _same_as_fresh(again, folder)


def test_a_rewrite_with_its_mtime_set_back_is_read_again(photos: list[Path], tmp_path: Path) -> None:
    """`touch -d`, `rsync -t` and `tar` put the old mtime back on new bytes; renaming swaps two
    files of one size and mtime. Size and mtime alone would keep the old rows."""
    folder, out = tmp_path / "imgs", tmp_path / "run"
    folder.mkdir()
    from PIL import Image

    for name, level in (("a.png", 10), ("b.png", 200), ("c.png", 90)):
        Image.new("L", (48, 48), level).save(folder / name)
        os.utime(folder / name, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    recipe_audit.scan(folder, out=out, progress=False)
    # Same size, other pixels, mtime put back.
    data = bytearray((folder / "c.png").read_bytes())
    Image.new("L", (48, 48), 91).save(folder / "c.png")
    assert (folder / "c.png").stat().st_size == len(data)
    os.utime(folder / "c.png", ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    # Two files of one size and mtime swapped by renaming.
    os.rename(folder / "a.png", folder / "t.png")
    os.rename(folder / "b.png", folder / "a.png")
    os.rename(folder / "t.png", folder / "b.png")
    again = recipe_audit.scan(folder, out=out, progress=False)
    assert again.rows_read == 3
    _same_as_fresh(again, folder)


def test_labels_splits_and_manifest_columns_come_from_this_run(photos: list[Path], tmp_path: Path) -> None:
    folder, out = _folder(photos, tmp_path / "data" / "train" / "cat", 4), tmp_path / "run"
    names = sorted(p.name for p in folder.iterdir())
    manifest = tmp_path / "m.csv"

    def write(labels: list[str], notes: list[str]) -> recipe_audit.Manifest:
        lines = [f"{folder / n},{label},{note}" for n, label, note in zip(names, labels, notes)]
        manifest.write_text("path,label,note\n" + "\n".join(lines) + "\n")
        return recipe_audit.Manifest(manifest)

    recipe_audit.scan(write(["cat"] * 4, ["a"] * 4), out=out, progress=False)
    relabelled = write(["cat", "dog", "cat", "cat"], ["a", "a", "b", "a"])
    again = recipe_audit.scan(relabelled, out=out, progress=False)
    assert again.rows_read == 0 and again.rows_reused == 4
    _same_as_fresh(again, relabelled)
    assert again.files.collect()["note"].to_list() == ["a", "a", "b", "a"]
    # The folder above gave a split; scanning the class folder alone gives none.
    split_out = tmp_path / "split_run"
    recipe_audit.scan(tmp_path / "data", out=split_out, progress=False)
    alone = recipe_audit.scan([folder / n for n in names], out=split_out, progress=False)
    _same_as_fresh(alone, [folder / n for n in names])


def test_a_manifest_listing_a_file_twice_gives_the_fresh_rows(photos: list[Path], tmp_path: Path) -> None:
    folder = _folder(photos, tmp_path / "imgs", 2)
    a, b = sorted(p.name for p in folder.iterdir())
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,label\n{folder / a},cat\n{folder / b},dog\n{folder / a},lynx\n")
    listed = recipe_audit.Manifest(manifest)
    first = recipe_audit.scan(listed, out=tmp_path / "run", progress=False)
    _same_as_fresh(first, listed)
    again = recipe_audit.scan(listed, out=tmp_path / "run", progress=False)
    assert again.shards_written == 0
    _same_as_fresh(again, listed)


def test_a_name_that_is_not_utf8_is_read(photos: list[Path], tmp_path: Path) -> None:
    folder = _folder(photos, tmp_path / "imgs", 2)
    source = next(folder.iterdir())
    os.rename(bytes(source), bytes(folder) + b"/odd\xff" + source.suffix.encode())
    run = recipe_audit.scan(folder, out=tmp_path / "run", progress=False)
    assert run.files.collect()["status"].to_list() == ["ok", "ok"]
    _same_as_fresh(run, folder)


def test_a_damaged_dataset_is_computed_again_with_a_warning(photos: list[Path], tmp_path: Path) -> None:
    folder, out = _folder(photos, tmp_path / "imgs", 6), tmp_path / "run"
    recipe_audit.scan(folder, out=out, shard_size=4, progress=False)
    shards = sorted(out.glob("part-*.parquet"))
    shards[0].write_bytes(shards[0].read_bytes()[:100])  # a copy cut short
    again = recipe_audit.scan(folder, out=out, shard_size=4, progress=False)
    assert again.shards_written == 1 and again.rows_read == 4
    _same_as_fresh(again, folder)
    (out / "_run.json").write_text('{"format_version": 1, "shards": [')
    with pytest.warns(RuntimeWarning, match="damaged"):
        damaged = recipe_audit.scan(folder, out=out, shard_size=4, progress=False)
    _same_as_fresh(damaged, folder)


def test_a_record_never_deletes_anything_but_shards(photos: list[Path], tmp_path: Path) -> None:
    folder, out = _folder(photos, tmp_path / "imgs", 3), tmp_path / "run"
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    recipe_audit.scan(folder, out=out, progress=False)
    record = json.loads((out / "_run.json").read_text())
    record["shards"].append({"name": "../precious.txt", "rows": 1, "first": "a", "last": "b"})
    (out / "_run.json").write_text(json.dumps(record))
    (out / "notes.parquet").write_bytes(b"someone else's")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        again = recipe_audit.scan(folder, out=out, progress=False)
    assert precious.read_text() == "keep me" and (out / "notes.parquet").exists()
    _same_as_fresh(again, folder)
    # A shard no record lists (a run with other settings, stopped before its record) goes; a file
    # that only bears such a name stays.
    orphan, named = out / "part-00007-0123456789abcdef.parquet", out / "part-00008-0123456789abcdef.parquet"
    shutil.copy2(next(out.glob("part-*.parquet")), orphan)
    named.write_bytes(b"a user's file")
    recipe_audit.scan(folder, out=out, progress=False)
    assert not orphan.exists() and named.exists() and (out / "notes.parquet").exists()


def test_a_second_writer_is_refused_while_one_runs(photos: list[Path], tmp_path: Path) -> None:
    folder, out = _folder(photos, tmp_path / "imgs", 3), tmp_path / "run"
    recipe_audit.scan(folder, out=out, progress=False)
    with open(out / LOCK, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(recipe_audit.DatasetBusyError, match="another run"):
            recipe_audit.scan(folder, out=out, progress=False)
        cli = subprocess.run(
            [sys.executable, "-m", "recipe_audit.cli", "scan", str(folder), "--dataset", str(out)],
            capture_output=True,
            text=True,
        )
        assert cli.returncode == 2 and "another run" in cli.stderr and "Traceback" not in cli.stderr
    assert recipe_audit.scan(folder, out=out, progress=False).shards_written == 0  # free again


NOBODY = 65534


def _without_permission_override() -> None:
    """In the child, before it runs Python: uid 0 without the capabilities that let root open any
    file (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER), so the kernel checks a file's owner
    and mode for it as for any user: a file of `NOBODY` with mode 0644 is read-only to it."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2, 3):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP: gone from the exec'd process
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_another_users_lock_still_locks(photos: list[Path], tmp_path: Path) -> None:
    """A dataset written by another user: its files (the `.lock` included) are theirs, mode 0644, in
    a folder everyone may write. A run by someone else must take the lock (read-only) and end in
    the fresh rows, and be refused, exit 2, while a run holds it."""
    if os.geteuid() != 0:
        pytest.skip("needs root: to hand the dataset's files to another user")
    # Not `nobody` itself: this machine's Python (under /root, 0700) is not reachable for it. The
    # second run is uid 0 without the capabilities that override a file's mode: the kernel checks
    # owner and mode as for any user, so a 0644 file of `nobody` cannot be opened for writing.
    theirs = tmp_path / "theirs"
    theirs.write_bytes(b"")
    os.chown(theirs, NOBODY, NOBODY)
    os.chmod(theirs, 0o644)
    probe = subprocess.run(
        [sys.executable, "-c", f"import recipe_audit; open({str(theirs)!r}, 'ab')"],
        preexec_fn=_without_permission_override,
        capture_output=True,
        text=True,
    )
    if "PermissionError" not in probe.stderr:
        pytest.skip(f"cannot drop the capabilities that override file permissions here: {probe.stderr[-300:]}")
    folder, out = _folder(photos, tmp_path / "imgs", 3), tmp_path / "run"
    recipe_audit.scan(folder, out=out, progress=False)
    for path in [out, *out.iterdir()]:
        os.chown(path, NOBODY, NOBODY)
        os.chmod(path, 0o777 if path == out else 0o644)
    lock = out / LOCK
    assert (lock.stat().st_uid, lock.stat().st_mode & 0o777) == (NOBODY, 0o644)
    shutil.copy2(photos[3], folder / photos[3].name)  # something new for the second run to write
    command = [sys.executable, "-m", "recipe_audit.cli", "scan", str(folder), "--dataset", str(out)]
    with open(lock, "rb") as held:  # a run of the owner holds the lock
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        busy = subprocess.run(command, preexec_fn=_without_permission_override, capture_output=True, text=True)
    assert busy.returncode == 2 and "another run" in busy.stderr and "Traceback" not in busy.stderr, busy.stderr
    second = subprocess.run(command, preexec_fn=_without_permission_override, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert "1 shards written, 1 files read, 3 rows reused" in second.stdout, second.stdout
    assert lock.stat().st_uid == NOBODY  # still theirs: taken, not replaced
    # What the second run recorded is complete: a rerun reads nothing and equals a fresh scan.
    again = recipe_audit.scan(folder, out=out, progress=False)
    assert again.shards_written == 0 and again.rows_read == 0 and again.rows == 4
    _same_as_fresh(again, folder)


def test_a_dataset_inside_the_scanned_folder_does_not_scan_itself(photos: list[Path], tmp_path: Path) -> None:
    folder = _folder(photos, tmp_path / "data", 5)
    first = recipe_audit.scan(folder, out=folder / "audit", shard_size=2, progress=False)
    again = recipe_audit.scan(folder, out=folder / "audit", shard_size=2, progress=False)
    assert first.rows == again.rows == 5
    assert again.shards_written == 0 and again.rows_read == 0
    assert again.files.collect()["format"].to_list().count("unknown") == 0


def test_a_dataset_folder_that_cannot_be_written_is_a_usage_error(photos: list[Path], tmp_path: Path) -> None:
    if not Path("/sys").is_dir():
        pytest.skip("needs /sys, a folder nobody may create files in")
    folder = _folder(photos, tmp_path / "imgs", 1)
    for option in (["--dataset", "/sys/recipe_audit_ds"], ["--out", "/sys/rows.parquet"]):
        cli = subprocess.run(
            [sys.executable, "-m", "recipe_audit.cli", "scan", str(folder), *option],
            capture_output=True,
            text=True,
        )
        assert cli.returncode == 2 and "cannot write" in cli.stderr and "Traceback" not in cli.stderr
    with pytest.raises(PermissionError, match="cannot write the dataset"):
        recipe_audit.scan(folder, out="/sys/recipe_audit_ds", progress=False)


def test_shards_the_workers_wrote_out_of_sight_are_an_error(photos: list[Path], tmp_path: Path) -> None:
    """An engine's workers on other machines write `out=` in their own local folders: the driver
    must not record shards it cannot see (the dataset would be unreadable)."""
    from recipe_audit.io.datasets import ShardJob, run_shard

    class OtherMachines:
        def map_shards(self, jobs: list[ShardJob]) -> object:
            for job in jobs:
                job.out = str(tmp_path / "their_disk")
                yield run_shard(job)

    folder = _folder(photos, tmp_path / "imgs", 3)
    with pytest.raises(RuntimeError, match="every node shares"):
        recipe_audit.scan(folder, out=tmp_path / "ds", engine=OtherMachines(), progress=False)
    assert not (tmp_path / "ds" / "_run.json").exists()


def test_user_files_named_like_shards_are_kept(photos: list[Path], tmp_path: Path) -> None:
    """A dataset written into the folder it scans leaves out only what it wrote itself: a user's
    picture that bears a shard's name (or nearly) is scanned, and never deleted."""
    folder = _folder(photos, tmp_path / "data", 3)
    jpeg = next(p for p in photos if p.suffix == ".jpg")
    for name in ("part-00007-0123456789abcdef.parquet", "holiday_part-00001-0123456789abcdef.parquet"):
        shutil.copy2(jpeg, folder / name)
    runs = [recipe_audit.scan(folder, out=folder, shard_size=2, progress=False) for _ in range(2)]
    assert (folder / "part-00007-0123456789abcdef.parquet").exists()
    assert runs[1].shards_written == 0 and runs[1].rows == 5
    rows = runs[1].files.collect()
    assert rows.filter(pl.col("path").str.contains("0123456789abcdef"))["status"].to_list() == ["ok", "ok"]


def test_a_changed_value_deep_in_a_manifest_column_reaches_the_dataset(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (40, 40), (90, 20, 200)).save(tmp_path / "a.png")
    out = tmp_path / "ds"
    for box in (0.1234567891, 0.1234567899):
        table = pl.DataFrame({"path": [str(tmp_path / "a.png")], "meta": [{"score": 3.0, "box": box}]})
        table.write_parquet(tmp_path / "m.parquet")
        run = recipe_audit.scan(recipe_audit.Manifest(tmp_path / "m.parquet"), out=out, progress=False)
        assert run.files.collect()["meta"].struct.field("box").to_list() == [box]


def test_internal_names_are_refused_as_manifest_columns(tmp_path: Path) -> None:
    for name in ("_raw", "_order"):
        (tmp_path / "m.csv").write_text(f"path,{name}\nx.png,y.png\n")
        with pytest.raises(ValueError, match="names the scan writes itself"):
            recipe_audit.scan(recipe_audit.Manifest(tmp_path / "m.csv"), out=tmp_path / "ds", progress=False)


def test_a_dataset_below_a_file_is_a_usage_error(photos: list[Path], tmp_path: Path) -> None:
    folder = _folder(photos, tmp_path / "imgs", 1)
    (tmp_path / "notes.txt").write_text("not a folder")
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "recipe_audit.cli",
            "scan",
            str(folder),
            "--dataset",
            str(tmp_path / "notes.txt" / "ds"),
        ],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 2 and "not a folder" in cli.stderr and "Traceback" not in cli.stderr
