"""property_shift and property_label_association on real photographs: random splits and labels
raise no verdict, planted biases (made on the pixels, then scanned) are found."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image
from scipy import stats

import recipe_audit
from recipe_audit import examples
from recipe_audit.analysis.significance import contingency_test, ks_one_vs_rest, ks_pvalue, ks_statistic

SOURCES = ("astronaut", "chelsea", "coffee", "rocket", "china", "flower", "motorcycle", "immunohistochemistry")


def _photo(rng: np.random.Generator, arr: np.ndarray) -> Image.Image:
    return examples._to_image(arr, examples._crop(rng, arr, 0.3, 0.9), int(rng.integers(200, 401)), gray=False)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """240 crops of real photographs as JPEG, scanned; splits and labels are assigned later."""
    root = tmp_path_factory.mktemp("properties")
    rng = np.random.default_rng(5)
    sources = dict(examples.photo_sources())
    for i in range(240):
        buf = io.BytesIO()
        _photo(rng, sources[SOURCES[i % len(SOURCES)]]).save(buf, format="JPEG", quality=int(rng.integers(75, 95)))
        (root / f"{i:04d}.jpg").write_bytes(buf.getvalue())
    return recipe_audit.scan(root, progress=False)


def _random(files: pl.DataFrame, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return files.with_columns(
        split=pl.Series(rng.choice(["train", "val", "test"], files.height, p=[0.6, 0.2, 0.2])),
        label=pl.Series(rng.choice(["a", "b", "c"], files.height)),
    )


def test_random_splits_and_labels_raise_nothing(photos: pl.DataFrame) -> None:
    for seed in range(10):
        files = _random(photos, seed)
        shift = recipe_audit.property_shift(files)
        assert not shift["shifted"].any(), shift.filter("shifted").rows()
        assert set(shift["split"]) == {"val", "test"} and set(shift["reference"]) == {"train"}
        assert shift.height == 2 * 10 and shift["effect"].is_between(0, 1).all()
        association = recipe_audit.property_label_association(files)
        assert not association["associated"].any(), association.filter("associated").rows()
        assert association.height == 3 * 10


def test_darker_test_split_is_found(photos: pl.DataFrame, tmp_path: Path) -> None:
    """Test pictures 15% darker, made on the pixels and scanned again."""
    files = _random(photos, 1)
    darker = []
    for path, split in files.select("path", "split").iter_rows():
        if split == "test":
            with Image.open(path) as im:
                out = tmp_path / Path(path).name
                Image.eval(im, lambda v: int(v * 0.85)).save(out, quality=90)
            darker.append(str(out))
        else:
            darker.append(path)
    rescanned = (
        recipe_audit.scan(darker, progress=False)
        .drop("split", "label")
        .join(pl.DataFrame({"path": darker, "split": files["split"], "label": files["label"]}), on="path")
    )
    shift = recipe_audit.property_shift(rescanned)
    found = shift.filter("shifted")
    # Darkening scales luma mean, luma std and colourfulness alike; with 47 test pictures the
    # less variable of them carry the verdict.
    assert set(found["split"]) == {"test"}, shift.head(5).rows()
    assert set(found["property"]) <= {"brightness", "contrast", "colorfulness"} and found.height >= 1
    brightness = shift.filter((pl.col("property") == "brightness") & (pl.col("split") == "test")).row(0, named=True)
    assert brightness["p_value"] < 0.05 and brightness["effect"] >= 0.1 and brightness["detail"].startswith("median ")


def test_class_shortcuts_are_found(photos: pl.DataFrame) -> None:
    files = _random(photos, 2)
    all_png = files.with_columns(format=pl.when(pl.col("label") == "a").then(pl.lit("png")).otherwise("format"))
    association = recipe_audit.property_label_association(all_png).filter("associated")
    top = association.row(0, named=True)
    assert (top["property"], top["label"], top["test"]) == ("format", "a", "chi2")
    assert top["score"] == pytest.approx(1.0) and top["detail"] in (
        "png: 100% vs 0% in the other classes",
        "jpeg: 0% vs 100% in the other classes",
    )
    small = files.with_columns(
        width=pl.when(pl.col("label") == "b").then(pl.col("width") // 3).otherwise("width"),
        height=pl.when(pl.col("label") == "b").then(pl.col("height") // 3).otherwise("height"),
    )
    found = recipe_audit.property_label_association(small).filter("associated")
    assert {("width", "b"), ("height", "b")} <= set(found.select("property", "label").rows())


def test_small_groups_unsplit_and_bad_frames(photos: pl.DataFrame) -> None:
    files = _random(photos, 3)
    tiny = files.head(30)
    assert not recipe_audit.property_shift(tiny)["shifted"].any()  # groups under min_count are not judged
    assert recipe_audit.property_shift(files.with_columns(split=pl.lit("train"))).height == 0
    assert recipe_audit.property_label_association(files.with_columns(label=pl.lit("a"))).height == 0
    strict = recipe_audit.BiasThresholds(p_value=1.0, shift_effect=0.0, min_count=1)
    assert recipe_audit.property_shift(files, thresholds=strict)["shifted"].sum() >= 15  # all but the constant ones
    with pytest.raises(ValueError, match="lacks the scan columns"):
        recipe_audit.property_shift(files.drop("sharpness"))
    with pytest.raises(ValueError, match="split"):
        recipe_audit.property_shift(files.drop("split"))
    # NaN (a frame built elsewhere) is unknown, not a value above every other.
    unknown = files.with_columns(sharpness=pl.when(pl.col("split") == "val").then(float("nan")).otherwise("sharpness"))
    row = recipe_audit.property_shift(unknown).filter((pl.col("property") == "sharpness") & (pl.col("split") == "val"))
    assert row["effect"].to_list() == [None] and row["shifted"].to_list() == [False]


def test_numbered_splits_and_equal_splits_without_train(photos: pl.DataFrame) -> None:
    """Splits numbered 0 and 1 are names like any other, and with no train the reference is the
    largest split, ties broken by name, the same on every run."""
    files = photos.with_columns(
        split=pl.Series(np.arange(photos.height) % 2), label=pl.Series(np.arange(photos.height) % 3).cast(pl.String)
    )
    shift = recipe_audit.property_shift(files, reference=0)
    assert set(shift["split"]) == {"1"} and set(shift["reference"]) == {"0"} and shift.height == 10
    audited = recipe_audit.audit(files, progress=False)
    assert set(audited.property_shift["reference"]) == {"0"} and set(audited.property_shift["split"]) == {"1"}
    with pytest.raises(ValueError, match="p_value"):
        recipe_audit.BiasThresholds(p_value=0.0)
    with pytest.raises(ValueError, match="finite"):
        recipe_audit.BiasThresholds(shift_effect=float("nan"))


def test_tests_agree_with_scipy() -> None:
    rng = np.random.default_rng(0)
    for n, m, shift in ((30, 40, 0.0), (200, 300, 0.3), (1000, 50, 0.1)):
        a, b = rng.normal(size=n), rng.normal(shift, size=m)
        reference = stats.ks_2samp(a, b, method="asymp")
        assert ks_statistic(a, b) == pytest.approx(reference.statistic)
        assert ks_pvalue(ks_statistic(a, b), n, m) == pytest.approx(reference.pvalue, rel=0.05, abs=1e-4)
        values, codes = np.concatenate([a, b]), np.r_[np.zeros(n, int), np.ones(m, int)]
        assert ks_one_vs_rest(values, codes, 2) == pytest.approx([reference.statistic] * 2)
    table = np.array([[10, 20, 30], [15, 15, 40]])
    statistic, p = contingency_test(table)
    expected = stats.chi2_contingency(table, correction=False)
    assert (statistic, p) == pytest.approx((expected[0], expected[1]))


def test_groups_are_counted_by_their_values_and_labels_may_be_numbers(photos: pl.DataFrame) -> None:
    files = _random(photos, 4)
    # A test split whose sharpness is known for 6 pictures only is not judged on sharpness.
    test_rows = pl.col("split") == "test"
    sparse = files.with_columns(
        sharpness=pl.when(test_rows & (pl.int_range(pl.len()).over("split") >= 6))
        .then(None)
        .otherwise(pl.when(test_rows).then(pl.lit(0.0)).otherwise("sharpness"))
    )
    row = (
        recipe_audit.property_shift(sparse)
        .filter((pl.col("property") == "sharpness") & (pl.col("split") == "test"))
        .row(0, named=True)
    )
    assert row["n"] == 6 and not row["shifted"]
    with pytest.raises(ValueError, match="reference split 'train'"):
        recipe_audit.property_shift(files.filter(pl.col("split") != "train"))
    numbers = files.with_columns(label=pl.col("label").replace_strict({"a": 0, "b": 1, "c": 2}, return_dtype=pl.Int64))
    as_text = recipe_audit.property_label_association(
        files.with_columns(label=pl.col("label").replace_strict({"a": "0", "b": "1", "c": "2"}))
    )
    assert recipe_audit.property_label_association(numbers).equals(as_text)


def test_report_draws_biases_with_numeric_labels(photos: pl.DataFrame, tmp_path: Path) -> None:
    files = _random(photos, 5).with_columns(
        label=(pl.int_range(pl.len()) % 2).cast(pl.Int64),
        format=pl.when(pl.int_range(pl.len()) % 2 == 0).then(pl.lit("png")).otherwise("format"),
    )
    audit = recipe_audit.audit(files, progress=False)
    assert audit.problems()["property_label_association"] >= 1
    page = audit.to_html(tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="biases"' in page and "p &lt; 0.001" in page
