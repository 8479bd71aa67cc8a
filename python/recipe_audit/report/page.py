"""The audit as one self-contained HTML page: summary, galleries, plots; no script, no network.

    recipe_audit.audit("data/").to_html("report.html")

Plots are matplotlib PNGs and thumbnails Pillow JPEGs, both embedded as data URIs; every name and
label is escaped by the template; a Content-Security-Policy forbids scripts and fetches. Galleries
and tables are capped (the constants below), so a million-file audit gives a page of the same size.
Needs the ``report`` extra: ``pip install recipe-audit[report]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import polars as pl

import recipe_audit.io.atomic as atomic
from recipe_audit._core import __version__
from recipe_audit._optional import require_all
from recipe_audit.analysis.boxes import box_stats, boxes_per_image
from recipe_audit.analysis.outliers import FLAGS, OutlierThresholds
from recipe_audit.analysis.properties import CATEGORICAL_PROPERTIES, NUMERIC_PROPERTIES
from recipe_audit.auditing.problems import IMBALANCE, PROBLEMS, SHIFT_JS, SHIFT_P
from recipe_audit.report import plots
from recipe_audit.report.escaping import CSP, common_prefix, data_uri, shown
from recipe_audit.report.template import render
from recipe_audit.report.thumbs import thumbnails
from recipe_audit.schema import PathLike

if TYPE_CHECKING:
    from recipe_audit.auditing.result import Audit

MAX_ROWS = 200
"""Rows shown in each table (broken files, annotation issues)."""
MAX_GROUPS = 24
"""Duplicate groups, leaks and label conflicts shown as thumbnails."""
MAX_MEMBERS = 6
"""Thumbnails shown per group."""
PER_FLAG = 8
"""Worst images shown per outlier flag."""
TOP_SCORES = 12
"""Images shown under "highest scores"."""
MAX_CLASSES = 60
"""Classes shown in the counts table."""


def _need() -> None:
    require_all("matplotlib", "PIL", "jinja2", extra="report", feature="the HTML report")


def _fired(leg: tuple[str, str, float], value: Any) -> bool:
    """Whether a flag's leg (column, comparison, threshold) fired on this value: the card names
    only those (a picture blurry at the finer look alone is not shown its coarse value)."""
    _, op, limit = leg
    if value is None:
        return False
    if op == "<=":
        return bool(value <= limit)
    if op == "<":
        return bool(value < limit)
    if op == ">=":
        return bool(value >= limit)
    return bool(abs(value) >= limit)  # "|z| >="


def _holds(condition: tuple[str, str, float, bool], value: Any) -> bool:
    """A leg's further condition (`OutlierThresholds.conditions`), with its own outcome where the
    value is unknown."""
    column, op, limit, when_unknown = condition
    return when_unknown if value is None else _fired((column, op, limit), value)


def _label(
    legs: tuple[tuple[str, str, float], ...],
    values: Sequence[Any],
    conditions: Sequence[tuple[tuple[str, str, float, bool], ...]] = (),
    known: dict[str, Any] | None = None,
) -> str:
    """A flagged picture's card: the values that made the flag fire, each with its threshold (the
    first leg when none can be shown, e.g. a gray picture whose colour was not measured). A leg
    with `conditions` fired only where they hold too, on the picture's `known` values."""
    extra = list(conditions) or [()] * len(legs)
    known = known or {}
    fired = [
        (leg, v)
        for leg, v, more in zip(legs, values, extra)
        if _fired(leg, v) and all(_holds(c, known.get(c[0])) for c in more)
    ] or [(legs[0], values[0])]
    return " or ".join(f"{key} {_fmt(v)} ({op} {limit:g})" for (key, op, limit), v in fired)


def _fmt(value: float | None, spec: str = ".3g") -> str:
    return "" if value is None else format(value, spec)


class _Builder:
    """Collects what the page shows, and which thumbnails it needs."""

    def __init__(self, audit: Audit) -> None:
        self.a = audit
        paths = audit.files["path"]
        self.prefix = common_prefix(str(paths.min()), str(paths.max())) if paths.len() else ""
        self.wanted: list[str] = []

    def item(self, path: str, note: str | None = None, **extra: Any) -> dict[str, Any]:
        self.wanted.append(path)
        return {"path": path, "name": shown(path, self.prefix), "note": note, "thumb": None, **extra}

    def decoded(self) -> list[str]:
        """The wanted paths the scan decoded: the only files a thumbnail is made of."""
        wanted = pl.DataFrame({"path": list(dict.fromkeys(self.wanted))}, schema={"path": pl.String})
        decoded = self.a.files.filter(pl.col("status") == "ok").join(wanted, on="path", how="semi")
        return decoded["path"].to_list()

    def broken(self) -> dict[str, Any]:
        rows = [
            {"path": p, "name": shown(p, self.prefix), "status": s, "error": e}
            for p, s, e in self.a.corrupt.select("path", "status", "error").head(MAX_ROWS).iter_rows()
        ]
        return {"rows": rows, "more": max(0, self.a.corrupt.height - MAX_ROWS)}

    def leaks(self) -> dict[str, Any]:
        items = []
        for path, split, kind, twins, count, distance in (
            self.a.leaks.select("path", "split", "kind", "train_paths", "train_count", "distance")
            .head(MAX_GROUPS)
            .iter_rows()
        ):
            items.append(
                {
                    "file": self.item(path, split),
                    "twin": self.item(twins[0], "train"),
                    "kind": kind,
                    "distance": distance,
                    "count": count,
                }
            )
        return {"cards": items, "more": max(0, self.a.leaks.height - MAX_GROUPS)}

    def conflicts(self) -> dict[str, Any]:
        groups = self.a.label_conflicts.group_by("group", maintain_order=True).agg(
            "path", "label", "split", labels=pl.col("labels").first()
        )
        items = [
            {
                "labels": ", ".join(labels),
                "members": [
                    self.item(p, f"{lab} ({sp})" if sp else lab) for p, lab, sp in list(zip(ps, ls, ss))[:MAX_MEMBERS]
                ],
            }
            for _, ps, ls, ss, labels in groups.head(MAX_GROUPS).iter_rows()
        ]
        return {"cards": items, "more": max(0, groups.height - MAX_GROUPS)}

    def label_errors(self) -> dict[str, Any] | None:
        errors, noise = self.a.label_errors, self.a.label_noise
        if errors is None or noise is None:
            return None
        flagged = errors.filter(pl.col("evidence").is_not_null())
        cards = [
            self.item(p, f"{lab} -> {sug}? quality {q:.2f} ({ev})")
            for p, lab, sug, q, ev in flagged.select("path", "label", "suggested_label", "label_quality", "evidence")
            .head(MAX_GROUPS)
            .iter_rows()
        ]
        rows = [
            {"label": lab if lab is not None else "all", "count": f"{c:,}", "rate": f"{r:.1%}", "with": w or ""}
            for lab, c, r, w in noise.select("label", "count", "noise_rate", "confused_with").iter_rows()
        ]
        return {"cards": cards, "more": max(0, flagged.height - MAX_GROUPS), "noise": rows}

    def duplicates(self) -> dict[str, Any]:
        # Cross-split and larger groups first: the ones that change results.
        dups = self.a.duplicates
        split = pl.col("split") if "split" in dups.columns else pl.lit(None, pl.String)
        groups = (
            dups.sort("representative", "path", descending=[True, False])
            .group_by("group")
            .agg("path", "kind", "distance", "representative", splits=split.n_unique(), size=pl.len())
            .sort(["splits", "size", "group"], descending=[True, True, False])
        )
        items = []
        for group, ps, kinds, dists, reps, _, size in groups.head(MAX_GROUPS).iter_rows():
            members = [
                self.item(p, "keep" if r else f"{k}, {d} bits", rep=r)
                for p, k, d, r in list(zip(ps, kinds, dists, reps))[:MAX_MEMBERS]
            ]
            items.append({"group": group, "size": size, "members": members, "hidden": max(0, size - MAX_MEMBERS)})
        return {"cards": items, "more": max(0, groups.height - MAX_GROUPS)}

    def labels(self) -> dict[str, Any]:
        stats = self.a.labels.with_columns(
            pl.col("split").fill_null("(no split)"), pl.col("reference").fill_null("(no split)")
        )
        splits = []
        for row in stats.unique("split").sort("split").iter_rows(named=True):
            js, p = row["js_divergence"], row["chi2_p"]
            splits.append(
                {
                    "split": row["split"],
                    "count": row["split_count"],
                    "classes": row["classes"],
                    "imbalance": _fmt(row["imbalance"], ".1f") + "x" if row["imbalance"] is not None else "",
                    "imbalanced": (row["imbalance"] or 0) >= IMBALANCE,
                    "entropy": _fmt(row["entropy"], ".3f"),
                    "reference": "" if js is None else row["reference"],
                    "js": _fmt(js, ".4f"),
                    "p": _fmt(p, ".2g"),
                    "shifted": js is not None and p is not None and p < SHIFT_P and js >= SHIFT_JS,
                }
            )
        missing = stats.filter(pl.col("missing")).select("split", "label")
        rare = stats.filter(pl.col("rare")).select("split", "label", "share")
        columns = stats["split"].unique().sort().to_list()
        # The pivot's columns get names of their own: a split called "label" or "total" must not
        # meet the table's other columns.
        keys = [f"split {i}" for i in range(len(columns))]
        keyed = stats.with_columns(
            key=pl.col("split")
            .cast(pl.String)
            .fill_null("\x00none")
            .replace_strict([("\x00none" if c is None else str(c)) for c in columns], keys)
        )
        wide = (
            (
                keyed.pivot(on="key", index="label", values="count", aggregate_function="first")
                .with_columns(total=pl.sum_horizontal(keys))
                .sort(["total", "label"], descending=[True, False])
            )
            if stats.height
            else pl.DataFrame()
        )
        table = (
            [
                {"label": r[0], "counts": list(r[1 : 1 + len(columns)])}
                for r in wide.select("label", *keys).head(MAX_CLASSES).iter_rows()
            ]
            if stats.height
            else []
        )
        return {
            "plot": data_uri(plots.class_histogram(self.a.labels)),
            "splits": splits,
            "missing": missing.head(40).rows(),
            "missing_more": max(0, missing.height - 40),
            "rare": [(s, lab, f"{sh:.2%}") for s, lab, sh in rare.head(40).iter_rows()],
            "rare_more": max(0, rare.height - 40),
            "columns": columns,
            "table": table,
            "table_more": max(0, wide.height - MAX_CLASSES),
        }

    def outliers(self, thresholds: OutlierThresholds) -> dict[str, Any]:
        odd, rules = self.a.outliers, thresholds.rules()
        flags = []
        for flag in FLAGS:
            legs, conditions = thresholds.legs(flag), thresholds.conditions(flag)
            shown = list(dict.fromkeys([k for k, _, _ in legs] + [c for more in conditions for c, _, _, _ in more]))
            # Columns an audit saved by an earlier release lacks are unknown values.
            hits = odd.filter(pl.col(flag)).with_columns(
                [pl.lit(None, pl.Float64).alias(c) for c in shown if c not in odd.columns]
            )
            # Worst first: the most extreme value of the measure the flag was judged on; with
            # several ways to fire (blurry, bright), the value furthest past its own threshold.
            worst_high = flag in ("bright", "odd_aspect")
            ratios = [pl.col(k) / lim for k, _, lim in legs]
            furthest = pl.max_horizontal(ratios) if worst_high else pl.min_horizontal(ratios)
            key = furthest if len(legs) > 1 else pl.col(legs[0][0])
            hits = hits.sort(
                key.abs() if flag == "odd_size" else key,
                descending=worst_high or flag == "odd_size",
                nulls_last=True,
            )
            items = [
                self.item(
                    row["path"],
                    _label(legs, [row.get(k) for k, _, _ in legs], conditions, row),
                )
                for row in hits.select("path", *shown).head(PER_FLAG).iter_rows(named=True)
            ]
            flags.append({"flag": flag, "count": hits.height, "rule": rules[flag], "cards": items})
        top = [
            self.item(p, f"score {s:.1f}" + (f" · {', '.join(f)}" if f else ""))
            for p, s, f in odd.select("path", "score", "flags").head(TOP_SCORES).iter_rows()
        ]
        return {"flags": flags, "top": top}

    def biases(self) -> dict[str, Any]:
        columns = {**NUMERIC_PROPERTIES, **CATEGORICAL_PROPERTIES}
        shift, association = self.a.property_shift, self.a.property_label_association
        t = self.a.bias_thresholds
        shown_rows = [
            (p, columns[p], "split", f"{s}|{r}")
            for p, s, r in shift.filter("shifted").select("property", "split", "reference").head(4).iter_rows()
        ] + [
            (p, columns[p], "label", lab)
            for p, lab in association.filter("associated").select("property", "label").head(4).iter_rows()
        ]
        return {
            "shift": [
                {
                    "property": p,
                    "split": s,
                    "reference": r,
                    "effect": _fmt(e),
                    "p": _fmt(pv, ".1e"),
                    "bad": bad,
                    "detail": d,
                }
                for p, s, r, e, pv, bad, d in shift.select(
                    "property", "split", "reference", "effect", "p_value", "shifted", "detail"
                )
                .head(MAX_ROWS)
                .iter_rows()
            ],
            "association": [
                {"property": p, "label": lab, "score": _fmt(e), "p": _fmt(pv, ".1e"), "bad": bad, "detail": d}
                for p, lab, e, pv, bad, d in association.select(
                    "property", "label", "score", "p_value", "associated", "detail"
                )
                .head(MAX_ROWS)
                .iter_rows()
            ],
            "plot": data_uri(plots.property_comparisons(self.a.files, shown_rows[:6])),
            "rule": (
                f"p < {t.p_value:g} and an effect (KS distance, or total variation for categories) of at least "
                f"{t.shift_effect:g}; associated: p < {t.p_value:g} and a score of at least {t.association_effect:g}, "
                f"groups of at least {t.min_count}"
            ),
        }

    def annotations(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        issues = self.a.label_issues
        rows = [
            {"path": p, "name": shown(p, self.prefix), "issue": i, "detail": d or ""}
            for p, i, d in issues.head(MAX_ROWS).iter_rows()
        ]
        boxes = None
        if self.a.boxes is not None:
            stats = box_stats(self.a.boxes)
            per_image = boxes_per_image(self.a.boxes)["boxes"]
            boxes = {
                "per_image": (
                    f"{per_image.len():,} annotated images: median {cast(float, per_image.median()):g} boxes per image, "
                    f"max {per_image.max()!s}, {int((per_image == 0).sum()):,} without objects"
                    if per_image.len()
                    else "no annotated image was found among the scanned files"
                ),
                "plot": data_uri(plots.box_histograms(self.a.boxes)),
                "rows": [
                    {
                        "label": r["label"],
                        "boxes": r["boxes"],
                        "images": r["images"],
                        "area": _fmt(r["area_median"], ".2%"),
                        "aspect": _fmt(r["aspect_median"], ".2f"),
                        "small": _fmt(r["small"], ".0%"),
                    }
                    for r in stats.head(MAX_CLASSES).iter_rows(named=True)
                ],
                "more": max(0, stats.height - MAX_CLASSES),
            }
        return {"rows": rows, "more": max(0, issues.height - MAX_ROWS)}, boxes


def _fill(node: Any, thumbs: dict[str, str | None]) -> None:
    """Put each item's thumbnail in place (items are dicts with a ``thumb`` key)."""
    if isinstance(node, dict):
        if "thumb" in node and "path" in node:
            node["thumb"] = data_uri(thumbs.get(node["path"]))
        for value in node.values():
            _fill(value, thumbs)
    elif isinstance(node, list):
        for value in node:
            _fill(value, thumbs)


def render_html(audit: Audit, *, thresholds: OutlierThresholds | None = None, progress: bool = False) -> str:
    """The report as a string (see `write_report`).

    Example:
        >>> html = recipe_audit.report.render_html(recipe_audit.audit("data/"))   # doctest: +SKIP
    """
    _need()
    b = _Builder(audit)
    problems = audit.problems()
    issues, boxes = b.annotations()
    context: dict[str, Any] = {
        "csp": CSP,
        "title": b.prefix.rstrip("/") or "(files)",
        "n_files": f"{audit.files.height:,}",
        "version": __version__,
        "summary": audit.summary(),
        "problems": [(name, problems[name]) for name in PROBLEMS if problems[name]],
        "clean": [name for name in PROBLEMS if not problems[name]],
        "broken": b.broken(),
        "leaks": b.leaks(),
        "conflicts": b.conflicts(),
        "label_errors": b.label_errors(),
        "duplicates": b.duplicates(),
        "labels": b.labels(),
        "plots": {
            "scatter": data_uri(plots.size_scatter(audit.files, audit.outliers)),
            "measures": data_uri(plots.measure_histograms(audit.files)),
        },
        "outliers": b.outliers(thresholds or OutlierThresholds()),
        "biases": b.biases(),
        "issues": issues,
        "boxes": boxes,
        "caps": f"{MAX_GROUPS} groups of up to {MAX_MEMBERS}, {PER_FLAG} per flag, {MAX_ROWS} table rows",
        "timing": ", ".join(f"{k} {v:.2f} s" for k, v in audit.seconds.items()) or "n/a",
    }
    context["nav"] = (
        [
            ("summary", "Summary", 0),
            ("broken", "Broken", problems["corrupt"]),
            ("leaks", "Leaks", problems["leaks"]),
            ("conflicts", "Label conflicts", problems["label_conflicts"]),
        ]
        + ([("label-errors", "Label errors", problems["label_errors"])] if audit.label_errors is not None else [])
        + [
            ("duplicates", "Duplicates", problems["duplicates"]),
            ("labels", "Labels", problems["missing_classes"] + problems["split_shift"]),
            ("pixels", "Sizes and pixels", 0),
            ("outliers", "Outliers", problems["outliers"]),
            ("biases", "Biases", problems["property_shift"] + problems["property_label_association"]),
        ]
        + ([("annotations", "Annotations", problems["label_issues"])] if issues["rows"] or boxes else [])
    )
    _fill(context, thumbnails(b.decoded(), progress=progress))
    return render(context)


def write_report(
    audit: Audit, path: PathLike, *, thresholds: OutlierThresholds | None = None, progress: bool = False
) -> Path:
    """Write the report to `path` (UTF-8) and return it; the folder must exist.

    Example:
        >>> recipe_audit.report.write_report(recipe_audit.audit("data/"), "report.html")  # doctest: +SKIP
    """
    out = Path(path)
    if not out.parent.is_dir():
        raise FileNotFoundError(f"write_report: the folder {str(out.parent)!r} does not exist; create it first")
    return atomic.write_text(out, render_html(audit, thresholds=thresholds, progress=progress))


__all__ = [
    "render_html",
    "write_report",
    "MAX_ROWS",
    "MAX_GROUPS",
    "MAX_MEMBERS",
    "PER_FLAG",
    "TOP_SCORES",
    "MAX_CLASSES",
]
