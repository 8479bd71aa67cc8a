"""The scan's contract across the Rust/Python boundary: one column list, one set of defaults."""

from __future__ import annotations

import inspect
import struct
import zlib
from pathlib import Path

import polars as pl

import recipe_audit
import recipe_audit._core as core
from recipe_audit import schema
from recipe_audit.io.listing import Settings


def test_the_core_returns_exactly_the_schema_columns_in_order(photos: list[Path]) -> None:
    columns = core.scan_bytes([photos[0].name], [photos[0].read_bytes()])
    assert list(columns) == list(schema.SCAN_SCHEMA) == [name for name, _ in core.SCAN_COLUMNS]
    assert len(schema.SCAN_SCHEMA) == 42 and schema.SCAN_SCHEMA["thumb"] == pl.Binary
    assert len(frame_signs := columns["thumb_signs"]) == 1 and len(frame_signs[0]) == 32
    frame = recipe_audit.scan_bytes([photos[0].name], [photos[0].read_bytes()])
    assert frame.schema == pl.Schema(schema.SCAN_SCHEMA)
    assert frame["status"][0] == "ok"


def test_the_statuses_come_from_the_core() -> None:
    assert schema.STATUSES == (
        "ok",
        "empty",
        "truncated",
        "corrupt",
        "unsupported",
        "unreadable",
        "too_large",
        "missing",
    )


def test_a_broken_file_keeps_every_column_typed(tmp_path: Path) -> None:
    broken = tmp_path / "cut.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    frame = recipe_audit.scan(broken, progress=False)
    assert frame.schema == pl.Schema(schema.SCAN_SCHEMA)
    assert frame["status"][0] in schema.STATUSES and frame["status"][0] != "ok"


def _defaults(function: object) -> dict[str, object]:
    return {
        name: p.default
        for name, p in inspect.signature(function).parameters.items()  # type: ignore[arg-type]
        if p.default is not inspect.Parameter.empty
    }


def test_the_scan_defaults_are_declared_once() -> None:
    declared = {
        "max_pixels": schema.MAX_PIXELS,
        "max_bytes": schema.MAX_BYTES,
        "min_decode_side": schema.MIN_DECODE_SIDE,
    }
    python_side = _defaults(recipe_audit.scan)
    settings = Settings()
    for name, value in declared.items():
        assert python_side[name] == value, name
        assert getattr(settings, name) == value, name
    # Declared in the core (rust/lib.rs), whose signatures use the same constants.
    assert declared == {
        "max_pixels": core.DEFAULT_MAX_PIXELS,
        "max_bytes": core.DEFAULT_MAX_BYTES,
        "min_decode_side": core.DEFAULT_MIN_DECODE_SIDE,
    }
    assert (core.DEFAULT_MAX_PIXELS, core.DEFAULT_MAX_BYTES, core.DEFAULT_MIN_DECODE_SIDE) == (100_000_000, 1 << 30, 64)


def test_a_picture_over_the_default_pixel_limit_is_refused_by_the_core(tmp_path: Path) -> None:
    # A PNG header declaring 20,000 x 20,000 pixels (4e8 > the default 1e8): refused before decoding.
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    columns = core.scan_bytes(["huge.png"], [png])
    assert columns["status"] == ["too_large"]
