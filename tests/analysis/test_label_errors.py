"""find_label_errors and label_noise: exact on perfect probabilities, useful on a real labelled set
with planted flips, and strict about bad input."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import recipe_audit
from recipe_audit.analysis.label_errors import METHODS


def _flip(rng: np.random.Generator, y: np.ndarray, rate: float) -> np.ndarray:
    k = int(y.max()) + 1
    noisy = y.copy()
    flip = rng.random(y.size) < rate
    noisy[flip] = (y[flip] + rng.integers(1, k, flip.sum())) % k
    return noisy


def test_perfect_probabilities_give_the_planted_errors_and_rates() -> None:
    """With one-hot probabilities of the true class, confident learning is exact."""
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, 2000)
    noisy = _flip(rng, truth, 0.15)
    probs = np.eye(4)[truth] * 0.96 + 0.01
    errors = recipe_audit.find_label_errors(noisy, probs).sort("index")
    assert (errors["is_label_error"].to_numpy() == (noisy != truth)).all()
    assert (errors["suggested_label"].to_numpy() == truth).all()
    noise = recipe_audit.label_noise(noisy, probs)
    planted = [float((noisy != truth)[noisy == c].mean()) for c in range(4)]
    assert noise["noise_rate"].head(4).to_list() == pytest.approx(planted, abs=1e-9)
    assert noise["label"].to_list() == ["0", "1", "2", "3", None]
    assert noise["noise_rate"][-1] == pytest.approx(float((noisy != truth).mean()))
    assert noise["count"].head(4).to_list() == np.bincount(noisy).tolist()


def test_planted_flips_on_digits_are_found() -> None:
    x, y = load_digits(return_X_y=True)
    noisy = _flip(np.random.default_rng(1), y, 0.1)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probs = cross_val_predict(model, x, noisy, cv=5, method="predict_proba")
    errors = recipe_audit.find_label_errors(noisy, probs)
    flagged = errors.sort("index")["is_label_error"].to_numpy()
    truth = noisy != y
    precision, recall = (flagged & truth).sum() / flagged.sum(), (flagged & truth).sum() / truth.sum()
    assert recall > 0.8 and precision > 0.45, (precision, recall)
    assert errors["label_quality"].is_sorted()
    # Worst first: the top of the list is mostly planted flips.
    top = errors.head(int(truth.sum()) // 2)["index"].to_numpy()
    assert truth[top].mean() > 0.8
    noise = recipe_audit.label_noise(noisy, probs)
    assert abs(noise["noise_rate"][-1] - truth.mean()) < 0.1
    for method in METHODS:
        assert recipe_audit.find_label_errors(noisy, probs, method=method)["is_label_error"].sum() > 0


def test_pruned_counts_keep_each_class_total() -> None:
    from recipe_audit.analysis.label_errors import _round_preserving_row_totals

    counts = np.array([[7.4, 1.3, 1.3], [0.5, 8.5, 1.0], [2.6, 2.6, 4.8]])
    rounded = _round_preserving_row_totals(counts)
    # Row 0 is one short: the largest fraction (7.4) goes up. Row 1 (0.5 and 8.5 both round to
    # even, down) ties at 0.5: the later goes up. Row 2 is one over: of the tied 2.6s the earlier
    # goes down.
    assert rounded.tolist() == [[8, 1, 1], [0, 9, 1], [2, 3, 5]]
    rng = np.random.default_rng(0)
    many = rng.dirichlet(np.ones(7), size=7) * rng.integers(5, 500, size=(7, 1))
    assert (_round_preserving_row_totals(many).sum(axis=1) == np.rint(many.sum(axis=1))).all()


def test_names_frames_paths_classes_and_logits() -> None:
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 3, 300)
    names = np.array(["cat", "dog", "fox"])
    noisy = _flip(rng, truth, 0.1)
    logits = np.eye(3)[truth] * 4 + rng.normal(0, 0.5, (300, 3))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    frame = pl.DataFrame({"path": [f"img/{i}.jpg" for i in range(300)], "label": names[noisy]})
    by_frame = recipe_audit.find_label_errors(frame, probs)
    assert by_frame.columns == ["index", "label", "suggested_label", "label_quality", "is_label_error", "path"]
    assert set(by_frame["label"]) == {"cat", "dog", "fox"}
    by_codes = recipe_audit.find_label_errors(noisy, probs)
    assert (by_frame.sort("index")["is_label_error"] == by_codes.sort("index")["is_label_error"]).all()
    from_logits = recipe_audit.find_label_errors(frame, logits, logits=True)
    assert from_logits["index"].equals(by_frame["index"]) and from_logits["is_label_error"].equals(
        by_frame["is_label_error"]
    )
    assert from_logits["label_quality"].to_numpy() == pytest.approx(by_frame["label_quality"].to_numpy())
    # Columns in another order, named by classes=.
    reordered = recipe_audit.find_label_errors(names[noisy], probs[:, [2, 0, 1]], classes=["fox", "cat", "dog"])
    assert (reordered.sort("index")["is_label_error"] == by_codes.sort("index")["is_label_error"]).all()
    assert recipe_audit.find_label_errors(pl.Series(noisy), probs.astype(np.float32))["is_label_error"].sum() > 0


def test_bad_input_is_a_clear_error() -> None:
    y = np.array([0, 1, 1, 0])
    good = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    cases = [
        (y, good * 3, "sum to 1.*logits=True"),
        (y, good - 0.5, "negative values"),
        (y, np.where(good > 0.85, np.nan, good), "NaN"),
        (y[:3], good, "4 rows but there are 3 labels"),
        (y, good[:, :1], "1 columns but there are 2 classes"),
        (np.array([0, 0, 0, 0]), good[:, :1] * 0 + 1, "single class"),
        (np.array([], dtype=int), np.zeros((0, 2)), "empty"),
    ]
    for labels, probs, message in cases:
        with pytest.raises(ValueError, match=message):
            recipe_audit.find_label_errors(labels, probs)
    with pytest.raises(ValueError, match=r"\['z'\] not among classes"):
        recipe_audit.find_label_errors(np.array(["a", "b", "b", "z"]), good, classes=["a", "b"])
    with pytest.raises(ValueError, match="no sample"):
        recipe_audit.find_label_errors(y, np.c_[good * 0.5, good * 0.5], classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="method"):
        recipe_audit.find_label_errors(y, good, method="vote")
    with pytest.raises(ValueError, match="paths has 2"):
        recipe_audit.find_label_errors(y, good, paths=["a", "b"])


def test_audit_finds_mislabelled_digits_through_scan_report_and_cli(tmp_path) -> None:
    """sklearn's digits as an ImageFolder of PNGs with 8% of the files in a wrong class folder."""
    from PIL import Image

    from recipe_audit.cli import main

    x, y = load_digits(return_X_y=True)
    x, y = x[:600], y[:600]
    noisy = _flip(np.random.default_rng(3), y, 0.08)
    root = tmp_path / "digits"
    for i, (pixels, label) in enumerate(zip(x, noisy)):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray((pixels.reshape(8, 8) * 255 / 16).astype(np.uint8)).resize((32, 32)).save(
            root / str(label) / f"{i:04d}.png"
        )
    files = recipe_audit.scan(root, progress=False)
    order = files["path"].str.extract(r"(\d+)\.png$").cast(pl.Int64).to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probs = cross_val_predict(model, x[order], files["label"].cast(pl.Int64).to_numpy(), cv=5, method="predict_proba")
    audit = recipe_audit.audit(files, pred_probs=probs, progress=False)
    errors = audit.label_errors
    assert errors is not None and audit.label_noise is not None
    flagged = set(errors.filter(pl.col("evidence").is_not_null())["path"])
    planted = {p for p, i in zip(files["path"], order) if noisy[i] != y[i]}
    assert len(flagged & planted) >= 0.7 * len(planted) and len(flagged & planted) >= 0.4 * len(flagged)
    assert audit.problems()["label_errors"] == len(flagged)
    assert "probably mislabelled" in audit.summary()
    page = audit.to_html(tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="label-errors"' in page and "estimated noise" in page
    # The same through the CLI, with the probabilities as a table named by class.
    table = pl.DataFrame({"path": files["path"]}).with_columns([pl.Series(str(c), probs[:, c]) for c in range(10)])
    table.write_parquet(tmp_path / "probs.parquet")
    assert main(["audit", str(root), "--pred-probs", str(tmp_path / "probs.parquet"), "--fail-on", "label_errors"]) == 1
    assert main(["audit", str(root), "--pred-probs", str(tmp_path / "missing.parquet")]) == 2
    with pytest.raises(ValueError, match="one row per file"):
        recipe_audit.audit(files, pred_probs=probs[:10], progress=False)


def test_audit_reads_numbered_classes_in_number_order_and_refuses_repeated_rows(tmp_path) -> None:
    """Folders 0 to 11 are class indices: an array's column 10 is class "10", not the third in
    text order (a perfect model once flagged 20 of 36 files), and a probabilities table that lists
    a file twice (and so misses another) is refused, not counted twice."""
    from PIL import Image

    rng = np.random.default_rng(4)
    for label in range(12):
        (tmp_path / str(label)).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(tmp_path / str(label) / f"{i}.png")
    files = recipe_audit.scan(tmp_path, progress=False)
    probs = np.full((files.height, 12), 0.01)
    probs[np.arange(files.height), files["label"].cast(pl.Int64).to_numpy()] = 0.89
    audit = recipe_audit.audit(files, pred_probs=probs, progress=False)
    assert audit.label_errors is not None and not audit.label_errors["is_label_error"].any()
    table = pl.DataFrame({"path": files["path"]}).with_columns([pl.Series(str(c), probs[:, c]) for c in range(12)])
    repeated = pl.concat([table.slice(1), table.slice(1, 1)])
    with pytest.raises(ValueError, match="more than one row"):
        recipe_audit.audit(files, pred_probs=repeated, progress=False)
    # Through the CLI it is misuse (2); a run that fails on an unreadable input is 3, never the 1 of
    # "a problem was found".
    from recipe_audit.cli import main

    repeated.write_parquet(tmp_path / "repeated.parquet")
    assert main(["audit", str(tmp_path), "--pred-probs", str(tmp_path / "repeated.parquet")]) == 2
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    assert main(["audit", str(tmp_path), "--pred-probs", str(tmp_path / "broken.parquet")]) == 3


def test_probabilities_named_by_relative_paths_and_classes_named_like_columns(tmp_path) -> None:
    """A probabilities table names its files as a manifest does (``cat/0.png`` for a scanned
    ``.../data/cat/0.png``) and its classes as the user likes (``row``, ``path`` aside)."""
    from PIL import Image

    rng = np.random.default_rng(6)
    for label in ("row", "status"):
        (tmp_path / "data" / label).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(
                tmp_path / "data" / label / f"{i}.png"
            )
    files = recipe_audit.scan(tmp_path / "data", progress=False)
    relative = files["path"].str.replace(r".*/data/", "")
    truth = (files["label"] == "status").cast(pl.Float64)
    table = pl.DataFrame({"path": relative, "row": 0.9 - 0.8 * truth, "status": 0.1 + 0.8 * truth})
    audit = recipe_audit.audit(files, pred_probs=table, progress=False)
    assert audit.label_errors is not None and audit.label_errors.height == 24
    assert not audit.label_errors["is_label_error"].any()
