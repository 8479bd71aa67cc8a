"""The window rule's parts on real thumbnails: mirror hashes, confirmation, shapes, flat pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import recipe_audit
from recipe_audit.dedup import thumbmatch


def _shapes(*rows: list[float]) -> np.ndarray:
    """A `thumbmatch.shapes` array from each row's first values, the rest unknown (NaN)."""
    return np.array([[*row, *[np.nan] * (thumbmatch.SHAPE_COLUMNS - len(row))] for row in rows])


@pytest.fixture(scope="module")
def thumbs(photos: list[Path]) -> np.ndarray:
    files = recipe_audit.scan(photos[0].parent, progress=False).filter(pl.col("status") == "ok")
    return thumbmatch.thumbnails(files)


def test_mirror_hash_is_the_hash_of_the_mirrored_thumbnail(thumbs: np.ndarray) -> None:
    whole, _ = thumbmatch._window_hashes(thumbs)
    mirrored = thumbs.reshape(-1, 16, 16)[:, :, ::-1].reshape(len(thumbs), -1)
    of_mirror, _ = thumbmatch._window_hashes(np.ascontiguousarray(mirrored))
    assert np.array_equal(whole[:, 1], of_mirror[:, 0])


def test_relit_copies_match_and_distinct_photos_do_not(thumbs: np.ndarray) -> None:
    textured = thumbs[thumbs.std(axis=1) >= 8][:20]
    darker = np.clip(textured * 0.8 + 5, 0, 255).round()
    pairs = thumbmatch.matched_pairs(np.concatenate([textured, darker]))
    n = len(textured)
    assert set(zip(pairs["a"], pairs["b"])) == {(i, i + n) for i in range(n)}
    assert pairs["correlation"].min() > 0.99


def test_a_different_shape_needs_a_near_exact_match(thumbs: np.ndarray) -> None:
    """A look-alike (the same picture under noise, correlation between the two thresholds) matches at equal shapes
    and not when one is much wider; the exact picture squashed to another shape still matches."""
    rng = np.random.default_rng(0)
    picture = thumbs[np.argmax(thumbs.std(axis=1))]
    noisy = np.clip(picture + rng.normal(0, 0.25 * picture.std(), picture.shape), 0, 255).round()
    both = np.stack([picture, noisy])
    same_shape = thumbmatch.matched_pairs(both, _shapes([0.0, 500], [0.0, 500]))
    assert same_shape.height == 1
    correlation = same_shape["correlation"][0]
    assert thumbmatch.MIN_CORRELATION <= correlation < thumbmatch.MIN_RESHAPED_CORRELATION
    assert thumbmatch.matched_pairs(both, _shapes([0.0, 500], [0.4, 500])).is_empty()
    squashed = thumbmatch.matched_pairs(
        np.stack([picture, picture.copy()]),
        _shapes([0.0, 500], [0.4, 500]),
    )
    assert squashed.height == 1


def test_small_or_recoloured_pictures_need_more(thumbs: np.ndarray) -> None:
    """The same picture: a vivid and a muted version never match (a gray copy still does), and a
    small picture under noise no longer matches (only near-exact copies of small pictures do)."""
    rng = np.random.default_rng(1)
    picture = thumbs[np.argmax(thumbs.std(axis=1))]
    twice = np.stack([picture, picture.copy()])

    def shape(colour_a: float, colour_b: float, side: float = 500) -> np.ndarray:
        return _shapes([0.0, side, colour_a], [0.0, side, colour_b])

    assert thumbmatch.matched_pairs(twice, shape(40, 30)).height == 1
    assert thumbmatch.matched_pairs(twice, shape(40, 0.5)).height == 1, "a gray copy"
    assert thumbmatch.matched_pairs(twice, shape(40, 10)).is_empty()
    noisy = np.stack([picture, np.clip(picture + rng.normal(0, 0.25 * picture.std(), picture.shape), 0, 255).round()])
    assert thumbmatch.matched_pairs(noisy, shape(np.nan, np.nan)).height == 1
    assert thumbmatch.matched_pairs(noisy, shape(np.nan, np.nan, side=32)).is_empty()
    assert thumbmatch.matched_pairs(twice, shape(np.nan, np.nan, side=32)).height == 1


def test_flat_pictures_pair_by_level_only() -> None:
    levels = np.array([0, 4, 20, 255, 250], dtype=np.float32)
    flat = np.repeat(levels[:, None], 256, axis=1)
    pairs = thumbmatch.matched_pairs(flat)
    assert set(zip(pairs["a"], pairs["b"])) == {(0, 1), (3, 4)}
    across = thumbmatch.matched_pairs_across(flat[:2], flat[2:])
    assert across.is_empty()
    # Groups without shapes (hue unknown): by level alone, chained, every picture a row.
    assert thumbmatch.matched_groups(flat).tolist() == [0, 0, 2, 3, 3]
    assert thumbmatch.matched_groups(flat[:0]).tolist() == []
    assert set(zip(*thumbmatch.matched_pairs_across(flat[:1], flat).select("a", "b"))) == {(0, 0), (0, 1)}


def test_frames_of_one_gray_level_but_other_hues_are_not_duplicates(tmp_path: Path) -> None:
    """Red (200, 50, 50) and green (30, 130, 60) have nearly one luma (~104 and ~98): their gray
    thumbnails agree, the scan's chroma columns do not. Two red frames (PNG, JPEG) still match."""
    from PIL import Image

    for name, rgb in (("red", (200, 50, 50)), ("green", (30, 130, 60))):
        Image.new("RGB", (80, 60), rgb).save(tmp_path / f"{name}.png")
    Image.new("RGB", (80, 60), (200, 50, 50)).save(tmp_path / "red_again.jpg", quality=90)
    files = recipe_audit.scan(tmp_path, progress=False)
    rows = {Path(r["path"]).stem: r for r in files.iter_rows(named=True)}
    assert rows["red"]["chroma_rg"] > 100 and rows["green"]["chroma_rg"] < -50
    dups = recipe_audit.find_duplicates(files)
    assert sorted(Path(p).stem for p in dups["path"]) == ["red", "red_again"]
    # The same through an index (which keeps the colour columns), and a GIF, whose colour the scan
    # does not measure, is not taken for gray.
    Image.new("RGB", (80, 60), (104, 104, 104)).save(tmp_path / "gray.png")
    Image.new("RGB", (80, 60), (200, 50, 50)).save(tmp_path / "red.gif")
    files = recipe_audit.scan(tmp_path, progress=False)
    reference = files.filter(pl.col("path").str.ends_with("red.png"))
    found = recipe_audit.find_duplicates(files.filter(~pl.col("path").str.ends_with("red.png")), against=reference)
    assert [Path(p).stem for p in found["path"]] == ["red_again"]
    grouped = {Path(p).name for p in recipe_audit.find_duplicates(files)["path"]}
    assert "gray.png" not in grouped and "red.gif" not in grouped


def test_a_reencoded_frame_finds_its_original_across_a_hue_cell_edge(tmp_path: Path) -> None:
    """Solid frames of 60 random colours and their JPEG copies (q30-70, which move the mean colour
    by a level or two): every copy is found, through the pair listing, the groups and an index,
    also where the move crosses the edge of a hue cell."""
    from PIL import Image

    rng = np.random.default_rng(5)
    for i in range(60):
        frame = Image.new("RGB", (64, 48), tuple(int(v) for v in rng.integers(0, 256, 3)))
        frame.save(tmp_path / f"f{i:02d}_original.png")
        frame.save(tmp_path / f"f{i:02d}_copy.jpg", quality=int(rng.integers(30, 70)))
    files = recipe_audit.scan(tmp_path, progress=False)
    group = dict(zip(*recipe_audit.find_duplicates(files).select("path", "group")))
    stem = {Path(p).stem: p for p in files["path"]}
    assert all(
        group.get(stem[f"f{i:02d}_original"]) == group.get(stem[f"f{i:02d}_copy"]) is not None for i in range(60)
    )
    pairs = set(zip(*recipe_audit.duplicate_pairs(files).select("path_a", "path_b")))
    assert all(tuple(sorted((stem[f"f{i:02d}_original"], stem[f"f{i:02d}_copy"]))) in pairs for i in range(60))
    copies = files.filter(pl.col("path").str.ends_with(".jpg"))
    found = recipe_audit.find_duplicates(copies, against=files.filter(pl.col("path").str.ends_with(".png")))
    assert found["path"].n_unique() == 60
    # Two hues either side of a cell edge (0.1 level apart) share a cell of an offset grid.
    flat = np.full((2, 256), 120.0, np.float32)
    edge = thumbmatch.FLAT_HUE_STEP / 2
    shape = _shapes([0.0, 48, 10.0, edge - 0.05, 0.0], [0.0, 48, 10.0, edge + 0.05, 0.0])
    assert thumbmatch.matched_pairs(flat, shape).height == 1


def test_a_burst_of_reencodes_is_searched_as_one_picture(photos: list[Path], tmp_path: Path) -> None:
    """150 JPEG re-encodes of one photo at slightly different brightness (a burst, a video's still
    frames) are found as one group through their leader, with the same groups as the pairs."""
    from PIL import Image, ImageEnhance

    rng = np.random.default_rng(3)
    with Image.open(photos[0]) as original:
        base = original.convert("RGB")
    for i in range(150):
        frame = ImageEnhance.Brightness(base).enhance(1 + rng.uniform(-0.03, 0.03))
        frame.save(tmp_path / f"burst_{i:03d}.jpg", quality=int(rng.integers(70, 96)))
    for other in photos[1:6]:
        Image.open(other).convert("RGB").save(tmp_path / f"other_{other.stem}.jpg")
    files = recipe_audit.scan(tmp_path, progress=False)
    thumbs = thumbmatch.thumbnails(files)
    distinct, _, first = thumbmatch.distinct_pictures(thumbs)
    assert len(distinct) > 100  # re-encodes: near-identical, not identical thumbnails
    shape = thumbmatch.shapes(files)[first]
    leaders = thumbmatch.near_identical_leaders(distinct, shape)
    assert len(np.unique(leaders)) < 15  # the burst collapses to its few whole hashes, plus the others

    groups = recipe_audit.find_duplicates(files)
    burst = groups.filter(pl.col("path").str.contains("burst_"))
    assert burst.height == 150 and burst["group"].n_unique() == 1
    assert not groups.filter(pl.col("path").str.contains("other_"))["group"].is_in(burst["group"].implode()).any()
    pairs = recipe_audit.duplicate_pairs(files)
    assert pairs.height >= 150 * 149 // 2  # every burst pair is a pair of the rule


def test_a_noisy_burst_chains_to_one_leader(photos: list[Path], tmp_path: Path) -> None:
    """Noise flips a few bits of each frame's whole hash: 120 noisy re-encodes of one photo held
    dozens of hashes, each a leader searched against the others (3,000 such frames took 4 GB).
    Within `NEAR_HASH_BITS` they chain to a leader or two, and the groups are those of the pairs."""
    from PIL import Image

    rng = np.random.default_rng(11)
    with Image.open(photos[2]) as original:
        base = np.asarray(original.convert("RGB").resize((96, 96), Image.Resampling.LANCZOS), dtype=np.float64)
    base = 128 + 0.5 * (base - 128)  # a dull frame: noise moves more of its hash bits
    for i in range(120):
        frame = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(frame).save(tmp_path / f"noisy_{i:03d}.png")
    files = recipe_audit.scan(tmp_path, progress=False)
    thumbs, shape = thumbmatch.thumbnails(files), thumbmatch.shapes(files)
    whole, _ = thumbmatch._window_hashes(thumbs)
    assert len(np.unique(whole[:, 0])) >= 8  # the noise moved the hashes
    leaders = thumbmatch.near_identical_leaders(thumbs, shape)
    assert (leaders == np.arange(len(thumbs))).sum() <= 3
    assert (thumbs[leaders].std(axis=1) > 0).all()
    groups = thumbmatch.matched_groups(thumbs, shape)
    pairs = thumbmatch.matched_pairs(thumbs, shape)
    components = recipe_audit._core.hamming_components(
        len(thumbs), pairs["a"].to_numpy().astype(np.uint32), pairs["b"].to_numpy().astype(np.uint32)
    )
    assert np.array_equal(groups, components) and len(set(groups)) == 1


def test_copies_of_one_file_are_paired_without_a_search(photos: list[Path], tmp_path: Path) -> None:
    """Rows of one picture are paired with each other directly (2,000 copies of one file took
    4 GB through the search) and the rest as the search pairs them."""
    import shutil

    for i in range(60):
        shutil.copy(photos[0], tmp_path / f"copy_{i:02d}{photos[0].suffix}")
    for other in photos[1:12]:
        shutil.copy(other, tmp_path / other.name)
    files = recipe_audit.scan(tmp_path, progress=False)
    thumbs, shape, signs = thumbmatch.thumbnails(files), thumbmatch.shapes(files), thumbmatch.sign_maps(files)
    by_rows = thumbmatch.matched_row_pairs(thumbs, shape, signs=signs)
    searched = thumbmatch.matched_pairs(thumbs, shape, signs=signs)
    assert by_rows.select("a", "b").equals(searched.select("a", "b"))
    copies = files["path"].str.contains("copy_").to_numpy()
    among = by_rows.filter(pl.Series(copies[by_rows["a"].to_numpy()] & copies[by_rows["b"].to_numpy()]))
    assert among.height == 60 * 59 // 2 and set(among["correlation"]) == {1.0}
    pairs = recipe_audit.duplicate_pairs(files)
    assert pairs.filter(pl.col("path_a").str.contains("copy_") & pl.col("path_b").str.contains("copy_"))[
        "distance"
    ].to_list() == [0] * (60 * 59 // 2)


def test_a_follower_keeps_the_links_its_leader_lacks() -> None:
    """Window hashes are not transitive: a picture can be a candidate of a near-identical follower
    and not of its leader. The groups still equal the connected components of the pairs (a
    constructed case: a smooth texture, the same under noise, and a detailed variant)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(1277)  # the first seed where the old search split the group

    def smooth(sigma: float) -> np.ndarray:
        return np.asarray(gaussian_filter(rng.normal(size=(16, 16)), sigma).ravel())

    base = smooth(1.5)
    leader = np.clip(128 + 60 * base / base.std(), 0, 255)
    follower = np.clip(leader + rng.normal(size=256) * 2.0, 0, 255)
    detail = smooth(1.2)
    other = np.clip(follower + rng.uniform(20, 60) * detail / detail.std(), 0, 255)
    thumbs, shape = (
        np.stack([leader, follower, other]).astype(np.float32),
        np.full((3, thumbmatch.SHAPE_COLUMNS), np.nan),
    )
    assert thumbmatch.near_identical_leaders(thumbs, shape).tolist() == [0, 0, 2]
    pairs = set(zip(*thumbmatch.matched_pairs(thumbs, shape).select("a", "b")))
    assert pairs == {(0, 1), (1, 2)}
    assert thumbmatch.matched_groups(thumbs, shape).tolist() == [0, 0, 0]


def test_turned_copies_of_wide_photos_are_found(photos: list[Path], tmp_path: Path) -> None:
    """Copies turned by 5 degrees (corners cropped 6% per side) of photos 1.4-2 times wider than
    tall: the turned windows turn in pixels, not in the squashed thumbnail (where they were
    sheared, and 2 of these 20 went unfound)."""
    from PIL import Image

    made = []
    for i, path in enumerate(photos):
        with Image.open(path) as original:
            picture = original.convert("RGB")
        if not 1.4 <= max(picture.size) / min(picture.size) <= 2.0 or min(picture.size) < 120:
            continue
        picture.save(tmp_path / f"p{i}_original.png")
        turned = picture.rotate(5.0, resample=Image.Resampling.BICUBIC)
        dx, dy = int(picture.width * 0.06), int(picture.height * 0.06)
        turned.crop((dx, dy, picture.width - dx, picture.height - dy)).save(tmp_path / f"p{i}_turned.png")
        made.append(i)
    assert len(made) >= 15
    files = recipe_audit.scan(tmp_path, progress=False)
    group = dict(zip(*recipe_audit.find_duplicates(files).select("path", "group")))
    found = [
        group.get(str(tmp_path / f"p{i}_original.png")) == group.get(str(tmp_path / f"p{i}_turned.png")) is not None
        for i in made
    ]
    assert all(found), f"{sum(found)} of {len(found)} turned copies found"


def test_a_gray_picture_needs_more_to_match_a_coloured_one() -> None:
    """A candidate at a correlation between MIN_CORRELATION and MIN_GRAY_COLOR_CORRELATION stands
    when both pictures are gray or both coloured, not for a gray one against a coloured one (the
    colour check cannot judge that pair; most links between unrelated photos were of it)."""
    correlation = (thumbmatch.MIN_CORRELATION + thumbmatch.MIN_GRAY_COLOR_CORRELATION) / 2
    candidates = pl.DataFrame(
        {
            "a": [0],
            "b": [0],
            "correlation": [correlation],
            "mirrored": [False],
            "window": [0],
            "agreement": [np.nan],
            "chance": [np.nan],
        }
    )

    def stands(colour_a: float, colour_b: float) -> bool:
        mine, theirs = _shapes([0.0, 500, colour_a, 0, 0]), _shapes([0.0, 500, colour_b, 0, 0])
        return thumbmatch._confirmed(candidates, thumbmatch.MIN_CORRELATION, mine, theirs).height == 1

    assert stands(0.0, 0.0) and stands(20.0, 25.0) and stands(np.nan, 20.0)
    assert not stands(0.0, 20.0) and not stands(20.0, 1.0)


def test_a_window_match_needs_its_finer_layout_to_agree() -> None:
    """Through a window, the band-pass signs must agree on MIN_SIGN_AGREEMENT of the points, however
    high the correlation; a whole-picture match, or a side without signs (an older scan), is not
    checked."""
    shape = _shapes([0.0, 500, 20.0, 0, 0], [0.0, 500, 20.0, 0, 0])
    low, high = thumbmatch.MIN_SIGN_AGREEMENT - 0.1, thumbmatch.MIN_SIGN_AGREEMENT + 0.01

    def stands(window: int, correlation: float, agreement: float, chance: float = 0.5) -> bool:
        candidates = pl.DataFrame(
            {
                "a": [0],
                "b": [1],
                "correlation": [correlation],
                "mirrored": [False],
                "window": [window],
                "agreement": [agreement],
                "chance": [np.nan if np.isnan(agreement) else chance],
            }
        )
        return thumbmatch._confirmed(candidates, thumbmatch.MIN_CORRELATION, shape, shape).height == 1

    assert not stands(5, 0.7, low) and not stands(5, 0.97, low)
    assert stands(5, 0.7, high)
    assert stands(0, 0.7, low), "a whole-picture match"
    assert stands(5, 0.7, np.nan), "no signs to compare"
    # Two maps 20% positive agree on 0.68 by chance: the bar rises to 0.78, never falls below the floor.
    assert not stands(5, 0.9, 0.72, chance=0.68) and stands(5, 0.9, 0.8, chance=0.68)
    assert not stands(5, 0.9, low, chance=0.3)


def test_two_pictures_on_a_dark_sky_need_their_signs_further_beyond_chance() -> None:
    """Different galaxies on black agree on their signs well beyond chance where their blobs
    overlap: between two pictures mostly near-black (``dark_frac``), a window match needs
    DARK_SKY_SIGN_BEYOND_CHANCE; one everyday side, or an unknown share, keeps the usual bar."""
    chance = 0.68
    between = chance + (1 - chance) * (thumbmatch.SIGN_BEYOND_CHANCE + thumbmatch.DARK_SKY_SIGN_BEYOND_CHANCE) / 2

    def stands(dark_a: float, dark_b: float, agreement: float) -> bool:
        row = [0.0, 500, 20.0, 0, 0, 5.0, *[np.nan] * 4]
        shape = _shapes([*row, dark_a], [*row, dark_b])
        candidates = pl.DataFrame(
            {"a": [0], "b": [1], "correlation": [0.9], "mirrored": [False], "window": [5]}
            | {"agreement": [agreement], "chance": [chance]}
        )
        return thumbmatch._confirmed(candidates, thumbmatch.MIN_CORRELATION, shape, shape).height == 1

    sky = thumbmatch.DARK_SKY_SHARE
    assert not stands(sky, sky + 0.5, between)
    assert stands(sky, sky + 0.5, 0.99)
    assert stands(sky - 0.01, sky + 0.5, between) and stands(np.nan, sky + 0.5, between)


def _scored(
    mine_thumb: np.ndarray,
    theirs_thumb: np.ndarray,
    window: int,
    *,
    mirrored: bool = False,
    band: int = 0,
    signs: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[float, float, float]:
    """(correlation, agreement, chance) of one candidate: mine whole against theirs' window."""
    candidates = pl.DataFrame({"query": [0], "mirrored": [mirrored], "other": [0], "window": [window]})
    scored = thumbmatch._with_correlations(
        candidates, mine_thumb[None].astype(np.float32), theirs_thumb[None].astype(np.float32), np.array([band]), signs
    )
    return scored["correlation"][0], scored["agreement"][0], scored["chance"][0]


def test_window_scores_are_the_dense_correlation_of_the_sampled_window() -> None:
    """The kernel's correlation equals the plain computation: sample the window (bilinear, turned
    in the picture's aspect band), take its 2-D DCT, weigh, and correlate with the query's."""
    rng = np.random.default_rng(5)
    c = thumbmatch._dct_matrix(16)
    dct2 = np.kron(c, c)
    for window, band, mirrored in [(0, 0, False), (7, 0, True), (30, 3, False), (50, 0, False), (53, -4, True)]:
        mine, theirs = rng.uniform(0, 255, (2, 256))
        x, y, degrees = thumbmatch.WINDOWS[window]
        aspect = float(np.exp(band * thumbmatch.ASPECT_STEP)) if window >= thumbmatch._ALIGNED else 1.0
        theirs_coefficients = dct2 @ (thumbmatch._sampling(x, y, degrees, aspect) @ theirs)
        mine_coefficients = dct2 @ mine * (thumbmatch._MIRROR_SIGN if mirrored else 1.0)
        expected = float(
            np.dot(thumbmatch._unit_ac(mine_coefficients[None])[0], thumbmatch._unit_ac(theirs_coefficients[None])[0])
        )
        correlation, agreement, _ = _scored(mine, theirs, window, mirrored=mirrored, band=band)
        assert abs(correlation - expected) < 1e-4, (window, band, correlation, expected)
        assert np.isnan(agreement), "no signs given"
    # A picture seen through one of its own windows correlates with it at 1 (the window is the
    # picture the query shows).
    picture = rng.uniform(0, 255, 256)
    seen = thumbmatch._sampling(*thumbmatch.WINDOWS[12]) @ picture
    assert _scored(seen, picture, 12)[0] > 0.999


def test_sign_agreement_reads_the_other_picture_at_the_matched_window() -> None:
    """A query's signs against a window of the other's: all agree when the other is the query
    seen through that window, about half for unrelated signs; a mirror match flips the query."""
    rng = np.random.default_rng(3)
    thumb = rng.uniform(0, 255, 256)
    other = rng.integers(0, 2, 256, dtype=np.uint8)
    window = 1  # the left 94% of the width, the whole height
    query = other[thumbmatch._sign_points(window, 0)]  # the other seen through the window

    def agreement(mine: np.ndarray, theirs: np.ndarray, window: int, mirrored: bool = False) -> tuple[float, float]:
        _, agree, chance = _scored(thumb, thumb, window, mirrored=mirrored, signs=(mine[None], theirs[None]))
        return agree, chance

    assert agreement(query, other, window)[0] == 1.0
    assert agreement(query[thumbmatch._MIRROR_CELLS], other, window, mirrored=True)[0] == 1.0
    unrelated, chance = agreement(query, rng.integers(0, 2, 256, dtype=np.uint8), window)
    assert 0.3 < unrelated < 0.7 and 0.45 < chance < 0.55
    # Sparse maps (a black sky signs negative): unrelated ones agree by chance, and chance says so.
    sparse = (rng.random((2, 256)) < 0.15).astype(np.uint8)
    agree, chance = agreement(sparse[0], sparse[1], 0)
    assert agree > thumbmatch.MIN_SIGN_AGREEMENT and abs(agree - chance) < 0.1
    unknown = np.full(256, thumbmatch.UNKNOWN_SIGNS, np.uint8)
    assert all(np.isnan(v) for v in agreement(query, unknown, window))
    assert all(np.isnan(v) for v in agreement(unknown, other, window))


def test_window_kernels_refuse_rows_out_of_range() -> None:
    """A candidate naming a row the arrays do not hold is a clear error, not a crash."""
    candidates = pl.DataFrame({"query": [0], "mirrored": [False], "other": [3], "window": [0]})
    thumbs = np.zeros((2, 256), np.float32)
    with pytest.raises(ValueError, match="other 3 is out of range"):
        thumbmatch._with_correlations(candidates, thumbs, thumbs)


def _structured() -> np.ndarray:
    """A gradient, stripes and a mirror-symmetric picture: many coefficients exactly 0 or equal."""
    ramp = np.tile(np.linspace(0, 255, 16), (16, 1))
    stripes = np.tile((np.arange(16) % 2) * 200.0, (16, 1)).T
    symmetric = np.tile(np.abs(np.arange(16) - 7.5) * 20, (16, 1))
    return np.stack([ramp, stripes, symmetric]).reshape(3, 256).astype(np.float32)


def test_window_hashes_do_not_depend_on_the_rest_of_the_batch(thumbs: np.ndarray) -> None:
    structured = _structured()
    # Each picture alone (a one-row query, a matrix-vector product) and amid others.
    alone = [thumbmatch._window_hashes(row[None], np.array([band])) for row, band in zip(structured, (0, 1, -1))]
    alone_whole = np.concatenate([whole for whole, _ in alone])
    alone_index = np.concatenate([index for _, index in alone])
    rng = np.random.default_rng(0)
    for others in (thumbs[:2], thumbs[:40], rng.uniform(0, 255, (300, 256)).astype(np.float32)):
        for position in (0, len(others) // 2, len(others)):
            batch = np.insert(others, position, structured, axis=0)
            bands = np.zeros(len(batch), np.int64)
            bands[position : position + 3] = (0, 1, -1)
            whole, index = thumbmatch._window_hashes(batch, bands)
            rows = slice(position, position + 3)
            assert np.array_equal(whole[rows], alone_whole) and np.array_equal(index[rows], alone_index)


def test_an_exact_copy_of_a_gradient_is_found_among_others(thumbs: np.ndarray) -> None:
    structured = _structured()
    batch = np.concatenate([thumbs[:20], structured, thumbs[20:41], structured])
    pairs = thumbmatch.matched_pairs(batch)
    found = set(zip(pairs["a"].to_list(), pairs["b"].to_list()))
    first, second = 20, 20 + 3 + len(thumbs[20:41])
    assert {(first + i, second + i) for i in range(3)} <= found


def test_flat_pictures_with_detail_group_as_their_pairs_do(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flat pictures with detail link by pHash, searched a chunk at a time: the groups (a spanning
    forest kept as the search goes) are the components of the listed pairs, a family of 300
    near-identical ones (distinct pHashes) is one group, and pictures at another level or with
    far pHashes stay apart."""
    monkeypatch.setattr(thumbmatch, "DETAIL_CHUNK", 64)
    rng = np.random.default_rng(5)
    base = np.uint64(0x8A5F00FF12345678)
    mirror = np.uint64(0x0F0F_3C3C_A5A5_5A5A)  # a picture's mirror hash: its hash with these bits flipped
    family = base ^ (np.uint64(1) << rng.integers(0, 64, 300).astype(np.uint64))

    def far(value: np.uint64) -> bool:  # from the family, either way round
        return min(bin(int(value ^ base)).count("1"), bin(int(value ^ mirror ^ base)).count("1")) > 26

    strangers: list[np.uint64] = []
    while len(strangers) < 40:
        value = rng.integers(0, 2**63, dtype=np.uint64) << np.uint64(1) | np.uint64(rng.integers(0, 2))
        if far(value):
            strangers.append(value)
    hashes = np.concatenate([family, family[:20], np.array(strangers, np.uint64)])
    n = len(hashes)
    levels = np.r_[np.full(300, 3.0), np.full(20, 60.0), np.full(40, 3.0)]
    thumbs = np.repeat(levels[:, None], 256, axis=1).astype(np.float32)
    shape = np.full((n, thumbmatch.SHAPE_COLUMNS), np.nan)
    shape[:, :6] = [0.3, 300, 0.0, 0.0, 0.0, 3.0]
    for column, value in ((6, hashes), (8, hashes ^ mirror)):
        shape[:, column] = (value >> np.uint64(32)).astype(np.float64)
        shape[:, column + 1] = (value & np.uint64(0xFFFFFFFF)).astype(np.float64)
    groups = thumbmatch.matched_groups(thumbs, shape)
    pairs = thumbmatch.matched_pairs(thumbs, shape)
    components = recipe_audit._core.hamming_components(
        n, pairs["a"].to_numpy().astype(np.uint32), pairs["b"].to_numpy().astype(np.uint32)
    )
    assert np.array_equal(groups, components)
    # Sign maps are compared a batch of pairs at a time: the same pairs for any batch.
    signs = (np.random.default_rng(2).random((n, 256)) < 0.5).astype(np.uint8)
    signs[300:320] = signs[:20]
    whole = thumbmatch.matched_pairs(thumbs, shape, signs=signs)
    monkeypatch.setattr(thumbmatch, "SIGN_BATCH", 37)
    assert thumbmatch.matched_pairs(thumbs, shape, signs=signs).equals(whole)
    assert len(set(groups[:300])) == 1 and len(set(groups[300:320])) == 1 and groups[300] != groups[0]
    assert not set(groups[320:]) & set(groups[:320])
    with pytest.raises(thumbmatch.TooManyPairs):
        thumbmatch.matched_pairs(thumbs, shape, max_pairs=1000)
    with pytest.raises(ValueError, match="shapes must be"):
        thumbmatch.matched_groups(thumbs, shape[:, :5])


def test_groups_are_the_same_for_any_tile_size(thumbs: np.ndarray) -> None:
    """The search runs in tiles (leaders against leaders, followers against leaders): tiles of a
    few pictures give the groups of one tile, with near-identical followers, crops and plain
    frames among them."""
    rng = np.random.default_rng(9)
    textured = thumbs[thumbs.std(axis=1) >= 8][:30]
    # Re-encodes (near-identical: followers), off-centre crops of some, two plain frames.
    noisy = np.clip(textured[:10] + rng.normal(0, 0.4, (10, 256)), 0, 255).astype(np.float32)
    crops = np.stack([thumbmatch._sampling(*thumbmatch.WINDOWS[8]) @ t for t in textured[10:20]]).astype(np.float32)
    plain = np.full((2, 256), 120.0, np.float32)
    batch = np.concatenate([textured, noisy, crops, plain])
    leaders = thumbmatch.near_identical_leaders(batch[:-2], np.full((len(batch) - 2, thumbmatch.SHAPE_COLUMNS), np.nan))
    assert (leaders != np.arange(len(batch) - 2)).sum() >= 5, "the re-encodes follow their originals"
    one_tile = thumbmatch.matched_groups(batch)
    assert len(np.unique(one_tile)) < len(batch) - 20, "copies, crops and plain frames are grouped"
    for size in (1, 4, 13):
        assert np.array_equal(thumbmatch.matched_groups(batch, chunk_size=size), one_tile), size


def test_window_scores_do_not_depend_on_the_rest_of_the_batch(thumbs: np.ndarray) -> None:
    """A candidate's scores are the same alone and among thousands of other rows: tiles of any
    size give the same correlations, so a ranking by them (an index's `match_paths`) too."""
    rng = np.random.default_rng(2)
    others = rng.uniform(0, 255, (3000, 256)).astype(np.float32)
    batch = np.concatenate([thumbs[:2], others])
    pair = pl.DataFrame({"query": [0], "mirrored": [True], "other": [1], "window": [9]})
    alone = thumbmatch._with_correlations(pair, thumbs[:2], thumbs[:2])["correlation"][0]
    many = pl.DataFrame(
        {
            "query": np.r_[0, rng.integers(0, len(batch), 999)],
            "mirrored": np.r_[True, rng.random(999) < 0.5],
            "other": np.r_[1, rng.integers(0, len(batch), 999)],
            "window": np.r_[9, rng.integers(0, len(thumbmatch.WINDOWS), 999)],
        }
    )
    among = thumbmatch._with_correlations(many, batch, batch)["correlation"][0]
    assert alone == among
