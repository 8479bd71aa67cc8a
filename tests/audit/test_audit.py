"""`audit()` and `recipe-audit audit` on the built-in example: one call, every frame, a CI gate."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import recipe_audit
from recipe_audit import examples
from recipe_audit.auditing.problems import PROBLEMS
from recipe_audit.cli import main


@pytest.fixture(scope="module")
def audit(example_root: Path) -> recipe_audit.Audit:
    return recipe_audit.audit(example_root, progress=False)


def test_audit_holds_every_frame(audit: recipe_audit.Audit, example_root: Path) -> None:
    files = recipe_audit.scan(example_root, progress=False)
    assert audit.files.equals(files)
    assert audit.duplicates.equals(recipe_audit.find_duplicates(files))
    assert audit.leaks.equals(recipe_audit.find_leaks(files))
    assert audit.label_conflicts.equals(recipe_audit.find_label_conflicts(files))
    assert audit.labels.equals(recipe_audit.label_stats(files))
    assert audit.outliers.equals(recipe_audit.find_outliers(files))
    assert audit.property_shift.equals(recipe_audit.property_shift(files))
    assert audit.property_label_association.equals(recipe_audit.property_label_association(files))
    planted = examples.example_planted(example_root)
    broken = {str(example_root / p) for p in planted["truncated"] + planted["empty"]}
    assert set(audit.corrupt["path"]) == broken and audit.corrupt.columns == [
        "path",
        "status",
        "error",
        "bytes",
        "format",
    ]
    assert audit.label_issues.height == 0 and audit.boxes is None
    assert list(audit.seconds) == [
        "scan",
        "labels",
        "duplicates",
        "leaks",
        "label conflicts",
        "label stats",
        "outliers",
        "biases",
    ]
    # The same audit from a frame already scanned.
    again = recipe_audit.audit(files, progress=False)
    assert again.problems() == audit.problems()


def test_problems_and_summary(audit: recipe_audit.Audit) -> None:
    problems = audit.problems()
    assert list(problems) == list(PROBLEMS)
    assert problems["leaks"] == 1 and problems["label_conflicts"] == 1 and problems["corrupt"] == 2
    assert problems["ext_mismatch"] == 1
    # Four planted pairs: exact copy, near copy, label conflict, leak.
    assert problems["duplicates"] == audit.duplicates.height - audit.duplicates["group"].n_unique() == 4
    assert problems["outliers"] == 0 and problems["split_shift"] == 0
    text = audit.summary()
    lines = text.splitlines()
    assert len(lines) <= 12
    assert lines[0].startswith("recipe-audit: 71 files, 69 decoded, 4 classes (test 13, train 45, val 13)")
    # Most important first: leaks, then conflicts, then broken files, then copies.
    order = [
        next(i for i, line in enumerate(lines) if key in line)
        for key in ("(leaks)", "different labels", "broken", "redundant")
    ]
    assert order == sorted(order)
    assert "1 empty, 1 truncated" in text


def test_write_every_frame(audit: recipe_audit.Audit, tmp_path: Path) -> None:
    written = audit.write(tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == sorted(
        [
            "files.parquet",
            "corrupt.parquet",
            "duplicates.parquet",
            "leaks.parquet",
            "label_conflicts.parquet",
            "labels.parquet",
            "outliers.parquet",
            "property_shift.parquet",
            "property_label_association.parquet",
            "label_issues.parquet",
            "summary.txt",
        ]
    )
    for name in ("files", "duplicates", "leaks", "labels", "outliers"):
        assert pl.read_parquet(tmp_path / "out" / f"{name}.parquet").equals(getattr(audit, name)), name
    assert (tmp_path / "out" / "summary.txt").read_text().strip() == audit.summary()
    # A frame this audit does not have, left by an earlier run, goes; other files stay.
    (tmp_path / "out" / "label_errors.parquet").write_bytes(b"an earlier run's")
    (tmp_path / "out" / "notes.txt").write_text("mine")
    audit.write(tmp_path / "out")
    assert not (tmp_path / "out" / "label_errors.parquet").exists() and (tmp_path / "out" / "notes.txt").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        audit.write(tmp_path / "file")


def test_audit_with_a_manifest_and_a_shifted_split(photos: list[Path], tmp_path: Path) -> None:
    folder = tmp_path / "flat"
    folder.mkdir()
    for i, photo in enumerate(photos[:60]):
        shutil.copy(photo, folder / f"im{i:02d}{photo.suffix}")
    names = sorted(p.name for p in folder.iterdir())
    manifest = pl.DataFrame(
        {
            "filename": names,
            "class": ["cat"] * 10 + ["dog"] * 30 + ["cat"] * 19 + ["dog"] * 1,
            "split": ["train"] * 40 + ["test"] * 20,
        }
    )
    manifest.write_csv(tmp_path / "labels.csv")
    result = recipe_audit.audit(folder, labels=tmp_path / "labels.csv", progress=False)
    assert result.files["label"].null_count() == 0
    assert result.problems()["split_shift"] == 1
    assert "test (JS" in result.summary()
    shifted = result.labels.filter(pl.col("split") == "test")
    assert shifted["chi2_p"][0] < 1e-3 and shifted["js_divergence"][0] > 0.01


def test_cli_audit_gates_ci(example_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, html = tmp_path / "frames", tmp_path / "report.html"
    code = main(["audit", str(example_root), "--out", str(out), "--html", str(html), "--fail-on", "leaks,corrupt"])
    captured = capsys.readouterr()
    assert code == 1
    assert "failing on leaks (1), corrupt (2)" in captured.err
    assert captured.out.startswith("recipe-audit: 71 files") and "wrote 11 files" in captured.out
    assert (out / "leaks.parquet").is_file() and html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    # Nothing named is found: success, even though other problems exist.
    assert main(["audit", str(example_root), "--fail-on", "outliers,split_shift,missing_classes"]) == 0
    assert main(["audit", str(example_root)]) == 0
    assert main(["audit", str(example_root), "--fail-on", "any"]) == 1
    assert main(["audit", str(example_root), "--fail-on", "any,dark"]) == 1  # "any" among names: every problem
    capsys.readouterr()
    # Misuse: exit 2 with a message that says what to do.
    assert main(["audit", str(example_root), "--fail-on", "leaks,typo"]) == 2
    assert "unknown --fail-on typo; choose from any,leaks" in capsys.readouterr().err
    assert main(["audit", str(tmp_path / "missing")]) == 2
    assert main(["audit", str(example_root), "--labels", str(tmp_path / "none.csv")]) == 2
    assert main(["audit", str(example_root), "--threshold", "dark_mean=3"]) == 2
    assert "threshold 'dark_mean=3': expected NAME=VALUE with NAME one of dark_p999" in capsys.readouterr().err
    # Values the flags cannot use are misuse too, refused before the scan (a factor of 0 once
    # divided by zero after it, and exited 1 as if a problem had been found; nan flagged everything).
    assert main(["audit", str(example_root), "--threshold", "size_factor=0"]) == 2
    assert "size_factor is a factor off the median and must be above 1" in capsys.readouterr().err
    assert main(["audit", str(example_root), "--threshold", "dark_p999=nan"]) == 2
    assert "dark_p999 must be a finite number" in capsys.readouterr().err
    # A threshold set from the command line changes the verdict: every image has a 99.9th
    # percentile of luma at most 255, so with dark_p999=255 (and no colour exemption) every
    # decoded image is dark.
    loose = ["--threshold", "dark_p999=255", "--threshold", "dark_colorfulness=1000"]
    assert main(["audit", str(example_root), *loose, "--fail-on", "dark"]) == 1
    assert "failing on dark (69)" in capsys.readouterr().err


def test_cli_audit_as_a_process(example_root: Path, tmp_path: Path) -> None:
    """The installed command, as CI calls it: the exit status is the gate."""
    run = subprocess.run(
        [sys.executable, "-m", "recipe_audit.cli", "audit", str(example_root), "--fail-on", "corrupt"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1 and "2 broken files" in run.stdout and "failing on corrupt (2)" in run.stderr


def test_report_counts_splits_named_like_its_columns(photos: list[Path], tmp_path: Path) -> None:
    """Splits called "label" and "total" are names like any other in the report's counts table
    (one crashed the page, the other showed the wrong counts)."""
    files = recipe_audit.scan([p for p in photos if p.suffix == ".jpg"][:12], progress=False).with_columns(
        label=pl.Series(["cat", "dog"] * 6), split=pl.Series(["label"] * 4 + ["total"] * 8)
    )
    page = recipe_audit.audit(files, progress=False).to_html(tmp_path / "r.html").read_text(encoding="utf-8")
    counts = page[page.index("<h3>Counts</h3>") :]
    cells = [c for c in (x.split("<")[0].strip() for x in counts.split(">")[:80]) if c]
    assert cells[:6] == ["Counts", "class", "label", "total", "cat", "2"] and cells[6] == "4", cells[:12]
