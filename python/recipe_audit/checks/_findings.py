"""Verdicts drawn from recorded training: shared by `watch(...).report()` and the active checks."""

from __future__ import annotations

import math
from typing import TypedDict

import polars as pl

from recipe_audit.checks._report import Verdict, fmt, skip, verdict
from recipe_audit.checks._stats import (
    DEAD_FAIL,
    DEAD_WARN,
    EXPLODING_FAIL,
    SATURATED_FAIL,
    SATURATED_WARN,
    decrease_ratio,
    first_lr_near_zero,
    judge_inputs,
)
from recipe_audit.checks._torch import nn, torch


class NonFinite(TypedDict):
    """Where the first NaN/Inf appeared: the step, the phase (`NAN_HINTS`) and the place in words."""

    step: int
    phase: str
    where: str


NAN_HINTS = {
    "input": "a sample in the data holds NaN/Inf: find it with torch.isfinite(x).all() over the dataset",
    "forward": "a log of 0, a division by 0, a sqrt of a negative or an exp overflow in forward(): use log1p, eps, clamp",
    "loss": "a loss of log(0): compute cross-entropy on logits (F.cross_entropy), not log of probabilities",
    "backward": "an infinite gradient (sqrt or norm at 0): add an eps inside",
    "step": "the update diverged: lower the learning rate or clip the gradient norm",
}


def nan_verdict(first: NonFinite | None, steps: int) -> Verdict:
    """``nan_inf`` from the first non-finite place recorded (or None)."""
    if first is None:
        return verdict(
            "pass",
            0.0,
            "all finite",
            f"inputs, activations, loss, gradients and weights stayed finite over {steps} steps",
        )
    return verdict(
        "fail",
        float(first["step"]),
        "all finite",
        f"the first NaN/Inf appears at step {first['step']} ({first['phase']}) in {first['where']}",
        NAN_HINTS[first["phase"]],
    )


def first_normalizes(model: nn.Module) -> bool:
    """Whether the first leaf module normalizes its input (BatchNorm, LayerNorm, ...)."""
    for module in model.modules():
        if not list(module.children()):
            return isinstance(
                module,
                (
                    nn.modules.batchnorm._BatchNorm,
                    nn.LayerNorm,
                    nn.GroupNorm,
                    nn.modules.instancenorm._InstanceNorm,
                ),
            )
    return False


def input_verdict(channels: tuple[list[float], list[float]] | None, model: nn.Module | None) -> Verdict:
    """``input_normalization`` from per-channel means and stds of a batch entering the net."""
    if channels is None or model is None:
        return skip("the inputs are not floating point (token ids), nothing to normalize")
    status, value, message = judge_inputs(channels[0], channels[1], first_normalizes(model))
    hint = (
        ""
        if status == "pass"
        else "normalize in preprocess: (x / 255 - mean) / std per channel, the statistics of the training set"
    )
    return verdict(status, value, "per-channel |mean| <= 3 and std <= 5, some std >= 0.1", message, hint)


def activation_verdict(acts: pl.DataFrame, when: str) -> Verdict:
    """``activations`` from rows of `Watcher.activations`: dead, saturated or exploding layers."""
    if acts.is_empty():
        return skip("no floating-point activations were recorded")
    per = (
        acts.with_columns(pl.col("dead_frac", "saturated_frac", "rms_ratio").fill_nan(None))
        .group_by("module", "kind", maintain_order=True)
        .agg(
            dead=pl.col("dead_frac").max(),
            sat=pl.col("saturated_frac").max(),
            ratio=pl.col("rms_ratio").filter(~pl.col("is_output")).max(),
        )
    )
    fails: list[str] = []
    warns: list[str] = []
    worst = 0.0
    for r in per.iter_rows(named=True):
        dead, sat, ratio = r["dead"], r["sat"], r["ratio"]
        if dead is not None and dead > DEAD_WARN:
            (fails if dead > DEAD_FAIL else warns).append(
                f"`{r['module']}` {dead:.0%} of units dead (ReLU never active)"
            )
            worst = max(worst, dead)
        if sat is not None and sat > SATURATED_WARN:
            (fails if sat > SATURATED_FAIL else warns).append(
                f"`{r['module']}` {sat:.0%} of values saturated ({r['kind']})"
            )
            worst = max(worst, sat)
        if ratio is not None and ratio > EXPLODING_FAIL:
            fails.append(f"`{r['module']}` output rms {fmt(ratio)}x the input's (exploding)")
            worst = max(worst, ratio)
    expected = f"dead <= {DEAD_WARN:.0%}, saturated <= {SATURATED_WARN:.0%}, rms ratio <= {EXPLODING_FAIL:g}"
    hint = (
        "use a fan-in-scaled init (kaiming for ReLU, xavier for tanh), no large negative biases, "
        "and a smaller learning rate if layers die during training"
    )
    if fails:
        return verdict("fail", worst, expected, f"{when}: " + "; ".join(fails + warns), hint)
    if warns:
        return verdict("warn", worst, expected, f"{when}: " + "; ".join(warns), hint)
    return verdict("pass", worst, expected, f"{when}: no dead, saturated or exploding layer among {per.height}")


def frozen_reasons(
    model: nn.Module, optimizer: torch.optim.Optimizer, names: list[str], got_grad: set[str]
) -> list[str]:
    """Why each named parameter never changed: requires_grad off, not in the optimizer, no gradient."""
    params = dict(model.named_parameters())
    in_opt = {id(p): g.get("lr", None) for g in optimizer.param_groups for p in g["params"]}
    out = []
    for name in names:
        p = params[name]
        if not p.requires_grad:
            why = "requires_grad is off"
        elif id(p) not in in_opt:
            why = "not in the optimizer"
        elif in_opt[id(p)] == 0:
            why = "its param group has lr=0"
        elif name not in got_grad:
            why = "never receives a gradient (a detached branch, or unused in forward)"
        else:
            why = "its gradient is always zero"
        out.append(f"`{name}` ({why})")
    return out


def frozen_verdict(reasons: list[str], total: int, expected_frozen: tuple[str, ...], steps: int) -> Verdict:
    """``frozen_params`` from the reasons of the parameters that never changed."""
    expected = "every trainable parameter changes" + (
        f" (except {', '.join(expected_frozen)})" if expected_frozen else ""
    )
    if not reasons:
        return verdict("pass", 0.0, expected, f"all {total} parameter tensors changed over {steps} steps")
    shown = "; ".join(reasons[:8]) + (f"; and {len(reasons) - 8} more" if len(reasons) > 8 else "")
    all_frozen = len(reasons) == total
    message = (
        f"no parameter changed over {steps} steps (is optimizer.step() called?): "
        if all_frozen
        else f"{len(reasons)} of {total} parameter tensors never changed over {steps} steps: "
    ) + shown
    hint = (
        "put every trainable parameter in the optimizer (optimizer_fn(model) over model.parameters()), keep "
        "requires_grad on, and do not .detach() a branch that should learn; name deliberate freezes in frozen=(...)"
    )
    return verdict("fail", float(len(reasons)), expected, message, hint)


WARMUP_SHARE = 0.5
"""The lr must reach half the optimizer's own lr within this share of the run."""


def lr_verdict(lrs: list[float], planned: int | None, how: str, base: float | None = None) -> Verdict:
    """``lr_schedule`` from the learning rate at every step (`planned`: steps of the whole run; `base`:
    the lr the optimizer was given, to judge a warm-up by)."""
    if not lrs:
        return skip("no learning rate was recorded")
    total = planned or len(lrs)
    if base and base > 0 and lrs[-1] > 1.5 * lrs[0]:  # rising: a warm-up (a constant scale-down is not one)
        warm = next((i for i, v in enumerate(lrs) if v >= 0.5 * base), None)
        if warm is None or warm > WARMUP_SHARE * total:
            reached = max(lrs) / base
            when = "never" if warm is None else f"only at step {warm} of {total}"
            return verdict(
                "fail",
                reached,
                f"lr >= half the optimizer's lr by {WARMUP_SHARE:.0%} of the run",
                f"{how}: the lr reaches half the optimizer's lr ({fmt(base)}) {when}, at most {reached:.0%} of "
                "it: a warm-up that never ends (its length written in steps and the scheduler stepped per "
                "epoch, or a length longer than the run)",
                "write the warm-up length in the unit the scheduler is stepped in, a few percent of the run",
            )
    hit = first_lr_near_zero(lrs)
    frac = 1.0 if hit is None else hit / total
    peak = max(lrs)
    expected = "lr above 1e-3 x peak until at least 80% of the run"
    hint = (
        "step the schedule in the unit it was written in (T_max / step_size / milestones in iterations "
        "when stepped per batch, in epochs when stepped per epoch), scaled to this run's length"
    )
    if hit is None:
        return verdict(
            "pass",
            frac,
            expected,
            f"{how}: lr from {fmt(lrs[0])} (peak {fmt(peak)}) to {fmt(lrs[-1])}, never near zero before the end",
        )
    rebound = max(lrs[hit:]) > 0.1 * peak
    detail = f"{how}: lr reaches ~0 ({fmt(lrs[hit])}, peak {fmt(peak)}) at step {hit} of {total} ({frac:.0%})" + (
        "; then rises again (a cosine period far shorter than the run)" if rebound else ""
    )
    status = "fail" if frac < 0.5 else "warn" if frac < 0.8 else "pass"
    return verdict(status, frac, expected, detail, hint if status != "pass" else "")


def loss_trend(losses: list[float], fail_above: float, warn_above: float) -> Verdict:
    """``decreasing_loss`` from training losses: fail when last/first >= `fail_above`."""
    first, last, ratio = decrease_ratio(losses)
    expected = f"last/first < {warn_above:g}"
    message = f"training loss from {fmt(first)} to {fmt(last)} over {len(losses)} steps (last/first {fmt(ratio)})"
    hint = (
        "make sure optimizer.step() runs after backward(), the loss is the one being minimized, and the learning "
        "rate is neither 0 nor so large that the loss plateaus or rises"
    )
    if math.isnan(first) or math.isnan(last):
        return verdict("fail", ratio, expected, message + ": the loss is NaN", hint)
    decreased = last < first - 0.1 * abs(first) if first <= 0 else ratio < warn_above
    if decreased:
        return verdict("pass", ratio, expected, message)
    status = "fail" if (first <= 0 or ratio >= fail_above) else "warn"
    return verdict(status, ratio, expected, message + ": not decreasing", hint)
