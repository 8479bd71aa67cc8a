"""Every status, told right, on real crafted files; verdicts compared with Pillow's strict load."""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image, ImageFile

import recipe_audit
from recipe_audit import STATUSES, _core


def pil_verdict(path: Path) -> bool:
    """True when Pillow, refusing truncated images, loads the file."""
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with Image.open(path) as im:
            im.load()
        return True
    except Exception:
        return False


def one(path: Path, **kwargs) -> dict:
    frame = recipe_audit.scan(path, progress=False, **kwargs)
    assert frame.height == 1
    return frame.row(0, named=True)


def cut_points(size: int, count: int = 40) -> list[int]:
    return sorted({int(x) for x in np.linspace(1, size - 1, count)})


@pytest.mark.parametrize("kind", ["jpeg", "png"])
def test_every_cut_is_caught_and_matches_pil(photos: list[Path], tmp_path: Path, kind: str) -> None:
    sources = [p for p in photos if (p.suffix == ".png") == (kind == "png")][:4]
    disagreements = []
    cuts = 0
    for source in sources:
        data = source.read_bytes()
        for cut in cut_points(len(data)):
            target = tmp_path / f"{source.stem}_{cut}{source.suffix}"
            target.write_bytes(data[:cut])
            row = one(target)
            cuts += 1
            assert row["status"] in {"truncated", "corrupt", "unsupported"}, (target, row)
            assert row["error"]
            if cut > 600:
                # Past the headers, a cut stream is truncated, never corrupt or ok.
                assert row["status"] == "truncated", (cut, row)
            if pil_verdict(target):
                disagreements.append(cut)
            target.unlink()
    # Pillow accepts a few JPEGs cut inside the final bytes; we never do.
    assert cuts >= 100
    assert len(disagreements) <= cuts * 0.05


def test_intact_photos_are_ok(photos: list[Path]) -> None:
    frame = recipe_audit.scan(photos[0].parent, progress=False)
    assert frame.height == len(photos)
    assert frame["status"].unique().to_list() == ["ok"]
    assert frame["error"].null_count() == frame.height
    assert frame.filter(pl.col("width").is_null() | pl.col("phash").is_null()).is_empty()
    with Image.open(photos[3]) as im:
        size = im.size
    row = frame.filter(pl.col("path") == str(photos[3])).row(0, named=True)
    assert (row["width"], row["height"]) == size


def test_bytes_after_end_marker_are_fine(photos: list[Path], tmp_path: Path) -> None:
    jpeg = next(p for p in photos if p.suffix == ".jpg")
    target = tmp_path / "trailing.jpg"
    target.write_bytes(jpeg.read_bytes() + b"some trailing bytes a camera wrote")
    assert one(target)["status"] == "ok"
    assert pil_verdict(target)


def test_empty_random_and_wrong_extension(photos: list[Path], tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert one(tmp_path / "empty.jpg")["status"] == "empty"
    (tmp_path / "noise.jpg").write_bytes(np.random.default_rng(0).bytes(5000))
    row = one(tmp_path / "noise.jpg")
    assert row["status"] == "unsupported" and row["format"] == "unknown" and "not a recognised" in row["error"]
    png = next(p for p in photos if p.suffix == ".png")
    (tmp_path / "really_png.jpg").write_bytes(png.read_bytes())
    row = one(tmp_path / "really_png.jpg")
    assert (row["status"], row["format"], row["ext_mismatch"]) == ("ok", "png", True)
    assert one(png)["ext_mismatch"] is False


def test_damaged_data_inside_a_known_format_is_corrupt(photos: list[Path], tmp_path: Path) -> None:
    png = next(p for p in photos if p.suffix == ".png").read_bytes()
    damaged = bytearray(png)
    for i in range(200, 260):
        damaged[i] ^= 0x5A
    (tmp_path / "damaged.png").write_bytes(bytes(damaged))
    row = one(tmp_path / "damaged.png")
    assert row["status"] == "corrupt", row
    assert not pil_verdict(tmp_path / "damaged.png")


def _png_header_only(width: int, height: int) -> bytes:
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
    idat = b"IDAT" + zlib.compress(b"\0" * 16)
    end = b"IEND"
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk
        + struct.pack(">I", len(idat) - 4)
        + idat
        + struct.pack(">I", zlib.crc32(idat))
        + struct.pack(">I", 0)
        + end
        + struct.pack(">I", zlib.crc32(end))
    )


def test_decompression_bombs_are_refused(photos: list[Path], tmp_path: Path) -> None:
    (tmp_path / "bomb.png").write_bytes(_png_header_only(60000, 60000))
    row = one(tmp_path / "bomb.png")
    assert row["status"] == "too_large" and (row["width"], row["height"]) == (60000, 60000)
    assert "megapixels" in row["error"]
    # A JPEG whose frame header claims 60000x60000: patch the SOF dimensions of a real photo.
    data = bytearray(next(p for p in photos if p.suffix == ".jpg").read_bytes())
    sof = next(i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC2))
    data[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)
    (tmp_path / "bomb.jpg").write_bytes(bytes(data))
    assert one(tmp_path / "bomb.jpg")["status"] == "too_large"
    # The limit is configurable.
    assert one(photos[0], max_pixels=1000)["status"] == "too_large"


def test_unreadable_without_permission(photos: list[Path], tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"ra_perm_{os.getpid()}"
    folder.mkdir(mode=0o755, exist_ok=True)
    locked = folder / "locked.jpg"
    locked.write_bytes(photos[0].read_bytes())
    locked.chmod(0)
    try:
        if os.geteuid() == 0:
            # Root reads everything: check as an unprivileged user in a forked child.
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:
                try:
                    os.setgid(65534)
                    os.setuid(65534)
                    columns = _core.scan_paths([str(locked)])
                    os.write(write_end, json.dumps([columns["status"][0], columns["error"][0]]).encode())
                finally:
                    os._exit(0)
            os.close(write_end)
            os.waitpid(pid, 0)
            status, error = json.loads(os.read(read_end, 65536).decode())
        else:
            row = one(locked)
            status, error = row["status"], row["error"]
        assert status == "unreadable"
        assert "ermission denied" in error
    finally:
        locked.chmod(0o644)
        locked.unlink()
        folder.rmdir()


def test_fifo_and_dangling_symlink_are_rows_not_hangs(tmp_path: Path, photos: list[Path]) -> None:
    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    (tmp_path / "loop").symlink_to(tmp_path)
    (tmp_path / "ok.jpg").write_bytes(photos[0].read_bytes())
    (tmp_path / "we ird näme ✓ <b>.jpg").write_bytes(photos[1].read_bytes())
    frame = recipe_audit.scan(tmp_path, progress=False)
    by_name = {Path(p).name: s for p, s in frame.select("path", "status").iter_rows()}
    assert by_name == {
        "dangling.jpg": "unreadable",
        "ok.jpg": "ok",
        "pipe.jpg": "unreadable",
        "we ird näme ✓ <b>.jpg": "ok",
    }
    assert set(frame["status"]) <= set(STATUSES)


def test_exif_orientation_is_applied(photos: list[Path], tmp_path: Path) -> None:
    with Image.open(next(p for p in photos if p.suffix == ".jpg")) as im:
        upright = im.convert("RGB")
    rotated = upright.transpose(Image.Transpose.ROTATE_90)  # what a camera stores for orientation 6
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    rotated.save(buf, "JPEG", quality=95, exif=exif.tobytes())
    (tmp_path / "tagged.jpg").write_bytes(buf.getvalue())
    upright.save(tmp_path / "upright.jpg", quality=95)
    tagged, plain = one(tmp_path / "tagged.jpg"), one(tmp_path / "upright.jpg")
    assert (tagged["width"], tagged["height"]) == upright.size
    assert bin(tagged["phash"] ^ plain["phash"]).count("1") <= 6


def test_missing_source_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        recipe_audit.scan(tmp_path / "nope")
    with pytest.raises(ValueError, match="threads"):
        recipe_audit.scan(tmp_path, threads=0)
    with pytest.raises(ValueError, match="empty"):
        recipe_audit.scan([])


def test_files_are_only_read(photos: list[Path]) -> None:
    folder = photos[0].parent
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size, p.stat().st_mode) for p in folder.iterdir()}
    recipe_audit.scan(folder, progress=False)
    after = {p: (p.stat().st_mtime_ns, p.stat().st_size, p.stat().st_mode) for p in folder.iterdir()}
    assert before == after


def test_name_that_is_not_utf8(tmp_path: Path, photos: list[Path]) -> None:
    raw_name = os.fsencode(tmp_path) + b"/caf\xe9_latin1.jpg"
    with open(raw_name, "wb") as f:
        f.write(photos[0].read_bytes())
    row = one(tmp_path)
    # Scanned by its real name; shown with \xNN where a byte is not UTF-8 (one U+FFFD for
    # every such byte made two names one row).
    assert row["status"] == "ok"
    assert row["path"].endswith("caf\\xe9_latin1.jpg")
