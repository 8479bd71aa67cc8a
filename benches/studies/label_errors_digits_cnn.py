"""The whole path on a real image set: sklearn's digits, labels flipped, out-of-sample probabilities
from a small CNN (`checks.out_of_sample_probs`), then `find_label_errors` and `label_noise` against
cleanlab's `find_label_issues` on the same probabilities.

    pip install cleanlab
    python -m benches.studies.label_errors_digits_cnn [--noise 0.1] [--folds 5] [--epochs 10] [--seeds 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from cleanlab.filter import find_label_issues
from sklearn.datasets import load_digits

from recipe_audit import checks, find_label_errors, label_noise


def small_cnn() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(32 * 16, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 10),
    )


def f1(flagged: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    tp = float((flagged & truth).sum())
    p, r = tp / max(1, flagged.sum()), tp / max(1, truth.sum())
    return p, r, 2 * p * r / max(1e-12, p + r)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--noise", type=float, default=0.1)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    images, y = load_digits(return_X_y=True)
    x = (images.reshape(-1, 1, 8, 8) / 16).astype(np.float32)
    print("| seed | kind | s per fold | ours P / R / F1 | cleanlab P / R / F1 | noise est. vs planted |")
    print("|---|---|---:|---|---|---|")
    for seed in range(args.seeds):
        for kind in ("symmetric", "class-conditional"):
            rng = np.random.default_rng(seed)
            noisy = y.copy()
            flip = rng.random(y.size) < args.noise
            target = (np.arange(10) + 1 + rng.integers(0, 9)) % 10
            noisy[flip] = (y[flip] + rng.integers(1, 10, flip.sum())) % 10 if kind == "symmetric" else target[y[flip]]
            started = time.perf_counter()
            probs = checks.out_of_sample_probs(
                small_cnn,
                (x, noisy),
                lambda o, t: torch.nn.functional.cross_entropy(o, t.long()),
                folds=args.folds,
                epochs=args.epochs,
                seed=seed,
                progress=False,
                optimizer_fn=lambda m: torch.optim.Adam(m.parameters(), lr=3e-3),
            )
            per_fold = (time.perf_counter() - started) / args.folds
            truth = noisy != y
            ours = f1(find_label_errors(noisy, probs).sort("index")["is_label_error"].to_numpy(), truth)
            theirs = f1(find_label_issues(noisy, probs), truth)
            estimate = float(label_noise(noisy, probs)["noise_rate"][-1])
            print(
                f"| {seed} | {kind} | {per_fold:.1f} | {ours[0]:.2f} / {ours[1]:.2f} / **{ours[2]:.3f}** | "
                f"{theirs[0]:.2f} / {theirs[1]:.2f} / **{theirs[2]:.3f}** | {estimate:.3f} vs {truth.mean():.3f} |"
            )


if __name__ == "__main__":
    main()
