"""find_label_errors / label_noise against cleanlab's find_label_issues on the same pred_probs.

    pip install cleanlab
    python -m benches.studies.label_errors_compare [--seeds 3]

Real labelled sets shipped offline by scikit-learn (digits, wine, breast cancer, iris), labels
flipped at 5%, 10% and 20%, symmetric (to any other class) or class-conditional (each class to
one fixed other class, a "3" read as an "8"). Out-of-sample probabilities: 5-fold
`cross_val_predict` of a standardised logistic regression trained on the noisy labels. Prints,
per set, noise and rate: precision, recall and F1 of `is_label_error` against the planted flips for
both tools, and the largest error of `label_noise`'s per-class rate against the planted rate.
"""

from __future__ import annotations

import argparse

import numpy as np
from cleanlab.filter import find_label_issues
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from recipe_audit.analysis.label_errors import find_label_errors, label_noise

SETS = {"digits": load_digits, "wine": load_wine, "breast_cancer": load_breast_cancer, "iris": load_iris}


def plant(rng: np.random.Generator, y: np.ndarray, rate: float, kind: str) -> np.ndarray:
    k = int(y.max()) + 1
    noisy = y.copy()
    flip = rng.random(y.size) < rate
    if kind == "symmetric":
        noisy[flip] = (y[flip] + rng.integers(1, k, flip.sum())) % k
    else:
        target = rng.permutation(k)
        target = np.where(target == np.arange(k), (target + 1) % k, target)  # never to itself
        noisy[flip] = target[y[flip]]
    return noisy


def scores(flagged: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    tp = float((flagged & truth).sum())
    precision = tp / max(1, flagged.sum())
    recall = tp / max(1, truth.sum())
    return precision, recall, 2 * precision * recall / max(1e-12, precision + recall)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    print(
        "| set | noise | rate | ours P / R / F1 | cleanlab P / R / F1 | noise rate: worst class error | overall est. vs planted |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, loader in SETS.items():
        x, y = loader(return_X_y=True)
        k = int(y.max()) + 1
        for kind in ("symmetric", "class-conditional"):
            for rate in (0.05, 0.1, 0.2):
                ours, theirs, worst, overall = [], [], [], []
                for seed in range(args.seeds):
                    rng = np.random.default_rng(seed)
                    noisy = plant(rng, y, rate, kind)
                    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
                    probs = cross_val_predict(model, x, noisy, cv=5, method="predict_proba")
                    truth = noisy != y
                    ours.append(
                        scores(find_label_errors(noisy, probs).sort("index")["is_label_error"].to_numpy(), truth)
                    )
                    theirs.append(scores(find_label_issues(noisy, probs), truth))
                    noise = label_noise(noisy, probs)
                    planted = np.array([truth[noisy == c].mean() for c in range(k)])
                    worst.append(float(np.abs(noise["noise_rate"].to_numpy()[:k] - planted).max()))
                    overall.append((float(noise["noise_rate"][-1]), float(truth.mean())))
                o, t = np.mean(ours, axis=0), np.mean(theirs, axis=0)
                est, real = np.mean(overall, axis=0)
                print(
                    f"| {name} | {kind} | {rate:.0%} | {o[0]:.2f} / {o[1]:.2f} / **{o[2]:.3f}** | "
                    f"{t[0]:.2f} / {t[1]:.2f} / **{t[2]:.3f}** | {np.mean(worst):.3f} | {est:.3f} vs {real:.3f} |"
                )


if __name__ == "__main__":
    main()
