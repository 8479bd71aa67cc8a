"""The command line, the progress bar and Ctrl-C, as a user meets them."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

import recipe_audit
from recipe_audit.cli import main

from tests.support.trees import hard_linked_tree


def test_cli_scan_prints_summary_and_writes_parquet(example_root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "files.parquet"
    assert main(["scan", str(example_root), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "files/s" in text and "truncated" in text and "empty" in text
    assert "is really png" in text
    assert "different labels" in text and "(leaks)" in text and "[near" in text
    frame = pl.read_parquet(out)
    assert frame.equals(recipe_audit.scan(example_root, progress=False))


def test_cli_misuse_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["scan", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-command"])
    assert exit_info.value.code == 2


def test_progress_bar_on_stderr(photos: list[Path], capfd) -> None:
    recipe_audit.scan(photos[0].parent, progress=True)
    err = capfd.readouterr().err
    assert f"{len(photos)}/{len(photos)} files" in err and "files/s" in err and "ETA" in err
    recipe_audit.scan(photos[0].parent, progress=False)
    assert capfd.readouterr().err == ""


def test_ctrl_c_stops_a_long_scan(photos: list[Path], tmp_path: Path) -> None:
    # 40,000 hard links to real photos: a scan of several seconds on two cores.
    big = hard_linked_tree(photos, tmp_path / "big", 40_000)
    code = (
        "import sys, recipe_audit\n"
        "print('started', flush=True)\n"
        "try:\n"
        f"    recipe_audit.scan({str(big)!r}, progress=False)\n"
        "    print('finished')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "started"
    time.sleep(1.0)
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate(timeout=60)
    stopped_after = time.monotonic() - sent
    assert out.strip() == "interrupted"
    # Not a wall-time assertion on speed: a generous bound that only a scan ignoring Ctrl-C misses.
    assert stopped_after < 5.0


def test_ctrl_c_in_the_cli_exits_130_and_writes_nothing(photos: list[Path], tmp_path: Path) -> None:
    big = hard_linked_tree(photos, tmp_path / "big", 40_000)
    out = tmp_path / "files.parquet"
    cli = Path(sys.executable).with_name("recipe-audit")
    child = subprocess.Popen(
        [str(cli), "scan", str(big), "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    time.sleep(2.0)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "interrupted; no output is half written" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big"]


def test_ctrl_c_in_the_first_batch_is_an_interrupt_not_a_panic(photos: list[Path], tmp_path: Path) -> None:
    """A Ctrl-C pending when the first batch is handed to Python (rust-numpy loaded NumPy's API
    there, running Python code that raised it: a PanicException, exit 1)."""
    big = hard_linked_tree(photos, tmp_path / "big", 40_000)
    code = (
        "import sys\n"
        "from recipe_audit.cli import main\n"
        "print('started', flush=True)\n"
        f"sys.exit(main(['scan', {str(big)!r}]))\n"
    )
    for delay in (0.05, 0.3):
        child = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "started"
        time.sleep(delay)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
        assert child.returncode == 130, err
        assert "PanicException" not in err and "Traceback" not in err


def test_cli_output_options_that_cannot_be_written_are_misuse(example_root: Path, tmp_path: Path, capsys) -> None:
    """Found before any work is done, with exit 2 and no traceback (they failed with exit 3 after
    the whole scan)."""
    folder, file = tmp_path / "a_folder", tmp_path / "a_file"
    folder.mkdir()
    file.write_text("x")
    missing = tmp_path / "no" / "such" / "out.parquet"
    data = str(example_root / "train")
    cases = [
        (["scan", data, "--out", str(folder)], "is a folder"),
        (["scan", data, "--out", str(missing)], "does not exist"),
        (["scan", data, "--dataset", str(file)], "is a file"),
        (["scan", data, "--dataset", str(folder), "--out", str(tmp_path / "f.parquet")], "drop --out"),
        (["duplicates", data, "--save-index", str(folder)], "is a folder"),
        (["duplicates", data, "--against", str(next(example_root.rglob("*.jpg")))], "not a recipe_audit index"),
        (["audit", data, "--html", str(missing.with_suffix(".html"))], "does not exist"),
        (["audit", data, "--out", str(file)], "is a file"),
        (["example", str(tmp_path / "ex"), "--out", str(folder)], "is a folder"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "a_folder"]  # nothing was made


def test_cli_outputs_may_go_into_folders_the_run_makes(example_root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "audit"
    assert main(["audit", str(example_root), "--out", str(out), "--html", str(out / "report.html")]) == 0
    assert (out / "report.html").is_file() and (out / "summary.txt").is_file()
    made = tmp_path / "example"
    assert main(["example", str(made), "--out", str(made / "files.parquet")]) == 0
    assert pl.read_parquet(made / "files.parquet").height > 0
    capsys.readouterr()


def test_cli_duplicates_and_leaks(example_root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "dups.parquet"
    assert main(["duplicates", str(example_root), "--out", str(out)]) == 0
    assert "files in duplicate groups" in capsys.readouterr().out
    assert pl.read_parquet(out).equals(recipe_audit.find_duplicates(recipe_audit.scan(example_root, progress=False)))
    assert main(["leaks", str(example_root)]) == 0
    assert "1 row: files outside train" in capsys.readouterr().out
    assert main(["duplicates", str(example_root), "--max-distance", "99"]) == 2


def test_cli_checks_a_folder_against_a_saved_index(example_root: Path, tmp_path: Path, capsys) -> None:
    index = tmp_path / "train.index.parquet"
    assert main(["duplicates", str(example_root / "train"), "--save-index", str(index)]) == 0
    assert "wrote the index of" in capsys.readouterr().out
    out = tmp_path / "found.parquet"
    assert main(["duplicates", str(example_root / "test"), "--against", str(index), "--flips", "--out", str(out)]) == 0
    assert "with a copy among the" in capsys.readouterr().out
    found = pl.read_parquet(out)
    leak = recipe_audit.find_leaks(recipe_audit.scan(example_root, progress=False))
    assert set(leak["path"]) <= set(found["path"])
    # A folder works as the reference too; a Parquet file that is not an index is misuse.
    assert main(["duplicates", str(example_root / "test"), "--against", str(example_root / "train")]) == 0
    capsys.readouterr()
    assert main(["duplicates", str(example_root / "test"), "--against", str(out)]) == 2
    assert "not a recipe_audit index" in capsys.readouterr().err


def test_cli_dataset_summary_reads_every_column_the_duplicate_rule_reads(tmp_path: Path, capsys) -> None:
    """`scan --dataset` summarises from the shards; it must keep the columns the in-memory summary
    has (the sign map above all: without it a look-alike window match would stand)."""
    from PIL import Image
    from skimage import data

    folder = tmp_path / "src"
    folder.mkdir()
    rocket = Image.fromarray(data.rocket())  # 640x427: two overlapping crops of it
    rocket.crop((83, 34, 627, 385)).save(folder / "a.jpg", quality=85)
    rocket.crop((40, 3, 628, 359)).save(folder / "b.jpg", quality=85)
    files = recipe_audit.scan(folder, progress=False)
    groups = recipe_audit.find_duplicates(files)
    # The guard that keeps this test able to fail: on these files the sign map decides.
    assert groups.height != recipe_audit.find_duplicates(files.drop("thumb_signs")).height
    assert main(["scan", str(folder)]) == 0
    in_memory = capsys.readouterr().out
    assert main(["scan", str(folder), "--dataset", str(tmp_path / "ds")]) == 0
    from_shards = capsys.readouterr().out

    def body(text: str) -> list[str]:  # the summary but its timing line and the dataset's own
        return [line for line in text.splitlines()[1:] if line.strip() and "shards" not in line]

    assert body(from_shards) == body(in_memory)
