"""Wrong labels on pictures that have no copy, from a model's out-of-sample predicted probabilities.

The recipe's first question is "how noisy are the labels?". Confident learning (Northcutt, Jiang and
Chuang, JAIR 2021) answers it from predicted probabilities that no model saw the sample's label
for (K-fold cross-validation):

1. per class j, a threshold t_j: the mean probability of j over the samples labelled j;
2. the confident joint C[i, j]: samples labelled i whose most probable class among those at or above
   their threshold is j;
3. calibrated to the label counts and normalised, C estimates Q, the joint distribution of given
   and true labels: ``noise_rate`` of class i is 1 - Q[i, i] / sum_j Q[i, j];
4. "prune by noise rate": for every i != j, the n Q[i, j] samples labelled i with the largest margin
   p_j - p_i are label errors;
5. a sample whose most probable class is its given label is never called an error: the model agrees
   with the label. (Chosen on digits and wine, F1 +0.001 each; confirmed held out on breast cancer
   and iris, +0.004 and +0.031: BENCHMARKS.md "Label errors".)

The passes over the rows (the row check with the thresholds, the confident joint, the pruning, the
worst-first order and the frame's columns in it) run in Rust on all cores (`_core.confident_rows`,
`confident_counts`, `confident_prune`, `ranked_rows`), reading the probabilities in place (f32 or
f64); Python holds the k x k arithmetic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

import recipe_audit._core as _core
from recipe_audit.io.manifests import match_to_files
from recipe_audit.schema import require_columns

METHODS = ("prune_by_noise_rate", "prune_by_class", "both", "confident_joint")
"""How the label errors are chosen from the estimated joint (the paper's variants):
``prune_by_noise_rate`` (default, as cleanlab's), ``prune_by_class`` (per class, the lowest
self-confidence), ``both`` (flagged by both), ``confident_joint`` (every off-diagonal sample of C)."""

_CHUNK = 65_536
_SUM_TOLERANCE = 1e-3


def _encode_labels(labels: Any, classes: Sequence[Any] | None) -> tuple[np.ndarray, list[Any], pl.Series | None]:
    """Labels as class indices 0..K-1, the class names, and paths when a frame brought them."""
    paths = None
    if isinstance(labels, pl.DataFrame):
        require_columns(
            labels, ("label",), what="labels", hint="pass a scan or audit frame, or your own with a label column"
        )
        paths = labels["path"] if "path" in labels.columns else None
        labels = labels["label"]
    series = (
        labels
        if isinstance(labels, pl.Series)
        else pl.Series("label", list(labels) if not isinstance(labels, np.ndarray) else labels)
    )
    if series.null_count():
        raise ValueError(f"labels: {series.null_count()} missing label(s); drop the unlabelled rows first")
    present = _present_values(labels, series)  # one pass over the labels serves both uses below
    if classes is None:
        integer = series.dtype.is_integer()
        classes = list(range(int(max(present)) + 1)) if integer and present and min(present) >= 0 else present
    names = list(classes)
    index = {name: i for i, name in enumerate(names)}
    if len(index) != len(names):
        raise ValueError("classes: the class names must be distinct")
    unknown = sorted({str(v) for v in present if v not in index})
    if unknown:
        raise ValueError(f"labels: {unknown[:5]} not among classes {names[:10]}{'...' if len(names) > 10 else ''}")
    if series.dtype.is_integer() and names == list(range(len(names))):
        codes = series.cast(pl.UInt32).to_numpy()  # ids already: no mapping pass
    else:
        codes = series.replace_strict(names, list(range(len(names))), return_dtype=pl.UInt32).to_numpy()
    return np.ascontiguousarray(codes, dtype=np.uint32), names, paths


def _present_values(labels: Any, series: pl.Series) -> list[Any]:
    """The distinct labels, sorted: counted by `np.bincount` for non-negative integer arrays of a
    compact range (3-4x faster than hashing 10M values), else by Polars."""
    if isinstance(labels, np.ndarray) and labels.dtype.kind in "iu" and labels.size:
        low, high = int(labels.min()), int(labels.max())
        if low >= 0 and high <= 4 * labels.size + 1024:
            return np.flatnonzero(np.bincount(labels)).tolist()
    return series.unique().sort().to_list()


def _check_probs(pred_probs: Any, n: int, k: int, logits: bool) -> np.ndarray:
    """`pred_probs` as a C-contiguous (n, k) float array; logits turned into probabilities."""
    probs = np.asarray(pred_probs)
    if probs.dtype not in (np.float32, np.float64):
        probs = probs.astype(np.float64)  # float32 stays float32: no copy of a large array
    if probs.ndim != 2:
        raise ValueError(f"pred_probs must be a 2-D array (n samples, n classes), not of shape {probs.shape}")
    if probs.shape[0] != n:
        raise ValueError(
            f"pred_probs has {probs.shape[0]} rows but there are {n} labels; they must be in the same order"
        )
    if probs.shape[1] != k:
        raise ValueError(
            f"pred_probs has {probs.shape[1]} columns but there are {k} classes; pass classes= in column order"
        )
    probs = np.ascontiguousarray(probs)
    if logits:
        if not np.isfinite(probs).all():
            raise ValueError("pred_probs holds NaN or infinite values")
        shifted = probs - probs.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        return probs / probs.sum(axis=1, keepdims=True)
    return probs


@dataclasses.dataclass(frozen=True)
class _Inputs:
    """The labels and probabilities, checked, with confident learning's first pass over the rows."""

    codes: np.ndarray
    names: list[Any]
    paths: pl.Series | None
    probs: np.ndarray
    counts: np.ndarray
    thresholds: np.ndarray
    self_confidence: np.ndarray


def _prepare(labels: Any, pred_probs: Any, classes: Sequence[Any] | None, logits: bool) -> _Inputs:
    codes, names, paths = _encode_labels(labels, classes)
    if codes.size == 0:
        raise ValueError("labels is empty: there is nothing to check")
    if len(names) < 2:
        raise ValueError("labels: a single class has no label errors to find; at least two classes are needed")
    probs = _check_probs(pred_probs, codes.size, len(names), logits)
    # One parallel pass in Rust: the rows checked as probabilities, the per-class thresholds and
    # each row's probability of its label.
    worst, total, nonfinite, negative, thresholds, self_confidence, label_counts = _core.confident_rows(probs, codes)
    if nonfinite:
        raise ValueError("pred_probs holds NaN or infinite values")
    if negative:
        raise ValueError("pred_probs holds negative values: are these logits? pass logits=True, or apply a softmax")
    if abs(total - 1) > _SUM_TOLERANCE:
        raise ValueError(
            f"pred_probs rows must sum to 1 (row {worst} sums to {total:.4g}): are these logits? "
            "pass logits=True, or apply a softmax"
        )
    counts = label_counts.astype(np.int64)
    empty = [str(names[i]) for i in np.flatnonzero(counts == 0)]
    if empty:
        raise ValueError(f"classes {empty[:5]} have no sample: drop them from classes= (and from pred_probs' columns)")
    return _Inputs(codes, names, paths, probs, counts, thresholds, self_confidence)


def _counts(inputs: _Inputs) -> tuple[np.ndarray, np.ndarray]:
    """The confident joint C (k x k) and each row's most probable class: one parallel pass in Rust
    (`_core.confident_counts`)."""
    k = inputs.probs.shape[1]
    joint, argmax = _core.confident_counts(inputs.probs, inputs.codes, inputs.thresholds)
    return joint.reshape(k, k).astype(np.float64), argmax


def _calibrated_joint(joint: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Q: rows rescaled to the given label counts, then normalised to sum to 1."""
    rows = joint.sum(axis=1, keepdims=True)
    scaled = np.where(rows > 0, joint / np.where(rows > 0, rows, 1) * counts[:, None], 0.0)
    # A class whose samples are confident of nothing keeps its count on the diagonal (no evidence).
    empty = rows[:, 0] == 0
    scaled[empty, empty] = counts[empty]
    return scaled / scaled.sum()


def _round_preserving_row_totals(counts: np.ndarray) -> np.ndarray:
    """Each row of a k x k float matrix rounded to integers that keep the row's (rounded) total:
    the entries nearest to rounding the other way absorb the difference. The calibrated joint's
    rows are the label counts; keeping them keeps the rows pruned per class equal to the
    estimated noise. Rounding each entry alone gained or lost a row per class: against cleanlab on
    the same probabilities, F1 summed over 6 settings -0.006 on digits, -0.016 on iris, +0.077 on
    wine; with this rule cleanlab's F1 on 22 of 24 settings, 0.001 lower on two (BENCHMARKS.md
    "Label errors")."""
    ints = np.rint(counts)
    short = np.rint(counts.sum(axis=1)) - ints.sum(axis=1)  # > 0: round some up; < 0: down
    frac = counts - ints
    # Exact ties (equal joint counts in a row give equal entries): the later class moves up, the
    # earlier down, as cleanlab's `round_preserving_row_totals` does, so both prune the same rows.
    k = counts.shape[1]
    up_order = k - 1 - np.argsort(-frac[:, ::-1], axis=1, kind="stable")
    rank_up = np.argsort(up_order, axis=1, kind="stable")
    rank_down = np.argsort(np.argsort(frac, axis=1, kind="stable"), axis=1, kind="stable")
    ints += (rank_up < short[:, None]) & (short[:, None] > 0)
    ints -= (rank_down < -short[:, None]) & (short[:, None] < 0)
    return np.maximum(ints, 0)


def _errors(
    method: str,
    codes: np.ndarray,
    probs: np.ndarray,
    q: np.ndarray,
    thresholds: np.ndarray,
    argmax: np.ndarray,
    self_confidence: np.ndarray,
) -> np.ndarray:
    n, k = probs.shape
    disagrees = argmax != codes

    def by_noise_rate() -> np.ndarray:
        wanted = _round_preserving_row_totals(q * n).astype(np.uint64)
        np.fill_diagonal(wanted, 0)
        return np.asarray(_core.confident_prune(probs, codes, wanted.ravel()), dtype=bool)

    def by_class_confidence() -> np.ndarray:
        flagged = np.zeros(n, dtype=bool)
        off = np.rint((q.sum(axis=1) - np.diag(q)) * n).astype(np.int64)
        order = np.argsort(codes, kind="stable")
        starts = np.searchsorted(codes[order], np.arange(k + 1))
        for i in range(k):
            members = order[starts[i] : starts[i + 1]]
            take = int(min(off[i], max(0, members.size - 1)))
            if take:
                flagged[members[np.argpartition(self_confidence[members], take - 1)[:take]]] = True
        return flagged

    if method == "prune_by_noise_rate":
        return by_noise_rate() & disagrees
    if method == "prune_by_class":
        return by_class_confidence() & disagrees
    if method == "both":
        return by_noise_rate() & by_class_confidence() & disagrees
    # confident_joint: every row whose confident class (at or above its threshold) is another.
    flagged = np.zeros(n, dtype=bool)
    for start in range(0, n, _CHUNK):
        block = probs[start : start + _CHUNK]
        above = block >= thresholds - 1e-12
        confident = np.where(above.any(axis=1), np.where(above, block, -1.0).argmax(axis=1), -1)
        flagged[start : start + _CHUNK] = (confident >= 0) & (confident != codes[start : start + _CHUNK])
    return flagged & disagrees


def find_label_errors(
    labels: Any,
    pred_probs: Any,
    *,
    paths: Sequence[str] | pl.Series | None = None,
    classes: Sequence[Any] | None = None,
    method: str = "prune_by_noise_rate",
    logits: bool = False,
) -> pl.DataFrame:
    """Which samples carry a wrong label, by confident learning on out-of-sample probabilities.

    Args:
        labels: the given labels: a sequence, NumPy array or Polars Series of class ids or names,
            or a frame with a ``label`` column (a scan or audit frame: its ``path`` column is used).
        pred_probs: (n, K) predicted probabilities, each row from a model that did not train on
            that sample (`recipe_audit.checks.out_of_sample_probs`, or any K-fold scheme), columns
            in the order of `classes`.
        paths: one path per sample, shown in the frame.
        classes: the class of each column; default the sorted class names, or 0..K-1 for integer
            labels.
        method: one of `METHODS`.
        logits: `pred_probs` are logits; a softmax is applied.

    Returns:
        One row per sample, worst first (lowest ``label_quality``): ``index`` (position in the
        input), ``label``, ``suggested_label`` (the most probable class), ``label_quality`` (the
        probability of the given label, 0-1, lower is worse), ``is_label_error`` and ``path`` when
        known. Labels come back as the class names.

    Raises:
        ValueError: rows that do not sum to 1 (logits: pass ``logits=True``), NaN or negative
            values, a class with no sample, labels outside `classes`, lengths that differ, a single
            class. Nothing is written.

    Example:
        >>> errors = recipe_audit.find_label_errors(files, probs)             # doctest: +SKIP
        >>> errors.filter("is_label_error").select("path", "label", "suggested_label")  # doctest: +SKIP
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    inputs = _prepare(labels, pred_probs, classes, logits)
    codes, names, frame_paths, probs, self_confidence = (
        inputs.codes,
        inputs.names,
        inputs.paths,
        inputs.probs,
        inputs.self_confidence,
    )
    joint, argmax = _counts(inputs)
    q = _calibrated_joint(joint, inputs.counts)
    n = codes.size
    flagged = _errors(method, codes, probs, q, inputs.thresholds, argmax, self_confidence)
    # Worst first, ties in input order: sorted and gathered in one parallel pass in Rust.
    index, label, suggested, quality, flags = _core.ranked_rows(
        np.ascontiguousarray(self_confidence), codes, np.ascontiguousarray(argmax, dtype=np.uint32), flagged
    )
    out = pl.DataFrame(
        {
            "index": index,
            "label": label,
            "suggested_label": suggested,
            "label_quality": quality,
            "is_label_error": flags,
        }
    )
    chosen_paths = paths if paths is not None else frame_paths
    if chosen_paths is not None:
        chosen = pl.Series("path", list(chosen_paths), dtype=pl.String)
        if chosen.len() != n:
            raise ValueError(f"paths has {chosen.len()} entries but there are {n} labels")
        out = out.with_columns(chosen.gather(out["index"]))
    name_series = pl.Series("names", names)
    if name_series.dtype.is_integer() and name_series.to_list() == list(range(len(names))):
        as_names = [pl.col(c).cast(name_series.dtype) for c in ("label", "suggested_label")]
    else:
        as_names = [pl.lit(name_series).gather(pl.col(c)).alias(c) for c in ("label", "suggested_label")]
    return out.with_columns(as_names)


def label_noise(
    labels: Any, pred_probs: Any, *, classes: Sequence[Any] | None = None, logits: bool = False
) -> pl.DataFrame:
    """How noisy the labels are, per class and overall: the recipe's question, answered.

    Returns:
        One row per class: ``label``, ``count`` (samples given this label), ``noise_rate`` (the
        estimated share of them whose true class is another), ``confused_with`` (the class most of
        those belong to; null when the rate is 0), then a last row with a null ``label``: every
        sample, the overall share of wrong labels.

    Example:
        >>> recipe_audit.label_noise(files, probs)   # doctest: +SKIP
    """
    inputs = _prepare(labels, pred_probs, classes, logits)
    names, counts = inputs.names, inputs.counts
    joint, _ = _counts(inputs)
    q = _calibrated_joint(joint, counts)
    given = q.sum(axis=1)
    rates = 1 - np.diag(q) / given
    off = q - np.diag(np.diag(q))
    confused = off.argmax(axis=1)
    name_list = [str(n) if not isinstance(n, str) else n for n in names]
    per_class = pl.DataFrame(
        {
            "label": name_list,
            "count": counts.astype(np.uint64),
            "noise_rate": rates,
            "confused_with": [name_list[c] if off[i, c] > 0 else None for i, c in enumerate(confused)],
        },
        schema={"label": pl.String, "count": pl.UInt64, "noise_rate": pl.Float64, "confused_with": pl.String},
    )
    overall = pl.DataFrame(
        {
            "label": [None],
            "count": [int(counts.sum())],
            "noise_rate": [float(1 - np.trace(q))],
            "confused_with": [None],
        },
        schema=per_class.schema,
    )
    return pl.concat([per_class, overall])


def read_pred_probs(path: str) -> pl.DataFrame:
    """Predicted probabilities saved as a table (Parquet, CSV, JSON Lines): a ``path`` column and one
    column per class, named by the class (the CLI's ``--pred-probs``).

    Example:
        >>> probs = recipe_audit.analysis.label_errors.read_pred_probs("probs.parquet")   # doctest: +SKIP
    """
    lower = str(path).lower()
    if lower.endswith(".parquet"):
        frame = pl.read_parquet(path)
    elif lower.endswith((".csv", ".tsv")):
        frame = pl.read_csv(path, separator="\t" if lower.endswith(".tsv") else ",")
    elif lower.endswith((".jsonl", ".ndjson")):
        frame = pl.read_ndjson(path)
    else:
        raise ValueError(f"pred_probs file {path!r}: expected .parquet, .csv, .tsv or .jsonl")
    if "path" not in frame.columns or frame.width < 3:
        raise ValueError(f"pred_probs file {path!r} needs a 'path' column and one column per class (at least two)")
    return frame


def _index_classes(labels: pl.Series) -> list[str] | None:
    """The columns of an array of probabilities for labels that are whole numbers written as text
    (a manifest's 0, 1, ..., 11): classes "0" to the largest, in numeric order, as the array's
    columns are (sorted as text, "10" would come before "2"). None for other labels."""
    text = labels.cast(pl.String)
    if text.len() == 0 or not text.str.contains(r"^\d+$").all():
        return None
    largest = text.cast(pl.Int64).max()
    return [str(i) for i in range(int(largest) + 1)] if isinstance(largest, int) else None


def audit_label_errors(
    files: pl.DataFrame, pred_probs: Any, label_conflicts: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`find_label_errors` and `label_noise` for an audit: the decoded, labelled files of `files`
    with their probabilities, joined with the copies that carry different labels.

    `pred_probs` is an array with one row per row of `files` (the scan's order), or a frame with a
    ``path`` column (the scan's paths, or paths that end them, as a manifest's do) and one column
    per class. The first frame gains ``evidence``: ``model``,
    ``copies`` (the file is in a label-conflict group), ``model and copies``, or null.
    """
    labelled = files.with_row_index("row").filter((pl.col("status") == "ok") & pl.col("label").is_not_null())
    classes: list[str] | None
    if isinstance(pred_probs, pl.DataFrame):
        require_columns(
            pred_probs, ("path",), what="pred_probs", hint="a frame needs a path column and one column per class"
        )
        classes = [c for c in pred_probs.columns if c != "path"]
        repeated = pred_probs.filter(pl.col("path").is_duplicated())["path"]
        if repeated.len():
            raise ValueError(f"pred_probs: {repeated.n_unique()} paths have more than one row (e.g. {repeated[0]!r})")
        # The class columns under names of their own: a class called "label" or "status" must not
        # meet the scan's columns of that name.
        columns = [f"class {i}" for i in range(len(classes))]
        # Paths as a manifest gives them: the scan's own, or relative ones that end a scanned path
        # (``train/cat/0.png`` for ``data/train/cat/0.png``), the most specific winning.
        matched, _ = match_to_files(labelled.select("path"), pred_probs.select(pl.col("path").cast(pl.String)), None)
        index = "\x00pred_row"  # a name no class column has
        probs_frame = (
            pred_probs.with_row_index(index)
            .join(matched.select(pl.col("path").alias("\x00scanned"), pl.col("row").alias(index)), on=index)
            .select(
                pl.col("\x00scanned").alias("path"),
                *[pl.col(c).alias(n) for c, n in zip(classes, columns, strict=True)],
            )
        )
        several = probs_frame.filter(pl.col("path").is_duplicated())["path"]
        if several.len():
            raise ValueError(f"pred_probs: {several.n_unique()} files match more than one row (e.g. {several[0]!r})")
        lacking = labelled.join(probs_frame, on="path", how="anti")["path"]
        if lacking.len():
            raise ValueError(f"pred_probs: {lacking.len()} labelled files have no row (e.g. {lacking[0]!r})")
        joined = labelled.select("row", "path", "label").join(probs_frame, on="path", how="inner")
        labelled, probs = joined, joined.select(columns).to_numpy()
    else:
        array = np.asarray(pred_probs)
        if array.ndim != 2 or array.shape[0] != files.height:
            raise ValueError(
                f"pred_probs: an array needs one row per file of the scan ({files.height}), not shape {array.shape}"
            )
        probs = array[labelled["row"].to_numpy()]
        classes = _index_classes(labelled["label"])
    errors = find_label_errors(labelled.select("path", "label"), probs, classes=classes)
    conflicted = set(label_conflicts["path"]) if label_conflicts.height else set()
    in_conflict = pl.col("path").is_in(list(conflicted))
    errors = errors.with_columns(
        evidence=pl.when(pl.col("is_label_error") & in_conflict)
        .then(pl.lit("model and copies"))
        .when(pl.col("is_label_error"))
        .then(pl.lit("model"))
        .when(in_conflict)
        .then(pl.lit("copies"))
        .otherwise(None)
    )
    return errors, label_noise(labelled.select("path", "label"), probs, classes=classes)


__all__ = ["find_label_errors", "label_noise", "read_pred_probs", "audit_label_errors", "METHODS"]
