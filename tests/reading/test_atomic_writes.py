"""Outputs written whole or not at all (`recipe_audit.io.atomic`), through links and into what
cannot be renamed over."""

from __future__ import annotations

from pathlib import Path

import polars as pl

import recipe_audit.io.atomic as atomic


def test_a_file_is_replaced_whole_and_nothing_else_is_left(tmp_path: Path) -> None:
    target = tmp_path / "frame.parquet"
    target.write_text("an earlier run")
    before = target.stat().st_ino
    atomic.write_parquet(pl.DataFrame({"a": [1, 2]}), target)
    assert target.stat().st_ino != before and pl.read_parquet(target)["a"].to_list() == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["frame.parquet"]


def test_a_link_is_written_through(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    real = tmp_path / "runs" / "index-2.parquet"
    real.write_text("stale")
    link = tmp_path / "latest.parquet"
    link.symlink_to(real)
    atomic.write_parquet(pl.DataFrame({"a": [3]}), link)
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert pl.read_parquet(real)["a"].to_list() == [3]


def test_what_cannot_be_renamed_over_is_written_directly(tmp_path: Path) -> None:
    import os
    import threading

    fifo = tmp_path / "report.pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text(encoding="utf-8")))
    reader.start()
    atomic.write_text(fifo, "<html>report</html>")
    reader.join(timeout=30)
    assert received == ["<html>report</html>"] and fifo.exists() and not fifo.is_file()
