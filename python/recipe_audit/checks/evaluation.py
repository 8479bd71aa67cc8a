"""'Add significant digits to your eval': the loss over the whole evaluation set with a confidence
interval, and whether two runs differ by more than the evaluation's own noise.

The interval is the normal approximation over per-sample losses (mean +- z x std / sqrt(n)); two
runs scored on the same samples are compared pairwise (per-sample differences, which removes the
samples' own difficulty from the noise), otherwise as two independent means (Welch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from recipe_audit.checks._torch import LossFn, Predict, Preprocess, nn
from recipe_audit.checks.ranking import rank_by_loss


@dataclass(frozen=True)
class EvalLoss:
    """The mean per-sample loss over an evaluation set, its confidence interval, and the losses themselves
    (in dataset order, so two runs on the same set compare sample by sample)."""

    mean: float
    low: float
    high: float
    n: int
    std: float
    confidence: float
    losses: tuple[float, ...]

    def __str__(self) -> str:
        return f"{self.mean:.4g} ({self.confidence:.0%} CI {self.low:.4g} .. {self.high:.4g}, n={self.n})"


def _interval(mean: float, std: float, n: int, confidence: float) -> tuple[float, float]:
    half = NormalDist().inv_cdf(0.5 + confidence / 2) * std / math.sqrt(n) if n > 1 else math.inf
    return mean - half, mean + half


def eval_loss(
    model: nn.Module,
    data: Any,
    loss_fn: LossFn | None = None,
    *,
    predict: Predict | None = None,
    preprocess: Preprocess | None = None,
    confidence: float = 0.95,
    batch_size: int = 256,
) -> EvalLoss:
    """The loss of `model` on every sample of `data` (in dataset order), with a `confidence` interval.

    Args:
        model: the trained ``nn.Module``.
        data: the whole evaluation set: ``(X, y)`` tensors, a DataLoader over a map-style dataset
            (read in dataset order), or a factory of either.
        loss_fn: ``loss_fn(outputs, targets)`` on one-sample slices; default cross-entropy for integer
            labels, squared error for float targets (a sequence's loss is its mean over positions).
        predict, preprocess: as in training (default predict: eval mode, no grad).

    Example:
        >>> a = checks.eval_loss(model_a, (X_test, y_test))   # doctest: +SKIP
        >>> print(a)          # 0.1432 (95% CI 0.1204 .. 0.166, n=497)   # doctest: +SKIP
    """
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    table = rank_by_loss(
        model, data, loss_fn=loss_fn, preprocess=preprocess, predict=predict, batch_size=batch_size
    ).sort("index")
    losses = tuple(float(v) for v in table["loss"].to_list())
    n = len(losses)
    if n == 0:
        raise ValueError("the evaluation data is empty")
    mean = sum(losses) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in losses) / (n - 1)) if n > 1 else 0.0
    low, high = _interval(mean, std, n, confidence)
    return EvalLoss(mean, low, high, n, std, confidence, losses)


@dataclass(frozen=True)
class Comparison:
    """B's loss minus A's with its confidence interval; ``significant`` when the interval excludes 0."""

    difference: float
    low: float
    high: float
    paired: bool
    significant: bool
    message: str


def compare_runs(
    a: EvalLoss, b: EvalLoss, *, paired: bool | None = None, confidence: float | None = None
) -> Comparison:
    """Whether run B's evaluation loss differs from run A's by more than the evaluation's noise.

    Args:
        a, b: `eval_loss` results.
        paired: compare sample by sample (the same evaluation set in the same order); default: when
            both hold the same number of samples.
        confidence: of the interval on the difference (default: `a`'s).

    Example:
        >>> c = checks.compare_runs(checks.eval_loss(m1, test), checks.eval_loss(m2, test))  # doctest: +SKIP
        >>> c.significant, c.message                                                          # doctest: +SKIP
    """
    level = confidence if confidence is not None else a.confidence
    paired = (a.n == b.n) if paired is None else paired
    if paired:
        if a.n != b.n:
            raise ValueError(f"a paired comparison needs the same samples: {a.n} vs {b.n}")
        diffs = [vb - va for va, vb in zip(a.losses, b.losses)]
        diff = sum(diffs) / len(diffs)
        std = math.sqrt(sum((d - diff) ** 2 for d in diffs) / (len(diffs) - 1)) if len(diffs) > 1 else 0.0
        low, high = _interval(diff, std, len(diffs), level)
        how = f"paired over {a.n} samples"
    else:
        diff = b.mean - a.mean
        se = math.sqrt(a.std**2 / a.n + b.std**2 / b.n)
        half = NormalDist().inv_cdf(0.5 + level / 2) * se
        low, high = diff - half, diff + half
        how = f"unpaired, {a.n} and {b.n} samples"
    significant = low > 0 or high < 0
    verdict = (
        ("B is worse" if diff > 0 else "B is better") + " (significant)"
        if significant
        else "not significant: the difference is within the evaluation's noise"
    )
    message = f"loss B - A = {diff:+.4g} ({level:.0%} CI {low:+.4g} .. {high:+.4g}, {how}): {verdict}"
    return Comparison(diff, low, high, paired, significant, message)
