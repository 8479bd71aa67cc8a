"""Tests of the photo-based example and corpus generators in ``recipe_audit.examples``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

pytest.importorskip("skimage")
Image = pytest.importorskip("PIL.Image")
from PIL import ImageFile, JpegImagePlugin  # noqa: E402

from recipe_audit import examples  # noqa: E402

N = 60


def _files(root: Path) -> dict[str, bytes]:
    files = (p for p in sorted(root.rglob("*")) if p.is_file())
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return examples.make_photo_corpus(tmp_path_factory.mktemp("corpus"), N, seed=3)


@pytest.fixture(scope="module")
def example_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return examples.make_example(tmp_path_factory.mktemp("example") / "ds")


def test_photo_sources_are_real_photos() -> None:
    sources = examples.photo_sources()
    names = [name for name, _ in sources]
    assert len(names) == len(set(names)) >= 10
    assert {"astronaut", "chelsea", "coffee", "rocket", "camera"} <= set(names)
    for name, arr in sources:
        assert arr.dtype.name == "uint8", name
        assert arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3), name
        assert min(arr.shape[:2]) >= 150, name
    assert examples.photo_sources()[0][1] is sources[0][1]  # cached


def test_corpus_counts_names_and_sizes(corpus: list[Path]) -> None:
    assert len(corpus) == N
    assert [p.stem for p in corpus] == [f"img_{i:06d}" for i in range(N)]
    assert len({p.parent for p in corpus}) == 1
    assert sorted(p.name for p in corpus[0].parent.iterdir()) == sorted(p.name for p in corpus)
    for p in corpus:
        with Image.open(p) as im:
            assert 200 <= max(im.size) <= 800, (p, im.size)
            assert min(im.size) >= 1


def test_corpus_formats(corpus: list[Path]) -> None:
    formats, modes, sampling, progressive = [], [], [], 0
    for p in corpus:
        with Image.open(p) as im:
            assert im.format == {".jpg": "JPEG", ".png": "PNG"}[p.suffix]
            formats.append(im.format)
            modes.append(im.mode)
            if im.format == "JPEG":
                if im.mode == "RGB":
                    sampling.append(JpegImagePlugin.get_sampling(im))
                progressive += bool(im.info.get("progressive"))
            im.load()  # every corpus file decodes fully
    assert formats.count("PNG") == round(N * 0.1)
    assert modes.count("L") == round(N * 0.05)
    assert set(modes) == {"RGB", "L"}
    assert sampling.count(2) > len(sampling) / 2  # mostly 4:2:0
    assert 0 in sampling  # some 4:4:4
    assert progressive >= 1


def test_corpus_images_are_distinct(corpus: list[Path]) -> None:
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in corpus}
    assert len(digests) == len(corpus)


def test_corpus_is_deterministic(tmp_path: Path) -> None:
    a = examples.make_photo_corpus(tmp_path / "a", 12, seed=7, png_share=0.25, gray_share=0.25)
    b = examples.make_photo_corpus(tmp_path / "b", 12, seed=7, png_share=0.25, gray_share=0.25)
    c = examples.make_photo_corpus(tmp_path / "c", 12, seed=8, png_share=0.25, gray_share=0.25)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert [p.read_bytes() for p in a] != [p.read_bytes() for p in c]


def test_corpus_size_range_is_respected(tmp_path: Path) -> None:
    paths = examples.make_photo_corpus(tmp_path, 10, seed=1, png_share=0, gray_share=1, min_side=64, max_side=96)
    for p in paths:
        with Image.open(p) as im:
            assert p.suffix == ".jpg" and im.mode == "L"
            assert 64 <= max(im.size) <= 96


def test_example_layout(example_root: Path) -> None:
    assert sorted(p.name for p in example_root.iterdir()) == ["test", "train", "val"]
    for split in ("train", "val", "test"):
        classes = sorted(p.name for p in (example_root / split).iterdir())
        assert classes == ["astronaut", "chelsea", "coffee", "rocket"]
    files = _files(example_root)
    assert 40 <= len(files) <= 80
    assert all(name.count("/") == 2 for name in files)


def test_example_planted_files(example_root: Path) -> None:
    planted = examples.example_planted(example_root)
    assert set(planted) == {
        "exact_duplicate",
        "near_duplicate",
        "truncated",
        "empty",
        "wrong_extension",
        "label_conflict",
        "split_leak",
    }
    files = _files(example_root)
    for kind, paths in planted.items():
        assert all(p in files for p in paths), kind

    a, b = planted["exact_duplicate"]
    assert a != b and Path(a).parent == Path(b).parent and files[a] == files[b]
    a, b = planted["label_conflict"]
    assert a.split("/")[1] != b.split("/")[1] and files[a] == files[b]
    a, b = planted["split_leak"]
    assert a.startswith("train/") and b.startswith("test/") and files[a] == files[b]
    # no unplanted exact duplicates
    dup_groups = {}
    for name, data in files.items():
        if data:
            dup_groups.setdefault(data, []).append(name)
    assert sorted(sorted(g) for g in dup_groups.values() if len(g) > 1) == sorted(
        sorted(planted[k]) for k in ("exact_duplicate", "label_conflict", "split_leak")
    )

    a, b = planted["near_duplicate"]
    assert files[a] != files[b]
    with Image.open(example_root / a) as ia, Image.open(example_root / b) as ib:
        assert ib.size == (round(ia.width * 0.7), round(ia.height * 0.7))

    assert files[planted["empty"][0]] == b""
    (wrong,) = planted["wrong_extension"]
    assert wrong.endswith(".jpg") and files[wrong].startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(example_root / wrong) as im:
        im.load()
        assert im.format == "PNG"


def test_truncated_jpeg_fails_to_decode(example_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", False)
    (rel,) = examples.example_planted(example_root)["truncated"]
    data = (example_root / rel).read_bytes()
    assert data.startswith(b"\xff\xd8") and not data.endswith(b"\xff\xd9")
    with Image.open(example_root / rel) as im:
        assert im.format == "JPEG" and im.size[0] > 0  # the header is intact
        with pytest.raises(OSError, match="truncated"):
            im.load()


def test_example_is_deterministic(example_root: Path, tmp_path: Path) -> None:
    assert _files(examples.make_example(tmp_path / "again")) == _files(example_root)


def test_example_refuses_non_empty_dest(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError):
        examples.make_example(tmp_path)


def test_example_planted_rejects_other_dirs(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        examples.example_planted(tmp_path)
