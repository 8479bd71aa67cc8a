"""Outlier flags on real photographs: ordinary photos and their traps stay clean, planted faults fire."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image, ImageEnhance, ImageFilter

import recipe_audit
from recipe_audit import examples
from recipe_audit.analysis.outliers import FLAGS, OutlierThresholds, flag_counts

# Everyday colour subjects, and gray ones stored as RGB (a colour dataset with a few gray photos:
# those are rightly `grayscale`, and nothing else). hubble_deep_field (near-black sky), clock
# (motion-blurred on purpose) and cell (soft microscopy) are left out. The held-out evaluation on
# many more sources is benches/studies/outlier_heldout.py.
ORDINARY = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "china",
    "flower",
    "motorcycle",
    "immunohistochemistry",
    "retina",
)
GRAY_ORDINARY = ("coins", "camera", "page", "brick", "grass")
PLANTED = {
    "blurred": "blurry",
    "dark": "dark",
    "bright": "bright",
    "gained": "bright",
    "blank": "low_information",
    "tiny": "odd_size",
    "strip": "odd_aspect",
    "gray": "grayscale",
    "grayrgb": "grayscale",
}


def _save(im: Image.Image, path: Path, quality: int = 90) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    path.write_bytes(buf.getvalue())


def _crop(rng: np.random.Generator, arr: np.ndarray) -> Image.Image:
    return examples._to_image(arr, examples._crop(rng, arr, 0.3, 0.9), int(rng.integers(200, 801)), gray=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ordinary/<source>/ crops, traps/ (sky strips, full-size photos), planted/<fault>/."""
    root = tmp_path_factory.mktemp("outliers")
    rng = np.random.default_rng(3)
    sources = dict(examples.photo_sources())
    for name in ORDINARY:
        for i in range(8):
            _save(_crop(rng, sources[name]), root / "ordinary" / name / f"{i}.jpg", int(rng.integers(75, 96)))
    for name in GRAY_ORDINARY:
        _save(_crop(rng, sources[name]), root / "grayordinary" / f"{name}.jpg", int(rng.integers(75, 96)))
    for name, top in (("rocket", 0.35), ("china", 0.2)):  # flat skies with a few sharp edges
        arr = sources[name]
        h, w = arr.shape[:2]
        for i in range(3):
            x0 = int(rng.integers(0, w // 3))
            _save(
                Image.fromarray(arr[: int(h * top), x0 : x0 + w // 2]).convert("RGB"),
                root / "traps" / f"sky_{name}_{i}.jpg",
            )
    for name in ("retina", "motorcycle", "astronaut", "china"):  # large, sharp photos
        _save(Image.fromarray(sources[name]).convert("RGB"), root / "traps" / f"large_{name}.jpg", 92)
    # Fluorescence as a microscope stores it: bright objects in the blue channel alone, on black.
    # Luma weighs blue at 0.11, so the brightest speck measures about 29: vivid, not dark.
    coins = np.asarray(sources["coins"], dtype=np.float64)  # gray, (h, w)
    low, high = np.percentile(coins, [60, 99.5])
    glow = np.clip((coins - low) * 255 / (high - low), 0, 255).astype(np.uint8)
    blue = np.zeros((*glow.shape, 3), np.uint8)
    blue[..., 2] = glow
    own = np.random.default_rng(31)  # the planted faults below keep their draws
    for i in range(3):
        _save(_crop(own, blue), root / "traps" / f"fluorescence_{i}.jpg")
    # Faint: luma varies by about 3 levels (a blank frame's), the colour by far more.
    faint = (blue.astype(np.float64) * 0.3).astype(np.uint8)
    _save(_crop(own, faint), root / "traps" / "fluorescence_faint.jpg")
    pick = [sources[n] for n in ORDINARY]
    # A brightness gain clips most of the photo to white but leaves its deepest shadows gray.
    for i, (name, gain) in enumerate((("chelsea", 4.0), ("motorcycle", 8.0), ("rocket", 8.0))):
        whole = Image.fromarray(sources[name]).convert("RGB")
        whole.thumbnail((600, 600))
        _save(ImageEnhance.Brightness(whole).enhance(gain), root / "planted" / "gained" / f"{i}.jpg")
    for i in range(3):
        im = _crop(rng, pick[i])
        _save(im.filter(ImageFilter.GaussianBlur(max(im.size) * 0.03)), root / "planted" / "blurred" / f"{i}.jpg")
        _save(Image.eval(_crop(rng, pick[i + 3]), lambda v: int(v * 0.12)), root / "planted" / "dark" / f"{i}.jpg")
        _save(
            Image.eval(_crop(rng, pick[i + 6]), lambda v: 255 - int((255 - v) * 0.1)),
            root / "planted" / "bright" / f"{i}.jpg",
        )
        _save(
            Image.new("RGB", (300 + 50 * i, 250), (40 + 80 * i, 90, 200 - 60 * i)),
            root / "planted" / "blank" / f"{i}.jpg",
            75,
        )
        tiny = _crop(rng, pick[i + 1])
        tiny.thumbnail((32, 32))
        _save(tiny, root / "planted" / "tiny" / f"{i}.jpg")
        arr = pick[i + 4]
        h, w = arr.shape[:2]
        _save(Image.fromarray(arr[h // 2 : h // 2 + w // 7]).convert("RGB"), root / "planted" / "strip" / f"{i}.jpg")
        _save(_crop(rng, pick[i + 2]).convert("L"), root / "planted" / "gray" / f"{i}.jpg")
        _save(_crop(rng, pick[i + 5]).convert("L").convert("RGB"), root / "planted" / "grayrgb" / f"{i}.jpg")
    return root


@pytest.fixture(scope="module")
def scored(corpus: Path) -> pl.DataFrame:
    files = recipe_audit.scan(corpus, progress=False)
    return recipe_audit.find_outliers(files).with_columns(
        kind=pl.col("path")
        .str.strip_prefix(str(corpus) + "/")
        .str.extract(r"^(ordinary|grayordinary|traps|planted/[a-z]+)")
    )


def test_ordinary_photos_and_traps_raise_no_flag(scored: pl.DataFrame) -> None:
    clean = scored.filter(pl.col("kind").is_in(["ordinary", "traps"]))
    assert clean.height == len(ORDINARY) * 8 + 14
    fired = clean.filter(pl.col("flags").list.len() > 0).select("path", "flags")
    assert fired.height == 0, fired.rows()
    gray = scored.filter(pl.col("kind") == "grayordinary")
    assert gray.height == len(GRAY_ORDINARY)
    assert gray["flags"].to_list() == [["grayscale"]] * len(GRAY_ORDINARY), gray.select(
        "path", "flags", "colorfulness"
    ).rows()


def test_each_planted_fault_raises_its_flag(scored: pl.DataFrame) -> None:
    for folder, flag in PLANTED.items():
        planted = scored.filter(pl.col("kind") == f"planted/{folder}")
        assert planted.height == 3
        assert planted[flag].all(), (
            folder,
            planted.select("path", "flags", "luma_p99", "luma_p01", "sharpness", "colorfulness").rows(),
        )
    # The gained photos keep gray shadows: their darkest 1% alone would not call them bright.
    gained = scored.filter(pl.col("kind") == "planted/gained")
    assert (gained["luma_p01"] < OutlierThresholds().bright_p01).all(), gained.select("path", "luma_p01", "mean").rows()
    # Each flag fires only where a fault was planted, except that a blank frame also has no
    # sharpness to speak of, which is not reported as blur (blurry needs contrast).
    for flag in FLAGS:
        where = set(scored.filter(pl.col(flag))["kind"].unique())
        assert where <= {f"planted/{k}" for k, f in PLANTED.items() if f == flag} | {
            "planted/bright",
            "planted/gained",
            "planted/dark",
            "grayordinary",
        }, (flag, where)
    assert flag_counts(scored)["count"].sum() == scored["flags"].list.len().sum()


def test_scores_rank_faults_first(scored: pl.DataFrame) -> None:
    assert scored["score"].is_sorted(descending=True)
    planted = scored.filter(
        pl.col("kind").str.starts_with("planted/") & ~pl.col("kind").str.starts_with("planted/gray")
    )
    ordinary = scored.filter(pl.col("kind") == "ordinary")
    assert planted["score"].median() > 2 * ordinary["score"].median()
    z = [c for c in scored.columns if c.startswith("z_")]
    assert z == [f"z_{m}" for m in ("brightness", "contrast", "sharpness", "colorfulness", "entropy", "size", "aspect")]
    # Every flag column agrees with the flags list.
    for flag in FLAGS:
        assert scored.filter(pl.col(flag) != pl.col("flags").list.contains(flag)).height == 0


def test_within_class_scores(tmp_path: Path) -> None:
    """A normal photo is ordinary overall but odd inside a class of night-sky images."""
    rng = np.random.default_rng(8)
    sources = dict(examples.photo_sources())
    for i in range(10):
        _save(_crop(rng, sources["hubble_deep_field"]), tmp_path / "space" / f"{i}.jpg")
        _save(_crop(rng, sources["chelsea"]), tmp_path / "cat" / f"{i}.jpg")
        _save(_crop(rng, sources["coffee"]), tmp_path / "cup" / f"{i}.jpg")
    _save(_crop(rng, sources["coffee"]), tmp_path / "space" / "misfiled.jpg")
    odd = recipe_audit.find_outliers(recipe_audit.scan(tmp_path, progress=False))
    row = odd.filter(pl.col("path").str.ends_with("misfiled.jpg")).row(0, named=True)
    assert row["zc_brightness"] > 3.5 and abs(row["z_brightness"]) < 2 < row["zc_brightness"]
    assert odd.filter(pl.col("label") == "space").sort("score", descending=True)["path"][0].endswith("misfiled.jpg")
    assert (
        recipe_audit.find_outliers(recipe_audit.scan(tmp_path, progress=False), by_class=False)[
            "zc_brightness"
        ].null_count()
        == odd.height
    )
    # Unlabelled images are not a class of their own: no within-class score.
    unlabelled = recipe_audit.find_outliers(
        recipe_audit.scan(tmp_path, progress=False).with_columns(
            label=pl.when(pl.col("label") == "cup").then(None).otherwise("label")
        )
    )
    assert unlabelled.filter(pl.col("label").is_null())["zc_brightness"].null_count() == 10
    assert unlabelled.filter(pl.col("label") == "cat")["zc_brightness"].null_count() == 0


def test_digits_and_icons_raise_nothing(tmp_path: Path) -> None:
    """300 sklearn digits (8x8 PNG): small and flat, yet ordinary among themselves."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, (img, target) in enumerate(zip(digits.images[:300], digits.target[:300])):
        (tmp_path / str(target)).mkdir(exist_ok=True)
        Image.fromarray((img * 255 / 16).astype(np.uint8)).save(tmp_path / str(target) / f"{i:03d}.png")
    odd = recipe_audit.find_outliers(recipe_audit.scan(tmp_path, progress=False))
    assert odd.height == 300
    assert odd.filter(pl.col("flags").list.len() > 0).height == 0


def test_thresholds_are_adjustable_and_small_sets_stay_quiet(scored: pl.DataFrame, corpus: Path) -> None:
    files = recipe_audit.scan(corpus, progress=False)
    assert recipe_audit.find_outliers(files, thresholds=OutlierThresholds(dark_p999=-1))["dark"].sum() == 0
    loose = recipe_audit.find_outliers(files, thresholds=OutlierThresholds(sharpness_max=0.5))
    assert loose["blurry"].sum() > scored["blurry"].sum()
    assert OutlierThresholds.from_strings(["sharpness_max=0.5", "min_count=3"]) == OutlierThresholds(
        sharpness_max=0.5, min_count=3
    )
    with pytest.raises(ValueError, match="dark_p999"):
        OutlierThresholds.from_strings(["dark_mean=3"])
    with pytest.raises(ValueError, match="not a number"):
        OutlierThresholds.from_strings(["dark_p999=dim"])
    nan_mean = recipe_audit.find_outliers(files.with_columns(mean=pl.lit(float("nan"))))
    assert nan_mean["bright"].sum() == 0  # unknown, not above every threshold
    for bad, says in (
        ("dark_p999=nan", "finite"),
        ("z=inf", "finite"),
        ("size_factor=0", "above 1"),
        ("aspect_factor=1", "above 1"),
        ("min_count=-1", "cannot be negative"),
    ):
        with pytest.raises(ValueError, match=says):
            OutlierThresholds.from_strings([bad])
    three = recipe_audit.find_outliers(
        files.filter(pl.col("path").str.contains("/planted/tiny/|/traps/large_")).head(3)
    )
    assert three["z_size"].null_count() == 3 and not three["odd_size"].any()
    with pytest.raises(TypeError, match="OutlierThresholds"):
        recipe_audit.find_outliers(files, thresholds={"dark_p999": 3})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scan columns"):
        recipe_audit.find_outliers(files.drop("sharpness"))


def test_broken_files_are_left_out(example_root: Path) -> None:
    files = recipe_audit.scan(example_root, progress=False)
    odd = recipe_audit.find_outliers(files)
    assert odd.height == files.filter(pl.col("status") == "ok").height
    assert odd.filter(pl.col("flags").list.len() > 0).height == 0  # the example's photos are ordinary


def test_unmeasured_colour_does_not_hide_a_gray_picture(tmp_path: Path) -> None:
    """GIFs have no colourfulness; they must not count as gray when the share of colour is taken."""
    rng = np.random.default_rng(4)
    sources = dict(examples.photo_sources())
    for i in range(10):
        _crop(rng, sources["coffee"]).save(tmp_path / f"colour_{i}.png")
    for i in range(4):
        _crop(rng, sources["chelsea"]).save(tmp_path / f"anim_{i}.gif")
    _crop(rng, sources["astronaut"]).convert("L").convert("RGB").save(tmp_path / "gray.png")
    odd = recipe_audit.find_outliers(recipe_audit.scan(tmp_path, progress=False))
    assert odd.filter(pl.col("grayscale"))["path"].to_list() == [str(tmp_path / "gray.png")]


def test_drawings_on_white_are_not_bright_among_themselves(tmp_path: Path) -> None:
    """A dataset of line drawings on white: nearly white is the medium there, not a fault (the
    mean leg of `bright` applies where the dataset's median is darker)."""
    rng = np.random.default_rng(4)
    for i in range(30):
        drawing = np.full((256, 256), 255, np.uint8)
        for _ in range(int(rng.integers(3, 7))):
            if rng.random() < 0.5:
                drawing[int(rng.integers(0, 254)) :][:2] = 0
            else:
                drawing[:, int(rng.integers(0, 254)) :][:, :2] = 0
        Image.fromarray(drawing).save(tmp_path / f"{i}.png")
    odd = recipe_audit.find_outliers(recipe_audit.scan(tmp_path, progress=False))
    # Most would be bright among photographs.
    assert (odd["mean"] >= OutlierThresholds().bright_mean).mean() >= 0.8
    assert not odd["bright"].any()


def test_sketches_of_photographs_are_not_bright_among_themselves(photos: list[Path], tmp_path: Path) -> None:
    """Ink traced along a photograph's edges on white paper: the white is ragged around the ink,
    as a gain clips a photograph, but among drawings white is the medium (the clipped-outline leg
    of `bright` has the mean leg's dataset condition)."""
    for i, path in enumerate(photos[:30]):
        with Image.open(path) as im:
            gray = np.asarray(im.convert("L").resize((256, 256)), dtype=np.float64)
        edges = np.hypot(*np.gradient(gray)) > 12
        Image.fromarray(np.where(edges, 30, 255).astype(np.uint8)).save(tmp_path / f"{i}.png")
    odd = recipe_audit.find_outliers(recipe_audit.scan(tmp_path, progress=False))
    t = OutlierThresholds()
    ragged = (odd["clip_edges"] >= t.bright_edges) & (odd["clip_edges_min"] >= t.bright_edges_min)
    assert ragged.mean() >= 0.5  # they would be bright among photographs
    assert (odd.filter(pl.col("bright"))["luma_p01"] >= t.bright_p01).all()  # the washed-out leg alone


def test_a_faint_gradient_is_low_information(tmp_path: Path) -> None:
    """A frame of one colour under a ramp of a few levels and slight noise carries nothing."""
    rng = np.random.default_rng(5)
    for i in range(4):
        ramp = np.linspace(-5, 5, 320)[None, :, None] * (1, 1, 1)
        frame = np.clip(rng.integers(40, 200, 3) + ramp + rng.normal(0, 0.7, (240, 320, 3)), 0, 255)
        Image.fromarray(frame.astype(np.uint8)).save(tmp_path / f"ramp_{i}.png")
    odd = recipe_audit.find_outliers(recipe_audit.scan(tmp_path, progress=False))
    assert odd["low_information"].all(), odd.select("path", "std").rows()


def test_subjects_cut_out_on_white_are_not_bright_but_gains_are(photos: list[Path], tmp_path: Path) -> None:
    """Subjects on a white background (irregular blobs cut from a photograph) have a long outline
    against white, as a gain clips a photograph in patches; but it steps down to white at once,
    where a gain reaches it gradually (``clip_edge_depth``)."""
    rng = np.random.default_rng(11)
    for i, path in enumerate(photos[:60]):
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB").resize((320, 240)), dtype=np.float64)
        if i < 30:  # ordinary photographs, so that white is not the dataset's medium
            out = rgb
        elif i < 45:  # the photograph's darker blobs kept, the rest white: an irregular cut-out
            with Image.open(path) as im:
                soft = np.asarray(im.convert("L").resize((320, 240)).filter(ImageFilter.BoxBlur(6)), dtype=np.float64)
            inside = soft < np.quantile(soft, rng.uniform(0.4, 0.6))
            out = np.where(inside[..., None], rgb, 255.0)
        else:
            out = np.clip(rgb * 4.0, 0, 255)  # ImageEnhance-like gain x4
        kind = "photo" if i < 30 else "cutout" if i < 45 else "gain"
        Image.fromarray(out.astype(np.uint8)).save(tmp_path / f"{kind}_{i}.jpg", quality=90)
    odd = recipe_audit.find_outliers(recipe_audit.scan(tmp_path, progress=False), by_class=False)
    t = OutlierThresholds()
    kind = pl.col("path").str.extract(r"/(photo|cutout|gain)_\d+")
    cutouts, gains = odd.filter(kind == "cutout"), odd.filter(kind == "gain")
    outlined = (pl.col("clip_edges") >= t.bright_edges) & (pl.col("clip_edges_min") >= t.bright_edges_min)
    assert cutouts.filter(outlined).height >= 5  # long outlines against white, ...
    assert (cutouts.filter(outlined)["clip_edge_depth"] >= t.bright_edges_depth).all()  # ... reached at once
    assert not cutouts.filter(outlined)["bright"].any()
    assert gains["bright"].mean() >= 0.6


def _smeared(arr: np.ndarray, length: int, degrees: float) -> np.ndarray:
    """A straight smear of `length` pixels at `degrees` (camera shake): the mean of shifted copies."""
    a = arr.astype(np.float64)
    h, w = a.shape[:2]
    big = np.pad(a, ((length, length), (length, length), (0, 0)), mode="edge")
    dx, dy = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    steps = np.linspace(-length / 2, length / 2, length)
    out = sum(
        big[length + round(t * dy) : length + round(t * dy) + h, length + round(t * dx) : length + round(t * dx) + w]
        for t in steps
    )
    return np.asarray(np.round(out / len(steps)), dtype=np.uint8)


def test_a_smear_is_blurry_though_its_edges_along_it_stay_crisp(tmp_path: Path) -> None:
    """skimage's clock was photographed while the camera moved: the edges along the motion stay
    crisp, so pooled it reads as sharp (`sharpness` 0.42). Counted along four directions apart, one
    is soft and the one across it is not. Smears made here at four angles are found about half
    the time (held out: 0.24-0.41 of 2-6% smears, BENCHMARKS.md), the photos themselves never."""
    sources = dict(examples.photo_sources())
    _save(Image.fromarray(sources["clock"]).convert("RGB"), tmp_path / "clock.jpg")
    for name in ORDINARY[:8]:
        photo = Image.fromarray(sources[name]).convert("RGB")
        photo.thumbnail((600, 600))
        arr = np.asarray(photo)
        _save(photo, tmp_path / "photo" / f"{name}.jpg")
        for degrees in (0, 45, 90, 135):
            smear = _smeared(arr, int(0.05 * max(arr.shape[:2])), degrees)
            _save(Image.fromarray(smear), tmp_path / "smear" / f"{name}_{degrees}.jpg")
    odd = recipe_audit.find_outliers(recipe_audit.scan(tmp_path, progress=False))
    clock = odd.filter(pl.col("path").str.ends_with("clock.jpg")).row(0, named=True)
    t = OutlierThresholds()
    assert clock["sharpness"] > t.sharpness_max and clock["sharpness_fine"] > t.sharpness_fine_max
    assert clock["sharpness_least"] <= t.smear_max and clock["blurry"]
    assert t.smear_balance <= clock["edge_balance"] <= 1 / t.smear_balance
    smears = odd.filter(pl.col("path").str.contains("/smear/"))
    assert smears.height == 32 and smears["blurry"].sum() >= 12
    assert not odd.filter(pl.col("path").str.contains("/photo/"))["blurry"].any()
    with pytest.raises(ValueError, match="smear_balance"):
        OutlierThresholds(smear_balance=1.5)
