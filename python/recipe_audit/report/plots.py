"""The report's plots: matplotlib (no pyplot state), embedded as PNG data URIs.

Every plot is drawn from aggregates (histograms over all values) or a fixed-size sample (the
scatter), so a million-file audit draws as fast as a small one. Text from the data (class and
split names) has its ``$`` escaped, so mathtext never parses it: a class called ``$5`` stays ``$5``.
"""

from __future__ import annotations

import base64
import io
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from recipe_audit._optional import require
from recipe_audit.analysis.properties import CATEGORICAL_PROPERTIES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SCATTER_POINTS = 20_000
"""At most this many images in the size scatter (a fixed random sample beyond)."""
MAX_BARS = 40
"""Class histograms show each class up to this many classes; beyond, the rank/count curve."""

_SPLIT_COLORS = ("#3b6ea5", "#e07b39", "#5a9e4b", "#a55194", "#8c6d31", "#7f7f7f")
_FLAG_COLOR = "#d62728"


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(width: float = 6.0, height: float = 3.2) -> Figure:
    # Drawn without pyplot: no global backend or state touched.
    figure: type[Figure] = require("matplotlib.figure", extra="report", feature="the report's plots").Figure
    return figure(figsize=(width, height), layout="constrained")


def _context() -> AbstractContextManager[None]:
    matplotlib = require("matplotlib", extra="report", feature="the report's plots")
    context: AbstractContextManager[None] = matplotlib.rc_context(
        {"font.size": 9, "axes.spines.top": False, "axes.spines.right": False}
    )
    return context


def _text(value: object, limit: int = 40) -> str:
    """Data shown as plain text in a plot: cut, and no mathtext."""
    return str(value)[:limit].replace("$", r"\$")


def class_histogram(stats: pl.DataFrame) -> str | None:
    """Share of each class per split (grouped bars), or the rank/count curve for many classes."""
    if stats.height == 0:
        return None
    stats = stats.with_columns(pl.col("split").fill_null("(no split)"))
    splits = stats["split"].unique(maintain_order=True).sort().to_list()
    order = (
        stats.group_by("label")
        .agg(pl.col("count").sum())
        .sort(["count", "label"], descending=[True, False])["label"]
        .to_list()
    )
    with _context():
        fig = _figure(7.0, 3.4)
        ax = fig.subplots()
        if len(order) <= MAX_BARS:
            width = 0.8 / len(splits)
            x = np.arange(len(order))
            for i, split in enumerate(splits):
                share = dict(stats.filter(pl.col("split") == split).select("label", "share").iter_rows())
                ax.bar(
                    x + i * width - 0.4 + width / 2,
                    [share.get(c, 0.0) for c in order],
                    width,
                    label=_text(split),
                    color=_SPLIT_COLORS[i % 6],
                )
            ax.set_xticks(
                x,
                [_text(c, 20) for c in order],
                rotation=60 if len(order) > 8 else 0,
                ha="right" if len(order) > 8 else "center",
            )
            ax.set_ylabel("share of the split")
        else:
            for i, split in enumerate(splits):
                counts = np.sort(stats.filter(pl.col("split") == split)["count"].to_numpy())[::-1]
                ax.plot(
                    np.arange(1, len(counts) + 1),
                    np.maximum(counts, 0.8),
                    label=_text(split),
                    color=_SPLIT_COLORS[i % 6],
                )
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(f"class rank ({len(order):,} classes)")
            ax.set_ylabel("files")
        ax.legend(frameon=False, fontsize=8)
        return _png(fig)


def size_scatter(files: pl.DataFrame, outliers: pl.DataFrame) -> str | None:
    """Width against height (log-log), flagged images in red; a fixed sample beyond SCATTER_POINTS."""
    ok = files.filter((pl.col("status") == "ok") & (pl.col("width") > 0) & (pl.col("height") > 0)).select(
        "path", "width", "height"
    )
    if ok.height == 0:
        return None
    flagged = (
        set(outliers.filter(pl.col("odd_size") | pl.col("odd_aspect"))["path"].to_list()) if outliers.height else set()
    )
    shown = ok.sample(SCATTER_POINTS, seed=0) if ok.height > SCATTER_POINTS else ok
    marked = shown["path"].is_in(list(flagged)).to_numpy() if flagged else np.zeros(shown.height, dtype=bool)
    w, h = shown["width"].to_numpy().astype(float), shown["height"].to_numpy().astype(float)
    with _context():
        fig = _figure(4.6, 3.6)
        ax = fig.subplots()
        ax.scatter(w[~marked], h[~marked], s=8, alpha=0.5, color=_SPLIT_COLORS[0], linewidths=0, label="images")
        if marked.any():
            ax.scatter(w[marked], h[marked], s=18, color=_FLAG_COLOR, linewidths=0, label="odd size / aspect")
        top = max(w.max(), h.max()) * 1.5
        ax.plot([1, top], [1, top], color="#999", lw=0.6, ls="--")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(max(1, w.min() / 1.5), top)
        ax.set_ylim(max(1, h.min() / 1.5), top)
        ax.set_xlabel("width (px)")
        ax.set_ylabel("height (px)")
        title = f"{ok.height:,} images" + (f" ({SCATTER_POINTS:,} shown)" if ok.height > SCATTER_POINTS else "")
        ax.set_title(title, fontsize=9)
        ax.legend(frameon=False, fontsize=8, loc="upper left")
        return _png(fig)


def _log_bins(values: np.ndarray, n: int = 40) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    return np.geomspace(lo, hi * 1.0001 if hi > lo else lo * 2.0, n + 1)


def measure_histograms(files: pl.DataFrame) -> str | None:
    """Brightness, sharpness, colourfulness and entropy histograms over every decoded image."""
    ok = files.filter(pl.col("status") == "ok")
    if ok.height == 0:
        return None
    panels = [
        ("brightness (luma mean)", "mean", np.linspace(0, 255, 52)),
        ("sharpness (crisp share of strong edges)", "sharpness", np.linspace(0, 1, 51)),
        ("colorfulness", "colorfulness", np.linspace(0, 150, 51)),
        ("entropy (bits)", "entropy", np.linspace(0, 8, 49)),
    ]
    with _context():
        fig = _figure(12.0, 2.6)
        for ax, (title, column, bins) in zip(fig.subplots(1, 4), panels):
            values = ok[column].drop_nulls().to_numpy() if column in ok.columns else np.zeros(0)
            counts, edges = np.histogram(np.clip(values, bins[0], bins[-1]), bins=bins)
            ax.stairs(counts, edges, fill=True, color=_SPLIT_COLORS[0], alpha=0.8)
            ax.set_title(title, fontsize=9)
        return _png(fig)


def property_comparisons(files: pl.DataFrame, rows: list[tuple[str, str, str, str]]) -> str | None:
    """One panel per judged bias: the property's distribution in a group against its comparison.

    ``rows`` are (property, column, group column, group value); the comparison is the reference
    split when the group column is ``split`` (its value after ``|``), else the rest of the classes.
    """
    ok = files.filter(pl.col("status") == "ok")
    if not rows or ok.height == 0:
        return None
    with _context():
        fig = _figure(3.2 * len(rows), 2.6)
        axes = fig.subplots(1, len(rows), squeeze=False)[0]
        for ax, (name, column, by, value) in zip(axes, rows):
            group, _, reference = value.partition("|")
            key = pl.col(by).cast(pl.String)  # labels may be numbers; the bias frames hold strings
            inside = ok.filter(key == group)[column]
            other = ok.filter(key == reference)[column] if reference else ok.filter(key != group)[column]
            other_name = reference or "other classes"
            if name in CATEGORICAL_PROPERTIES:
                cats = sorted(set(inside.cast(pl.String).drop_nulls()) | set(other.cast(pl.String).drop_nulls()))[:12]
                x = np.arange(len(cats))
                for shift, series, label, color in (
                    (-0.2, inside, group, _SPLIT_COLORS[1]),
                    (0.2, other, other_name, _SPLIT_COLORS[0]),
                ):
                    strings = series.cast(pl.String)
                    shares = [float((strings == c).mean() or 0.0) for c in cats]
                    ax.bar(x + shift, shares, width=0.4, color=color, label=_text(label, 20))
                ax.set_xticks(x, [_text(c, 8) for c in cats])
            else:
                a, b = inside.drop_nulls().cast(pl.Float64).to_numpy(), other.drop_nulls().cast(pl.Float64).to_numpy()
                both = np.concatenate([a, b])
                if both.size == 0:
                    continue
                bins = np.linspace(float(both.min()), float(both.max()) + 1e-9, 31)
                for series, label, color in ((a, group, _SPLIT_COLORS[1]), (b, other_name, _SPLIT_COLORS[0])):
                    counts, edges = np.histogram(series, bins=bins)
                    ax.stairs(counts / max(1, series.size), edges, color=color, label=_text(label, 20), linewidth=1.5)
            ax.set_title(_text(f"{name}: {group}", 30), fontsize=9)
            ax.legend(fontsize=7)
        return _png(fig)


def box_histograms(boxes: pl.DataFrame) -> str | None:
    """Box area (share of the image) and aspect (w / h) histograms, on log axes."""
    real = boxes.filter(pl.col("found") & (pl.col("area_share") > 0) & (pl.col("aspect") > 0))
    if real.height == 0:
        return None
    with _context():
        fig = _figure(7.0, 2.6)
        for ax, column, title in zip(
            fig.subplots(1, 2), ("area_share", "aspect"), ("box area / image area", "box aspect w / h")
        ):
            values = real[column].to_numpy()
            counts, edges = np.histogram(values, bins=_log_bins(values))
            ax.stairs(counts, edges, fill=True, color=_SPLIT_COLORS[1], alpha=0.8)
            ax.set_xscale("log")
            ax.set_title(title, fontsize=9)
        return _png(fig)


__all__ = ["class_histogram", "size_scatter", "measure_histograms", "box_histograms", "SCATTER_POINTS", "MAX_BARS"]
