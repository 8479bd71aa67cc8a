"""The texts a person reads in ten seconds: the audit's summary (`Audit.summary`) and the scan's
(``recipe-audit DIR``), built from the frames the searches return."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from recipe_audit.analysis.outliers import FLAGS
from recipe_audit.auditing.problems import IMBALANCE, shifted
from recipe_audit.dedup.duplicates import find_duplicates
from recipe_audit.dedup.leaks import find_label_conflicts, find_leaks

if TYPE_CHECKING:
    from recipe_audit.auditing.result import Audit


def _count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def _example(frame: pl.DataFrame, column: str = "path") -> str:
    return f" (e.g. {frame[column][0]})" if frame.height else ""


def audit_summary(a: Audit) -> str:
    """Header, then one line per problem found (most important first), then what is fine."""
    files, n = a.files, a.problems()
    decoded = files.filter(pl.col("status") == "ok").height
    head = f"{_count(files.height, 'file')}, {decoded:,} decoded"
    if "label" in files.columns and files["label"].drop_nulls().len():
        head += f", {_count(files['label'].n_unique() - (1 if files['label'].null_count() else 0), 'class', 'classes')}"
    if "split" in files.columns and files["split"].drop_nulls().len():
        splits = files.group_by("split").len().drop_nulls().sort("split")
        head += " (" + ", ".join(f"{s} {c:,}" for s, c in splits.iter_rows()) + ")"
    if a.boxes is not None:
        head += f", {_count(a.boxes.filter(pl.col('found') & pl.col('x').is_not_null()).height, 'box', 'boxes')}"
    total = sum(a.seconds.values())
    lines = [f"recipe-audit: {head}" + (f" in {total:.1f} s" if total else "")]
    per_split = a.labels.unique("split", maintain_order=True) if a.labels.height else a.labels
    items: list[str] = []
    if n["leaks"]:
        items.append(f"{_count(n['leaks'], 'file')} in val/test with a copy in train (leaks){_example(a.leaks)}")
    if n["label_conflicts"]:
        items.append(
            f"{_count(n['label_conflicts'], 'group')} of copies with different labels{_example(a.label_conflicts)}"
        )
    if n["label_errors"] and a.label_errors is not None and a.label_noise is not None:
        flagged = a.label_errors.filter(pl.col("evidence").is_not_null())
        worst = (
            a.label_noise.filter(pl.col("label").is_not_null()).sort("noise_rate", descending=True).row(0, named=True)
        )
        items.append(
            f"{_count(n['label_errors'], 'file')} probably mislabelled (estimated noise "
            f"{a.label_noise['noise_rate'][-1]:.1%}; worst class {worst['label']} {worst['noise_rate']:.0%}, "
            f"mostly {worst['confused_with']}){_example(flagged)}"
        )
    if n["corrupt"]:
        kinds = a.corrupt.group_by("status").len().sort(["len", "status"], descending=[True, False])
        items.append(
            f"{_count(n['corrupt'], 'broken file')} ("
            + ", ".join(f"{c:,} {s}" for s, c in kinds.iter_rows())
            + f"){_example(a.corrupt)}"
        )
    if n["split_shift"]:
        moved_splits = per_split.filter(shifted())
        items.append(
            f"{_count(n['split_shift'], 'split')} with a different class mix than {moved_splits['reference'][0]}: "
            + ", ".join(
                f"{s} (JS {js:.3f}, p={p:.1e})"
                for s, js, p in moved_splits.select("split", "js_divergence", "chi2_p").iter_rows()
            )
        )
    if n["property_shift"]:
        moved = a.property_shift.filter("shifted")
        items.append(
            f"{_count(n['property_shift'], 'image property', 'image properties')} shifted from "
            f"{moved['reference'][0]}: "
            + ", ".join(f"{s} {p} ({d})" for p, s, d in moved.select("property", "split", "detail").head(4).iter_rows())
        )
    if n["missing_classes"]:
        missing = a.labels.filter(pl.col("missing"))
        items.append(
            f"{_count(n['missing_classes'], 'class', 'classes')} missing from a split: "
            + ", ".join(
                f"{lab} in {s or '(no split)'}" for s, lab in missing.select("split", "label").head(5).iter_rows()
            )
        )
    if n["duplicates"]:
        groups, copies = a.duplicates["group"].n_unique(), a.duplicates.filter(~pl.col("representative"))
        items.append(
            f"{_count(n['duplicates'], 'redundant copy', 'redundant copies')} in {_count(groups, 'duplicate group')}"
            + _example(copies)
        )
    if n["label_issues"]:
        kinds = a.label_issues.group_by("issue").len().sort(["len", "issue"], descending=[True, False])
        items.append(
            f"{_count(n['label_issues'], 'annotation problem')}: "
            + ", ".join(f"{c:,} {i}" for i, c in kinds.iter_rows())
        )
    if n["unlabelled"]:
        items.append(f"{_count(n['unlabelled'], 'decoded file')} without a label")
    if n["imbalance"]:
        worst_splits = per_split.filter(pl.col("imbalance") >= IMBALANCE).sort("imbalance", descending=True)
        items.append(
            "class imbalance: "
            + ", ".join(f"{s} {r:.0f}x" for s, r in worst_splits.select("split", "imbalance").iter_rows())
        )
    if n["rare_classes"]:
        rare = a.labels.filter(pl.col("rare")).select("split", "label", "share").head(5)
        items.append(
            f"{_count(n['rare_classes'], 'rare class', 'rare classes')}: "
            + ", ".join(f"{lab} in {s or '(no split)'} ({sh:.1%})" for s, lab, sh in rare.iter_rows())
        )
    if n["property_label_association"]:
        tells = a.property_label_association.filter("associated")
        items.append(
            f"{_count(n['property_label_association'], 'property', 'properties')} that give a class away (a shortcut to learn): "
            + ", ".join(
                f"{p} of {lab} ({d})" for p, lab, d in tells.select("property", "label", "detail").head(4).iter_rows()
            )
        )
    if n["outliers"]:
        fired = ", ".join(f"{n[f]} {f}" for f in FLAGS if n[f])
        items.append(
            f"{_count(n['outliers'], 'odd image')}: {fired}{_example(a.outliers.filter(pl.col('flags').list.len() > 0))}"
        )
    if n["ext_mismatch"]:
        items.append(f"{_count(n['ext_mismatch'], 'file')} whose extension names another format")
    if not items:
        lines.append("no problems found")
    lines += [f"  {i + 1}. {item}" for i, item in enumerate(items)]
    return "\n".join(lines)


def _plain_count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def scan_summary(files: pl.DataFrame, seconds: float, dups: pl.DataFrame | None = None) -> str:
    """A short text a person reads in ten seconds: counts, broken files, copies, leaks, conflicts
    (`dups`: the duplicate groups when already found, e.g. on a cluster)."""
    lines = [
        f"{_plain_count(files.height, 'file')} in {seconds:.2f} s ({files.height / max(seconds, 1e-9):.0f} files/s)"
    ]
    for column in ("status", "format"):
        counts = files.group_by(column).len().sort(["len", column], descending=[True, False])
        lines.append(f"  by {column}: " + ", ".join(f"{v} {n}" for v, n in counts.iter_rows()))
    broken = files.filter(pl.col("status") != "ok")
    if broken.height:
        lines.append(f"\n{_plain_count(broken.height, 'broken or unreadable file')}:")
        for path, status, error in broken.select("path", "status", "error").head(20).iter_rows():
            lines.append(f"  {status:<11} {path}: {error}")
        if broken.height > 20:
            lines.append(f"  ... and {broken.height - 20} more")
    mismatched = files.filter(pl.col("ext_mismatch"))
    if mismatched.height:
        lines.append(f"\n{_plain_count(mismatched.height, 'file')} whose extension names another format:")
        for path, fmt in mismatched.select("path", "format").head(10).iter_rows():
            lines.append(f"  {path} is really {fmt}")
    dups = find_duplicates(files) if dups is None else dups
    if dups.height:
        groups = dups.group_by("group", maintain_order=True).agg(
            pl.col("path"), pl.col("kind").first(), pl.col("distance").max()
        )
        lines.append(
            f"\n{_plain_count(groups.height, 'group')} of duplicates (bits: pHash distance to the file to keep):"
        )
        for paths, kind, distance in groups.select("path", "kind", "distance").head(10).iter_rows():
            lines.append(f"  [{kind}, <= {distance} bits] " + "  ==  ".join(paths))
    if "split" in files.columns and files["split"].drop_nulls().len():
        leaks = find_leaks(files, dups)
        if leaks.height:
            lines.append(f"\n{_plain_count(leaks.height, 'file')} outside train with a copy in train (leaks):")
            for path, twins in leaks.select("path", "train_paths").head(10).iter_rows():
                lines.append(f"  {path}  ==  {twins[0]}")
    if files["label"].drop_nulls().len():
        conflicts = find_label_conflicts(files, dups)
        if conflicts.height:
            per_group = conflicts.group_by("group", maintain_order=True).agg(pl.col("path"), pl.col("labels").first())
            lines.append(f"\n{_plain_count(per_group.height, 'group')} of copies with different labels:")
            for paths, labels in per_group.select("path", "labels").head(10).iter_rows():
                lines.append(f"  {labels}: " + "  ==  ".join(paths))
    return "\n".join(lines)


__all__ = ["audit_summary", "scan_summary"]
