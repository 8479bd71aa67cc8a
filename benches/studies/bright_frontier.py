"""How far can any rule of the scan's columns take `bright` on gains and overexposure? (issue 17,
"very bright", recall >= 0.95 at <= 1% false flags)

    python -m benches.studies.bright_frontier --tuning-with /tmp/oh143 /tmp/oh157 --heldout-with /tmp/oh165

Makes the faults of `outlier_exposure` on photographs of the tuning half (seed 5) and of the
held-out half (seed 167), with the white text pages made there and the ordinary pictures of the
``--*-with`` folders' same half, and scans them. The target is what the flag owes: gains x3-x12,
+3-4.5 stops, adds +100-190, blends (not x2, +2-3 stops or a gamma, which keep the blacks). On the
tuning half it fits, to the scan's columns, each of:

- the library's `bright` (its thresholds, no fit);
- OR a decision tree of depth 4 (thresholds a person can read), a false flag weighed 30 times a miss;
- OR a logistic regression on the standardised columns (one weighted sum, one bar);
- OR gradient-boosted trees (200 trees of depth 3: no single value and threshold to show).

Each added score's bar is set so that it adds 2 (or 5) false flags among the tuning half's ordinary
pictures, and every rule is then judged on the held-out half, never seen by the fits. Prints recall
and false flags on both halves.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import recipe_audit
from recipe_audit.analysis.outliers import find_outliers

from benches.studies.outlier_exposure import make, ordinary_rows, white_pages

OWED = pl.col("kind").str.starts_with("bright:") & ~pl.col("kind").is_in(
    ["bright:enhance_x2", "bright:exposure_+2_+3", "bright:gamma_0.15_0.3"]
)
"""The faults the flag owes (`outlier_exposure`'s ways)."""


def columns(frame: pl.DataFrame) -> np.ndarray:
    """The scan's columns a rule may read (nulls: nothing clipped, no text rows)."""
    return frame.select(
        "mean",
        "std",
        pl.col("luma_p01").cast(pl.Float64),
        pl.col("luma_p99").cast(pl.Float64),
        "colorfulness",
        "entropy",
        pl.col("clip_edges", "clip_edges_min", "clip_edge_depth", "row_coherence").fill_null(0.0),
    ).to_numpy()


def half(root: Path, name: str, seed: int, per_way: int, corpora: list[Path]) -> pl.DataFrame:
    """The half's faults, white pages and ordinary pictures, scanned, with the library's flags
    (the dataset median taken over this set) and ``owed`` / ``ordinary``."""
    planted = make(root / name, name, seed, per_way)
    pages = white_pages(root / name / "white_pages", seed + 1, 5 * per_way)
    table = pl.concat([planted, pages, ordinary_rows(corpora, name)])
    scanned = recipe_audit.scan(list(table["path"]), progress=False).filter(pl.col("status") == "ok")
    flags = find_outliers(scanned, by_class=False).select("path", "bright")
    judged = scanned.join(table, on="path").join(flags, on="path")
    return judged.with_columns(owed=OWED, ordinary=pl.col("kind").str.starts_with("ordinary")).filter(
        pl.col("owed") | pl.col("ordinary")
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tuning-with", type=Path, nargs="+", required=True, help="outlier_heldout folders")
    ap.add_argument("--heldout-with", type=Path, nargs="+", required=True, help="outlier_heldout folders")
    ap.add_argument("--per-way", type=int, default=30)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/bright_frontier"))
    args = ap.parse_args()
    tuning = half(args.dir, "tuning", 5, args.per_way, args.tuning_with)
    heldout = half(args.dir, "heldout", 167, args.per_way, args.heldout_with)
    x, y = columns(tuning), tuning["owed"].to_numpy()
    fits = {
        "tree of depth 4": DecisionTreeClassifier(max_depth=4, class_weight={False: 30, True: 1}, random_state=0),
        "logistic regression": make_pipeline(
            StandardScaler(), LogisticRegression(class_weight={False: 20, True: 1}, max_iter=5000)
        ),
        "gradient-boosted trees": HistGradientBoostingClassifier(
            max_depth=3, max_iter=200, learning_rate=0.05, random_state=0
        ),
    }
    print(
        f"tuning half: {int(y.sum())} faults owed, {int((~y).sum())} ordinary pictures; held-out half: "
        f"{int(heldout['owed'].sum())} and {int(heldout['ordinary'].sum())}\n"
    )
    print("| rule | tuning: recall | false flags | held out: recall | false flags |")
    print("|---|---|---|---|---|")

    def row(name: str, flagged_tuning: np.ndarray, flagged_held: np.ndarray) -> None:
        yh = heldout["owed"].to_numpy()
        print(
            f"| {name} | {flagged_tuning[y].mean():.3f} | {int(flagged_tuning[~y].sum())} "
            f"| {flagged_held[yh].mean():.3f} | {int(flagged_held[~yh].sum())} |"
        )

    library_t, library_h = tuning["bright"].to_numpy(), heldout["bright"].to_numpy()
    row("the library's `bright`", library_t, library_h)
    for name, model in fits.items():
        model.fit(x, y)
        score_t = model.predict_proba(x)[:, 1]
        score_h = model.predict_proba(columns(heldout))[:, 1]
        spare = np.sort(score_t[~y & ~library_t])
        for added in (2, 5):
            bar = spare[-added - 1] if len(spare) > added else 1.0
            row(
                f"`bright` or {name} (+{added} false on the tuning half)",
                library_t | (score_t > bar),
                library_h | (score_h > bar),
            )


if __name__ == "__main__":
    main()
