"""Checking new files against a reference set (find_duplicates(against=...), DuplicateIndex), and
mirror-image matches (flips=True), on real photographs."""

from __future__ import annotations

import shutil
from pathlib import Path

import imagehash
import numpy as np
import polars as pl
import pytest
from PIL import Image

import recipe_audit
from recipe_audit.dedup.index import DuplicateIndex
from recipe_audit.dedup.rule import search_radius


@pytest.fixture(scope="module")
def train_and_new(
    photos: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, str]]:
    """Train = 60 photos; new = an exact copy under another name, a half-size copy, a mirrored
    copy, and 10 photos that are not in train. Returns (train frame, new frame, role -> path)."""
    train_dir = tmp_path_factory.mktemp("train")
    new_dir = tmp_path_factory.mktemp("new")
    train = [p for p in photos if p.suffix == ".jpg"][:60]
    for p in train:
        shutil.copy(p, train_dir / p.name)
    roles = {
        "exact": (train[0], new_dir / "renamed_copy.jpg"),
        "resized": (train[1], new_dir / "half_size.jpg"),
        "mirrored": (train[2], new_dir / "mirrored.png"),
    }
    shutil.copy(roles["exact"][0], roles["exact"][1])
    with Image.open(roles["resized"][0]) as im:
        im.resize((im.width // 2, im.height // 2), Image.LANCZOS).save(roles["resized"][1], quality=85)
    with Image.open(roles["mirrored"][0]) as im:
        im.transpose(Image.FLIP_LEFT_RIGHT).save(roles["mirrored"][1])
    unseen = [p for p in photos if p not in train][:10]
    for p in unseen:
        shutil.copy(p, new_dir / f"unseen_{p.name}")
    paths = {role: str(copy) for role, (_, copy) in roles.items()}
    paths |= {f"{role}_source": str(train_dir / src.name) for role, (src, _) in roles.items()}
    return recipe_audit.scan(train_dir, progress=False), recipe_audit.scan(new_dir, progress=False), paths


def test_new_batch_against_a_training_set(train_and_new) -> None:
    train, new, paths = train_and_new
    found = recipe_audit.find_duplicates(new, against=train)
    by_path = {row["path"]: row for row in found.iter_rows(named=True)}
    # The default rule finds the three copies, and none of the unseen photos.
    assert set(by_path) == {paths["exact"], paths["resized"], paths["mirrored"]}
    assert by_path[paths["mirrored"]]["kind"] == "flip"
    assert by_path[paths["mirrored"]]["match_path"] == paths["mirrored_source"]
    # The single-hash search finds the mirror image only with flips=True.
    single = recipe_audit.find_duplicates(new, against=train, crops=False)
    assert set(single["path"]) == {paths["exact"], paths["resized"]}
    assert by_path[paths["exact"]]["kind"] == "exact"
    assert by_path[paths["exact"]]["match_path"] == paths["exact_source"]
    assert by_path[paths["exact"]]["distance"] == 0
    assert by_path[paths["resized"]]["kind"] == "near"
    assert by_path[paths["resized"]]["match_path"] == paths["resized_source"]
    assert by_path[paths["resized"]]["match_count"] >= 1
    assert found.columns[:6] == ["path", "kind", "distance", "match_path", "match_count", "match_paths"]


def test_flips_find_the_mirrored_copy(train_and_new) -> None:
    train, new, paths = train_and_new
    found = recipe_audit.find_duplicates(new, against=train, max_distance=10, flips=True)
    mirrored = found.filter(pl.col("path") == paths["mirrored"]).row(0, named=True)
    assert mirrored["kind"] == "flip" and mirrored["match_path"] == paths["mirrored_source"]
    assert mirrored["distance"] <= recipe_audit.dedup.rule.DEFAULT_MAX_DISTANCE["phash"]
    # Within one set: the default rule groups the original and its mirror image; the single-hash
    # search does so only with flips=True.
    both = pl.concat([train, new.filter(pl.col("path") == paths["mirrored"])])
    plain = recipe_audit.find_duplicates(both, crops=False)
    assert paths["mirrored"] not in plain["path"].to_list()
    for grouped in (recipe_audit.find_duplicates(both, crops=False, flips=True), recipe_audit.find_duplicates(both)):
        rows = {row["path"]: row for row in grouped.iter_rows(named=True)}
        assert rows[paths["mirrored"]]["group"] == rows[paths["mirrored_source"]]["group"]
    grouped = recipe_audit.find_duplicates(both, crops=False, flips=True)
    rows = {row["path"]: row for row in grouped.iter_rows(named=True)}
    assert rows[paths["mirrored"]]["group"] == rows[paths["mirrored_source"]]["group"]
    assert {rows[paths["mirrored"]]["kind"], rows[paths["mirrored_source"]]["kind"]} == {"flip", "near"}


def test_mirror_hash_equals_imagehash_of_the_mirrored_photo(photos: list[Path]) -> None:
    pngs = [p for p in photos if p.suffix == ".png"][:8]
    # At full size (no reduction before the resize) the mirror hash is imagehash's, bit for bit.
    files = recipe_audit.scan(pngs, progress=False, min_decode_side=1 << 20)
    for row in files.iter_rows(named=True):
        with Image.open(row["path"]) as im:
            reference = int(str(imagehash.phash(im.transpose(Image.FLIP_LEFT_RIGHT))), 16)
        assert row["phash_mirror"] == reference, row["path"]
        assert row["phash_mirror"] != row["phash"]


def test_index_saved_as_parquet_answers_the_same(train_and_new, tmp_path: Path) -> None:
    train, new, _ = train_and_new
    index = DuplicateIndex(train)
    assert len(index) == train.filter(pl.col("status") == "ok").height
    index.save(tmp_path / "train.index.parquet")
    loaded = DuplicateIndex.load(tmp_path / "train.index.parquet")
    assert loaded.files.equals(index.files)
    assert loaded.query(new, flips=True).equals(index.query(new, flips=True))
    # A larger radius than the built one rebuilds the index and finds at least as much.
    assert loaded.query(new, max_distance=20).height >= loaded.query(new).height
    train.write_parquet(tmp_path / "scan.parquet")
    with pytest.raises(ValueError, match="not a recipe_audit index"):
        DuplicateIndex.load(tmp_path / "scan.parquet")
    with pytest.raises(FileNotFoundError, match="no index file"):
        DuplicateIndex.load(tmp_path / "missing.parquet")
    with pytest.raises(ValueError, match="flips=True needs hash='phash'"):
        index.query(new, hash="dhash", flips=True)
    # An index saved by a release before the sign map still answers, and says what it lacks.
    older = tmp_path / "older.index.parquet"
    pl.read_parquet(tmp_path / "train.index.parquet").drop("thumb_signs").write_parquet(
        older, metadata=pl.read_parquet_metadata(tmp_path / "train.index.parquet")
    )
    with pytest.warns(UserWarning, match="earlier release"):
        assert DuplicateIndex.load(older).query(new).height > 0


def test_a_query_matching_100k_indexed_files_lists_a_few_and_counts_all() -> None:
    n = 100_000
    blank = np.full(n, 0xF0F0_F0F0_0F0F_0F0F, dtype=np.uint64)
    reference = pl.DataFrame(
        {
            "path": [f"train/{i:06d}.jpg" for i in range(n)],
            "status": ["ok"] * n,
            "content_hash": [f"{i:032x}" for i in range(n)],
            "phash": blank,
            "phash_mirror": blank,
            "width": [64] * n,
            "height": [64] * n,
        }
    )
    new = reference.head(3).with_columns(
        path=pl.format("new/{}", pl.col("path")),
        content_hash=pl.lit("f" * 32),
        phash=pl.col("phash") ^ 1,
        phash_mirror=pl.col("phash_mirror") ^ 1,
    )
    found = recipe_audit.find_duplicates(new, against=reference, max_matches=5, flips=True)
    assert found["match_count"].to_list() == [n] * 3
    assert found["match_paths"].list.len().to_list() == [5] * 3
    assert found["match_paths"][0].to_list() == [f"train/{i:06d}.jpg" for i in range(5)]
    assert found["kind"].to_list() == ["near"] * 3 and found["distance"].to_list() == [1] * 3


def test_real_near_copy_just_inside_and_just_outside_the_radius(photos: list[Path], tmp_path: Path) -> None:
    """A real re-cropped copy at distance d is found at max_distance=d and not at d - 1."""
    source = next(p for p in photos if p.suffix == ".jpg")
    shutil.copy(source, tmp_path / "original.jpg")
    with Image.open(source) as im:
        for k, share in enumerate((0.01, 0.02, 0.03, 0.04)):
            dx, dy = int(im.width * share), int(im.height * share)
            im.crop((dx, dy, im.width - dx, im.height - dy)).save(tmp_path / f"crop_{k}.jpg", quality=90)
    files = recipe_audit.scan(tmp_path, progress=False)
    phash = dict(files.select("path", "phash").iter_rows())
    original = str(tmp_path / "original.jpg")
    copy = max((p for p in phash if p != original), key=lambda p: bin(phash[p] ^ phash[original]).count("1"))
    d = bin(phash[copy] ^ phash[original]).count("1")
    assert d > 0
    pair = files.filter(pl.col("path").is_in([original, copy]))
    # The radius alone (crops=False): with crops on, the crop also joins through a centre window.
    assert recipe_audit.find_duplicates(pair, max_distance=d, crops=False).height == 2
    assert recipe_audit.find_duplicates(pair, max_distance=d - 1, crops=False).is_empty()
    assert (
        recipe_audit.find_duplicates(
            pair.filter(pl.col("path") == copy), against=pair.filter(pl.col("path") == original), max_distance=d
        ).height
        == 1
    )
    assert recipe_audit.find_duplicates(
        pair.filter(pl.col("path") == copy), against=pair.filter(pl.col("path") == original), max_distance=d - 1
    ).is_empty()


def test_index_and_pairs_follow_one_rule(train_and_new) -> None:
    """What the index finds for each new file is exactly what duplicate_pairs links across the two
    sets, searched together: one matching rule, either way round."""
    train, new, _ = train_and_new
    found = recipe_audit.find_duplicates(new, against=train, max_matches=1000)
    by_index = {(row["path"], m) for row in found.iter_rows(named=True) for m in row["match_paths"]}
    pairs = recipe_audit.duplicate_pairs(pl.concat([train, new]))
    new_paths, train_paths = set(new["path"]), set(train["path"])
    crossing = {
        (a, b) if a in new_paths else (b, a)
        for a, b in pairs.select("path_a", "path_b").iter_rows()
        if (a in new_paths) != (b in new_paths)
    }
    assert by_index and by_index == crossing
    assert all(m in train_paths for _, m in by_index)


def test_identical_pictures_are_searched_once_and_the_pairs_are_bounded(train_and_new) -> None:
    """300 copies of one photo and 300 blank frames on each side: the index searches each picture
    once, counts every match, and refuses past max_pairs with a clear error instead of listing
    hundreds of millions of pairs."""
    train, _, _ = train_and_new
    photo = train.head(1)
    blank = photo.with_columns(
        thumb=pl.lit(bytes([200] * 256)),
        colorfulness=pl.lit(0.0),
        chroma_rg=pl.lit(0.0),
        chroma_yb=pl.lit(0.0),
        content_hash=pl.lit("blank"),
    )

    def copies(frame: pl.DataFrame, tag: str) -> pl.DataFrame:
        return pl.concat([frame] * 300).with_columns(path=pl.format(tag + "/{}.jpg", pl.int_range(pl.len())))

    reference = pl.concat([copies(photo, "ref_photo"), copies(blank, "ref_blank")])
    new = pl.concat([copies(photo, "new_photo"), copies(blank, "new_blank")])
    found = DuplicateIndex(reference).query(new, max_matches=3)
    assert found.height == 600 and found["match_count"].unique().to_list() == [300]
    assert all(len(m) == 3 for m in found["match_paths"])
    photo_rows = found.filter(pl.col("path").str.starts_with("new_photo"))
    assert photo_rows["match_path"].str.starts_with("ref_photo").all()
    with pytest.raises(ValueError, match="over max_pairs=100,000"):
        DuplicateIndex(reference).query(new, max_pairs=100_000)


def test_index_searched_in_tiles_answers_as_in_one(train_and_new, monkeypatch: pytest.MonkeyPatch) -> None:
    """The window search runs tile by tile (a chunk of queries against a chunk of the index, the
    index's hashes made once): tiles of 7 pictures give the answer of one tile, and a second
    query on the same index reuses its pictures and gives the same answer again."""
    train, new, _ = train_and_new
    whole = DuplicateIndex(train).query(new)
    monkeypatch.setattr(recipe_audit.dedup.thumbmatch, "TILE_SIZE", 7)
    index = DuplicateIndex(train)
    tiled = index.query(new)
    assert tiled.equals(whole) and tiled.height == 3
    assert len(index._pictures.chunks) > 5  # type: ignore[union-attr]
    assert index.query(new).equals(whole)
    # The whole training set under other names: every file finds its twin, tiles or not.
    twins = train.with_columns(path=pl.lit("/elsewhere") + pl.col("path"))
    found = index.query(twins)
    assert found["path"].to_list() == twins.filter(pl.col("status") == "ok").sort("path")["path"].to_list()
    assert (found["match_path"] == found["path"].str.strip_prefix("/elsewhere")).all()


@pytest.mark.parametrize("crops", [None, False])
def test_a_file_in_both_sets_is_not_its_own_copy(train_and_new, crops: bool | None) -> None:
    train, new, paths = train_and_new
    both = pl.concat([train, new], how="diagonal_relaxed")
    found = recipe_audit.find_duplicates(both, against=train, crops=crops)
    assert (found["path"] != found["match_path"]).all()
    assert not any(row["path"] in row["match_paths"] for row in found.iter_rows(named=True))
    # Listed: exactly the files the union's pairs link to another file of train.
    pairs = recipe_audit.duplicate_pairs(both, max_distance=None if crops is None else search_radius("phash", None))
    in_train = set(train["path"])
    expected = {a for a, b in zip(pairs["path_a"], pairs["path_b"]) if b in in_train}
    expected |= {b for a, b in zip(pairs["path_a"], pairs["path_b"]) if a in in_train}
    assert set(found["path"]) == expected and paths["exact"] in expected


def test_the_byte_identical_file_comes_first_whatever_the_ties(photos: list[Path], tmp_path: Path) -> None:
    """Twelve files with the same pixels but other bytes tie at distance 0; the one with the
    query's very bytes must still be the match (the nearest list is cut at max_matches)."""
    from PIL import PngImagePlugin

    (tmp_path / "ref").mkdir()
    (tmp_path / "new").mkdir()
    with Image.open(photos[0]) as im:
        picture = im.convert("RGB")
    picture.save(tmp_path / "new" / "query.png")
    shutil.copy(tmp_path / "new" / "query.png", tmp_path / "ref" / "zz_same_bytes.png")
    for n in range(12):
        info = PngImagePlugin.PngInfo()
        info.add_text("n", str(n))
        picture.save(tmp_path / "ref" / f"a{n:02d}.png", pnginfo=info)
    ref, new = recipe_audit.scan(tmp_path / "ref", progress=False), recipe_audit.scan(tmp_path / "new", progress=False)
    for options in ({"max_distance": 4}, {}):
        row = recipe_audit.find_duplicates(new, against=ref, max_matches=3, **options).row(0, named=True)
        assert row["kind"] == "exact" and row["match_path"].endswith("zz_same_bytes.png"), options
        assert row["match_count"] == 13 and len(row["match_paths"]) == 3


def test_rows_of_an_earlier_release_match_their_bytes_both_ways(train_and_new) -> None:
    train, new, paths = train_and_new
    source = paths["exact_source"]
    old = train.with_columns(thumb=pl.when(pl.col("path") == source).then(None).otherwise(pl.col("thumb")))
    found = DuplicateIndex(old).query(new)
    assert found.filter(pl.col("path") == paths["exact"])["match_path"].to_list() == [source]
    back = DuplicateIndex(new).query(old.filter(pl.col("path") == source))
    assert back["match_path"].to_list() == [paths["exact"]] and back["kind"].to_list() == ["exact"]


def test_columns_carried_from_a_manifest_do_not_replace_the_result(train_and_new) -> None:
    train, new, _ = train_and_new
    plain = DuplicateIndex(train).query(new)
    carried = new.with_columns(distance=pl.lit("99.5"), match_count=pl.lit(7), q=pl.lit(1))
    assert DuplicateIndex(train).query(carried).equals(plain)


def test_an_index_pickles_after_answering(train_and_new) -> None:
    import copy
    import pickle

    train, new, _ = train_and_new
    index = DuplicateIndex(train)
    expected = index.query(new, max_distance=10)
    index.query(new)
    for twin in (pickle.loads(pickle.dumps(index)), copy.deepcopy(index)):
        assert twin.query(new, max_distance=10).equals(expected)


def test_saving_replaces_the_file_whole(train_and_new, tmp_path: Path) -> None:
    train, _, _ = train_and_new
    target = tmp_path / "train.index.parquet"
    target.write_bytes(b"an earlier index")
    before = target.stat().st_ino
    DuplicateIndex(train).save(target)
    # A new file renamed over the old one: a reader holding the old file keeps reading it whole.
    assert target.stat().st_ino != before
    assert DuplicateIndex.load(target).files.equals(DuplicateIndex(train).files)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_loading_a_file_that_is_no_index_says_so(photos: list[Path]) -> None:
    with pytest.raises(ValueError, match="is not a recipe_audit index"):
        DuplicateIndex.load(photos[0])


def test_a_file_in_both_sets_is_exact_only_with_another_file_of_its_bytes(train_and_new) -> None:
    train, new, paths = train_and_new
    # The half-size copy and its source, each in both sets: near copies of each other, not exact.
    pair = [paths["resized"], paths["resized_source"]]
    both = pl.concat([train, new], how="diagonal_relaxed").filter(pl.col("path").is_in(pair))
    for options in ({}, {"max_distance": 10}):
        found = DuplicateIndex(both).query(both, **options)
        assert sorted(found["path"]) == sorted(pair) and set(found["kind"]) == {"near"}, options
        assert found["match_count"].to_list() == [1, 1]


def test_a_file_changed_since_it_was_indexed_keeps_its_count(train_and_new) -> None:
    """Its own path's row in the index holds other bytes now: not itself, and not within reach,
    so nothing is taken off the count of its real matches."""
    train, new, paths = train_and_new
    exact = new.filter(pl.col("path") == paths["exact"])
    unrelated = train.filter(~pl.col("path").is_in([paths["exact_source"]])).head(1)
    # The index knew the copy's path with an unrelated picture's content.
    indexed = pl.concat([train, unrelated.with_columns(path=pl.lit(paths["exact"]))])
    for options in ({}, {"max_distance": 10}):
        row = DuplicateIndex(indexed).query(exact, **options).row(0, named=True)
        assert row["match_path"] == paths["exact_source"] and row["match_count"] == 1, options


def test_an_index_without_mirror_hashes_still_answers(train_and_new) -> None:
    train, new, paths = train_and_new
    found = DuplicateIndex(train.drop("phash_mirror")).query(new)
    assert found.filter(pl.col("path") == paths["exact"])["match_path"].to_list() == [paths["exact_source"]]


def test_a_damaged_index_is_a_value_error(train_and_new, tmp_path: Path) -> None:
    train, _, _ = train_and_new
    target = tmp_path / "train.index.parquet"
    DuplicateIndex(train).save(target)
    data = bytearray(target.read_bytes())
    data[100:4000] = bytes(3900)  # the pages, not the footer
    target.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"damaged index|not a recipe_audit index"):
        DuplicateIndex.load(target)
