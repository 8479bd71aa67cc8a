"""Tensor statistics and the verdicts drawn from them, shared by the active checks and `watch`."""

from __future__ import annotations

import math
from typing import TypedDict

from recipe_audit.checks._report import fmt
from recipe_audit.checks._torch import nn, torch

DEAD_FAIL, DEAD_WARN = 0.5, 0.25
"""Share of a ReLU layer's units that are zero for every sample in a batch."""
SATURATED_FAIL, SATURATED_WARN = 0.5, 0.25
"""Share of a tanh/sigmoid layer's values within 1% of their bounds."""
EXPLODING_FAIL = 100.0
"""A layer's output rms over the network input's rms (the network's output layer excluded)."""
INPUT_FAIL, INPUT_WARN = (10.0, 10.0), (3.0, 5.0)
"""Per-channel (|mean|, std) of what enters the net beyond which inputs are not normalized."""
FLAT_FAIL, FLAT_WARN = 0.01, 0.1
"""Largest per-channel std below which inputs are nearly constant (normalized with a far too large std)."""
NEAR_ZERO_LR = 1e-3
"""A learning rate at or below this share of its peak counts as near zero."""


class InputStats(TypedDict):
    """Scalar statistics of one input batch (`input_stats`)."""

    input_mean: float
    input_std: float
    input_min: float
    input_max: float
    input_rms: float
    input_nonfinite: int
    batch_size: int
    fingerprint: tuple[tuple[int, ...], float]


def activation_kind(module: nn.Module) -> str:
    """``relu`` (can die), ``tanh``/``sigmoid`` (can saturate) or ``other``."""
    if isinstance(module, (nn.ReLU, nn.ReLU6)):
        return "relu"
    if isinstance(module, (nn.Tanh, nn.Hardtanh)):
        return "tanh"
    if isinstance(module, (nn.Sigmoid, nn.Hardsigmoid)):
        return "sigmoid"
    return "other"


def _units(x: torch.Tensor) -> torch.Tensor:
    """[units, values]: channels (dim 1) of 4-D+ tensors, the last dim of 2-D/3-D ones."""
    if x.dim() >= 4:
        return x.transpose(0, 1).reshape(x.shape[1], -1)
    if x.dim() >= 2:
        return x.reshape(-1, x.shape[-1]).t()
    return x.reshape(1, -1)


def channel_stats(x: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of a float batch (channels as in `_units`)."""
    flat = _units(x.detach().float())
    return flat.mean(1).tolist(), flat.std(1, unbiased=False).tolist()


def input_stats(x: torch.Tensor) -> InputStats:
    """Scalar statistics of an input batch, and a fingerprint to spot a repeated batch."""
    t = x.detach()
    floating = t.is_floating_point()
    f = t.float()
    finite = torch.isfinite(f)
    good = f[finite] if floating else f
    n = good.numel()
    flat = f.reshape(-1)
    head = flat[: min(4096, flat.numel())]
    weights = torch.arange(1, head.numel() + 1, device=head.device, dtype=head.dtype)
    return {
        "input_mean": float(good.mean()) if n else math.nan,
        "input_std": float(good.std(unbiased=False)) if n else math.nan,
        "input_min": float(good.min()) if n else math.nan,
        "input_max": float(good.max()) if n else math.nan,
        "input_rms": float(good.pow(2).mean().sqrt()) if (n and floating) else 1.0,
        "input_nonfinite": int((~finite).sum()),
        "batch_size": int(t.shape[0]) if t.dim() else 1,
        "fingerprint": (tuple(t.shape), round(float(torch.nan_to_num(head * weights).sum()), 6)),
    }


def activation_stats(out: torch.Tensor, kind: str) -> dict[str, float]:
    """rms, mean, std, dead share of units (relu) and saturated share of values (tanh/sigmoid)."""
    x = out.detach().float()
    row = {
        "mean": float(x.mean()),
        "std": float(x.std(unbiased=False)) if x.numel() > 1 else 0.0,
        "rms": float(x.pow(2).mean().sqrt()),
        "dead_frac": math.nan,
        "saturated_frac": math.nan,
    }
    if kind == "relu":
        row["dead_frac"] = float((~(_units(x) != 0).any(1)).float().mean())
    elif kind == "tanh":
        row["saturated_frac"] = float((x.abs() > 0.99).float().mean())
    elif kind == "sigmoid":
        row["saturated_frac"] = float(((x < 0.01) | (x > 0.99)).float().mean())
    return row


def judge_inputs(means: list[float], stds: list[float], first_normalizes: bool) -> tuple[str, float, str]:
    """(status, worst of per-channel |mean| and std, message) for what enters the net."""
    abs_means = [abs(m) for m in means]
    worst_mean, worst_std = max(abs_means), max(stds)
    worst = max(worst_mean, worst_std)
    where = abs_means.index(worst_mean) if worst_mean >= worst_std else stds.index(worst_std)
    detail = (
        f"{len(means)} channel(s): |mean| up to {fmt(worst_mean)}, std up to {fmt(worst_std)} "
        f"(worst: channel {where}, mean {fmt(means[where])}, std {fmt(stds[where])})"
    )
    if worst_mean > INPUT_FAIL[0] or worst_std > INPUT_FAIL[1]:
        looks = " These look like raw 0-255 pixels." if 30 < max(means) < 255 and min(means) >= 0 else ""
        if first_normalizes:
            return "warn", worst, f"inputs are not normalized: {detail}; the first layer normalizes them.{looks}"
        return "fail", worst, f"inputs are far from normalized: {detail}.{looks}"
    if worst_std < FLAT_WARN:
        status = "fail" if worst_std < FLAT_FAIL else "warn"
        return (
            status,
            worst_std,
            (
                f"inputs are nearly constant: {detail}: no channel varies by more than "
                f"{fmt(worst_std)} (divided by a std far too large, e.g. 0-255 statistics on 0-1 pixels)"
            ),
        )
    if worst_mean > INPUT_WARN[0] or worst_std > INPUT_WARN[1]:
        return "warn", worst, f"inputs are only roughly normalized: {detail}"
    return "pass", worst, f"inputs look normalized: {detail}"


def first_lr_near_zero(lrs: list[float]) -> int | None:
    """Index of the first learning rate <= `NEAR_ZERO_LR` x its peak, after the peak; None if never."""
    if not lrs:
        return None
    peak = max(lrs)
    peak_at = next(i for i, v in enumerate(lrs) if v >= peak * (1 - 1e-6))  # the first peak (float noise aside)
    if peak <= 0:
        return 0
    for i in range(peak_at, len(lrs)):
        if lrs[i] <= NEAR_ZERO_LR * peak * (1 + 1e-9):
            return i
    return None


def decrease_ratio(losses: list[float]) -> tuple[float, float, float]:
    """(mean of the first window, mean of the last window, last/first); windows are a tenth of the run."""
    k = max(3, len(losses) // 10)
    first = sum(losses[:k]) / k
    last = sum(losses[-k:]) / k
    if first == 0:
        return first, last, math.inf if last > 0 else 1.0
    return first, last, last / first if first > 0 else math.nan
