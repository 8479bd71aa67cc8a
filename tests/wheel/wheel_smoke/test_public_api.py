"""Smoke tests of the public API, run against an installed wheel in a bare virtual environment.

Only recipe_audit, its two dependencies (polars, numpy) and the standard library are available
here: no Pillow, no torch, no Rust. `tests/test_wheel.py` builds the data set with the developer
install, records what that install's scan returned (`expected.json`), installs the wheel into a
fresh venv and runs this file there with ``RECIPE_AUDIT_SMOKE_DATA`` pointing at both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import recipe_audit

DATA = Path(os.environ.get("RECIPE_AUDIT_SMOKE_DATA", "/nonexistent"))
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="run by tests/test_wheel.py")


def _expected() -> pl.DataFrame:
    return pl.DataFrame(json.loads((DATA / "expected.json").read_text()))


def test_installed_from_the_wheel() -> None:
    prefix = os.environ.get("RECIPE_AUDIT_EXPECT_PREFIX")
    assert prefix and Path(recipe_audit.__file__).resolve().is_relative_to(Path(prefix).resolve())
    assert recipe_audit.__version__


def test_scan_gives_the_same_rows_as_the_developer_build() -> None:
    files = recipe_audit.scan(DATA / "images", threads=2)
    expected = _expected()
    columns = expected.columns
    got = files.with_columns(pl.col("path").str.replace(str(DATA / "images") + "/", "", literal=True))
    assert got.select(columns).to_dicts() == expected.select(columns).to_dicts()
    assert set(files["status"]) == {"ok", "truncated", "empty"}


def test_scan_bytes_matches_scan() -> None:
    files = recipe_audit.scan(DATA / "images").filter(status="ok").head(3)
    blobs = [Path(p).read_bytes() for p in files["path"]]
    from_memory = recipe_audit.scan_bytes(files["path"].to_list(), blobs)
    assert from_memory["phash"].to_list() == files["phash"].to_list()
    assert from_memory["content_hash"].to_list() == files["content_hash"].to_list()


def test_duplicates_and_leaks() -> None:
    files = recipe_audit.scan(DATA / "images")
    dups = recipe_audit.find_duplicates(files)
    assert "exact" in dups["kind"].to_list()
    leaks = recipe_audit.find_leaks(files, dups)
    assert leaks.height >= 1


def test_cli_scan_and_audit() -> None:
    cli = Path(sys.executable).with_name("recipe-audit")
    done = subprocess.run([str(cli), "scan", str(DATA / "images")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "truncated" in done.stdout
    gated = subprocess.run(
        [str(cli), "audit", str(DATA / "images"), "--fail-on", "leaks"], capture_output=True, text=True, timeout=120
    )
    assert gated.returncode == 1, gated.stderr


def test_checks_say_how_to_get_torch() -> None:
    from recipe_audit import checks

    with pytest.raises(ImportError, match=r"pip install 'recipe-audit\[torch\]'"):
        checks.loss_at_init(lambda: None, ([0.0], [0]), None)


def test_report_says_how_to_get_its_extra(tmp_path: Path) -> None:
    audit = recipe_audit.audit(DATA / "images", progress=False)
    assert audit.files.height == _expected().height
    with pytest.raises(ImportError, match=r"recipe-audit\[report\]"):
        audit.to_html(tmp_path / "report.html")
