"""The scan's promises on hostile trees: files are only read, and nothing the walk meets is lost.

A tree with a file of every kind and status (every format, cut, empty, random bytes, a header bomb,
no read permission, a FIFO, broken and looping symlinks, a link out of the root, a name that is not
UTF-8) is scanned, audited and searched; every entry's bytes, size, mode, owner, mtime and ctime
are the same afterwards, no file appeared and no lock is left. The same scan runs on a read-only
mount and as a user who may write nowhere in the tree.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

import recipe_audit
from recipe_audit import STATUSES
from recipe_audit.cli import main as cli_main


def _png_header_only(width: int, height: int) -> bytes:
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = b"IDAT" + zlib.compress(b"\0" * 16)
    chunks = [ihdr, idat, b"IEND"]
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(c) - 4) + c + struct.pack(">I", zlib.crc32(c)) for c in chunks
    )


@pytest.fixture()
def hostile_tree(photos: list[Path], tmp_path: Path) -> Iterator[Path]:
    # Under a folder every user may traverse (pytest's own is private), for the unprivileged scan.
    base = Path(tempfile.mkdtemp(prefix="ra_hostile_"))
    base.chmod(0o755)
    try:
        yield _build_tree(base / "tree", photos, tmp_path)
    finally:
        for folder, dirs, _ in os.walk(base):
            for name in dirs:
                if not os.path.islink(os.path.join(folder, name)):
                    os.chmod(os.path.join(folder, name), 0o755)
        shutil.rmtree(base)


def _build_tree(root: Path, photos: list[Path], tmp_path: Path) -> Path:
    train = root / "train" / "cat"
    train.mkdir(parents=True)
    with Image.open(next(p for p in photos if p.suffix == ".jpg")) as im:
        picture = im.convert("RGB").resize((96, 72))
    for fmt, ext in [
        ("JPEG", "jpg"),
        ("PNG", "png"),
        ("GIF", "gif"),
        ("WEBP", "webp"),
        ("BMP", "bmp"),
        ("TIFF", "tif"),
    ]:
        picture.save(train / f"photo.{ext}", fmt)
    jpeg = (train / "photo.jpg").read_bytes()
    (train / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (train / "copy.jpg").write_bytes(jpeg)
    (train / "empty.jpg").write_bytes(b"")
    (train / "random.jpg").write_bytes(os.urandom(3000))
    (train / "bomb.png").write_bytes(_png_header_only(60000, 60000))
    (train / "png-named.jpg").write_bytes((train / "photo.png").read_bytes())
    locked = train / "locked.jpg"
    locked.write_bytes(jpeg)
    locked.chmod(0)
    os.mkfifo(train / "pipe.jpg")
    (train / "dangling.jpg").symlink_to(root / "nowhere.jpg")
    (train / "loop").symlink_to(root)
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(jpeg)
    (root / "train" / "outside-link.jpg").symlink_to(outside)
    (root / "test").mkdir()
    with open(os.fsencode(root / "test") + b"/caf\xe9.jpg", "wb") as f:  # Latin-1, not UTF-8
        f.write(jpeg)
    return root


def _snapshot(root: Path) -> dict:
    """Everything a change would show: per entry (links not followed) its type and mode, owner,
    size, mtime and ctime, and for readable regular files a SHA-256 of the bytes."""
    seen = {}
    for folder, dirs, files in os.walk(os.fsencode(root)):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            digest = None
            if os.path.isfile(path) and not os.path.islink(path) and st.st_mode & 0o444:
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            seen[path] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest)
    return seen


def _locks_on(root: Path) -> list[str]:
    inodes = {os.lstat(os.path.join(d, n)).st_ino for d, _, fs in os.walk(root) for n in fs}
    lines = Path("/proc/locks").read_text().splitlines() if Path("/proc/locks").exists() else []
    return [line for line in lines if int(line.split()[-3].split(":")[-1]) in inodes]


def test_nothing_in_the_tree_changes(hostile_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(hostile_tree)
    files = recipe_audit.scan(hostile_tree, progress=False)
    assert {"ok", "truncated", "empty", "unsupported", "too_large", "unreadable"} <= set(files["status"])
    audit = recipe_audit.audit(hostile_tree, progress=False)
    audit.write(tmp_path / "audit-out")
    audit.to_html(tmp_path / "report.html", progress=False)
    recipe_audit.duplicate_pairs(files)
    recipe_audit.DuplicateIndex(files).save(tmp_path / "index.parquet")
    assert cli_main(["scan", str(hostile_tree)]) == 0
    capsys.readouterr()
    assert _snapshot(hostile_tree) == before
    assert _locks_on(hostile_tree) == []


def test_statuses_of_the_hostile_tree(hostile_tree: Path) -> None:
    files = recipe_audit.scan(hostile_tree, progress=False)
    by_name = {Path(p).name: (s, e) for p, s, e in files.select("path", "status", "error").iter_rows()}
    assert set(files["status"]) <= set(STATUSES)
    assert all(e for s, e in by_name.values() if s != "ok")
    expected = {
        "photo.jpg": "ok",
        "photo.png": "ok",
        "photo.gif": "ok",
        "photo.webp": "ok",
        "photo.bmp": "ok",
        "photo.tif": "ok",
        "cut.jpg": "truncated",
        "copy.jpg": "ok",
        "empty.jpg": "empty",
        "random.jpg": "unsupported",
        "bomb.png": "too_large",
        "png-named.jpg": "ok",
        "pipe.jpg": "unreadable",
        "dangling.jpg": "unreadable",
        "outside-link.jpg": "ok",
        "caf\\xe9.jpg": "ok",  # the byte that is not UTF-8, written out
    }
    assert {k: by_name[k][0] for k in expected} == expected
    # Root reads a mode-000 file; anyone else gets an `unreadable` row (tests/test_scan_status.py).
    assert by_name["locked.jpg"][0] == ("ok" if os.geteuid() == 0 else "unreadable")
    # The symlink loop is walked once: every real file appears exactly once.
    assert files.height == len(expected) + 1


def _scan_in_child(root: Path, then: str = "") -> str:
    """Python code that imports first (as root: the interpreter and its lazily loaded modules may
    live under /root), then runs `then` (e.g. drops privileges), scans `root` with the Rust core's
    own entry point and prints {path: status} as JSON."""
    return (
        f"import json, os, numpy._core.multiarray\nfrom recipe_audit import _core\n{then}\n"
        f"c = _core.scan_paths([{str(root)!r}])\n"
        "print(json.dumps(dict(zip(list(c['path']), list(c['status'])))))"
    )


def test_scan_on_a_read_only_mount(hostile_tree: Path, tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and util-linux's unshare for a private read-only bind mount")
    (hostile_tree / "train" / "cat" / "pipe.jpg").unlink()  # a FIFO is never opened anyway
    mount = tmp_path / "ro"
    mount.mkdir()
    code = _scan_in_child(mount)
    script = (
        f"mount --bind -o ro {hostile_tree} {mount} && touch {mount}/probe 2>/dev/null && exit 3; "
        f'exec {sys.executable} -c "$0"'
    )
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, code],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode == 32 or "permission denied" in done.stderr.lower():
        pytest.skip(f"bind mounts not allowed here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    on_mount = {Path(p).name: s for p, s in json.loads(done.stdout).items()}
    direct = {
        Path(p).name: s
        for p, s in zip(*recipe_audit.scan(hostile_tree, progress=False).select("path", "status").get_columns())
    }
    assert on_mount == direct


def test_scan_as_a_user_who_can_write_nothing(hostile_tree: Path, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    mode_of = {}
    for folder, dirs, files in os.walk(hostile_tree):
        for name in dirs + files:
            path = Path(folder) / name
            if not path.is_symlink() and (path.is_dir() or path.is_file()):
                mode_of[path] = path.stat().st_mode
                path.chmod(0o555 if path.is_dir() else (path.stat().st_mode & 0o444))
    hostile_tree.chmod(0o555)
    try:
        code = _scan_in_child(hostile_tree, "os.setgid(65534); os.setuid(65534)")
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=300,
            cwd="/",
            env={**os.environ, "HOME": "/nonexistent"},
        )
        assert done.returncode == 0, done.stderr
        statuses = {Path(p).name: s for p, s in json.loads(done.stdout).items()}
        assert statuses["photo.jpg"] == "ok" and statuses["locked.jpg"] == "unreadable"
    finally:
        hostile_tree.chmod(0o755)
        for path, mode in mode_of.items():
            path.chmod(mode)


def test_path_longer_than_path_max_is_a_row(photos: list[Path], tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        for _ in range(20):  # 20 x 251 bytes: past Linux's PATH_MAX of 4096
            os.mkdir("d" * 250, dir_fd=fd)
            deeper = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = deeper
        with open(os.open("deep.jpg", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as f:
            f.write(photos[0].read_bytes())
    finally:
        os.close(fd)
    (tmp_path / "near.jpg").write_bytes(photos[0].read_bytes())
    files = recipe_audit.scan(tmp_path, progress=False)
    assert files.filter(status="ok")["path"].to_list() == [str(tmp_path / "near.jpg")]
    refused = files.filter(status="unreadable")
    assert refused.height == 1 and "too long" in refused["error"][0]
    assert 4096 - 260 < len(refused["path"][0]) <= 4096 + 260


def test_files_that_vanish_or_change_during_the_scan(photos: list[Path], tmp_path: Path) -> None:
    blobs = [p.read_bytes() for p in photos[:20]]
    paths = []
    for k in range(3000):
        path = tmp_path / f"img_{k:05d}.jpg"
        path.write_bytes(blobs[k % len(blobs)])
        paths.append(path)
    stop = threading.Event()

    def vandal() -> None:
        for k, path in enumerate(paths[::-1]):
            if stop.is_set():
                return
            if k % 3 == 0:
                path.unlink()
            elif k % 3 == 1:
                path.write_bytes(path.read_bytes()[:500])  # cut in place
            else:
                path.unlink()
                os.mkfifo(path)  # a FIFO where a file was walked

    thread = threading.Thread(target=vandal)
    thread.start()
    try:
        files = recipe_audit.scan(tmp_path, threads=2, progress=False)
    finally:
        stop.set()
        thread.join()
    assert files["path"].is_sorted() and files["path"].n_unique() == files.height
    assert set(files["status"]) <= set(STATUSES)
    broken = files.filter(files["status"] != "ok")
    assert broken["error"].null_count() == 0 and (broken["error"].str.len_chars() > 0).all()
    gone = files.filter(files["error"].str.contains("No such file|not a regular file"))
    assert gone["status"].is_in(["missing", "unreadable"]).all()
    assert (files.filter(files["error"].str.contains("No such file"))["status"] == "missing").all()


def test_many_files_in_one_directory(tmp_path: Path) -> None:
    folder = tmp_path / "flat"
    folder.mkdir()
    buf = io.BytesIO()
    Image.new("L", (16, 16), 128).save(buf, "PNG")
    (folder / "seed.png").write_bytes(buf.getvalue())
    count = 50_000
    for k in range(count - 1):
        os.link(folder / "seed.png", folder / f"{k:06d}.png")
    files = recipe_audit.scan(folder, progress=False)
    assert files.height == count and files["path"].is_sorted()
    assert files["status"].unique().to_list() == ["ok"]
    assert files["content_hash"].n_unique() == 1
