"""Checks that train: the input-independent baseline, overfitting one batch, a decreasing loss."""

from __future__ import annotations

from typing import Any

import polars as pl

from recipe_audit.checks._findings import loss_trend_row
from recipe_audit.checks._outputs import describe, predicted_labels
from recipe_audit.checks._report import Row, fmt, row
from recipe_audit.checks._runner import single
from recipe_audit.checks._setup import Setup, seed_all
from recipe_audit.checks._stats import decrease_ratio

BASELINE_RATIO = 0.95
"""Real inputs must end below this share of the zeroed-input loss."""
OVERFIT_RATIO = 0.05
"""Overfitting one batch must bring the loss below this share of its first value."""
DECREASE_FAIL, DECREASE_WARN = 0.95, 0.8
"""The last tenth of the baseline's losses over the first tenth: at or above fails / warns."""


def _input_independent_baseline(setup: Setup) -> Row:
    real = setup.baseline()
    zero = setup.train(setup.budget.steps, zero_inputs=True)
    _, real_last, _ = decrease_ratio(real.losses)
    _, zero_last, _ = decrease_ratio(zero.losses)
    ratio = real_last / zero_last if zero_last > 0 else float("nan")
    expected = f"real/zeroed < {BASELINE_RATIO}"
    message = (f"after {setup.budget.steps} steps the loss is {fmt(real_last)} with real inputs and "
               f"{fmt(zero_last)} with zeroed inputs (ratio {fmt(ratio)})")
    if zero_last > 0 and real_last < BASELINE_RATIO * zero_last:
        return row("input_independent_baseline", "pass", ratio, expected, message)
    return row("input_independent_baseline", "fail", ratio, expected,
               message + ": the model learns nothing from its inputs",
               "check that forward() uses its input, and that preprocessing keeps the information (look at show_batch)")


def _matches(setup: Setup, model: Any, x: Any, y: Any) -> tuple[float, str]:
    """(share of predictions matching the labels, in words) with the user's `predict`."""
    out = setup.outputs(model, x)
    target = describe(setup.task, out, y)
    pred = predicted_labels(target, out, setup.activation())
    if target.kind == "regression":
        yf = y.float().reshape(pred.shape)
        r2 = 1 - float(((pred - yf) ** 2).sum() / ((yf - yf.mean()) ** 2).sum().clamp_min(1e-12))
        return (1.0 if r2 >= 0.95 else max(r2, 0.0)), f"R^2 {fmt(r2)}"
    share = float((pred.reshape(y.shape) == y).float().mean())
    return share, f"{share:.0%} of predictions match the labels"


def _overfit_one_batch(setup: Setup) -> Row:
    n = setup.budget.overfit_examples
    seed_all(setup.budget.seed)
    x, y = setup.data.take(n)
    x, y = setup.prepare(x, y, train=False)
    model = setup.fresh_model()
    optimizer = setup.optimizer_fn(model)
    first, loss, share, words, steps = None, float("nan"), 0.0, "", 0
    for steps in range(1, setup.budget.overfit_steps + 1):
        loss = setup.step(model, optimizer, x, y)
        first = loss if first is None else first
        if steps % 25 == 0 or steps == setup.budget.overfit_steps:
            share, words = _matches(setup, model, x, y)
            low = first is not None and (first <= 0 or loss <= OVERFIT_RATIO * first)
            if low and share == 1.0:
                break
    ratio = loss / first if first else float("nan")
    expected = f"loss <= {OVERFIT_RATIO} x its first value and every prediction right"
    message = f"{len(x)} examples, {steps} steps: loss {fmt(first or 0)} -> {fmt(loss)} (ratio {fmt(ratio)}), {words}"
    low = first is not None and (first <= 0 or loss <= OVERFIT_RATIO * first)
    if low and share == 1.0:
        return row("overfit_one_batch", "pass", ratio, expected, message)
    if low:
        return row("overfit_one_batch", "fail", ratio, expected,
                   message + ": the loss is near zero but the predictions do not match the labels given, so the step "
                   "trains on other targets (labels shifted or misaligned in the step) or predict() differs from training",
                   "compute the loss on the (x, y) pair as given; compare predict() with the training forward")
    return row("overfit_one_batch", "fail", ratio, expected, message + ": cannot memorize a tiny batch",
               "a bug in the step (optimizer.step missing, loss not minimized), too little capacity, or a lr far off")


def _decreasing_loss(setup: Setup) -> Row:
    base = setup.baseline()
    trend = loss_trend_row(base.losses, DECREASE_FAIL, DECREASE_WARN)
    width = setup.width_default()
    if width is None:
        return row("decreasing_loss", trend.status, trend.value, trend.expected,
                   trend.message + f" (capacity not varied: model_fn has no int `{setup.width_arg}` argument)",
                   trend.hint)
    narrow_params = sum(p.numel() for p in base.model.parameters())
    wider = setup.train(setup.budget.steps, model_kwargs={setup.width_arg: 2 * width})
    wide_params = sum(p.numel() for p in wider.model.parameters())
    _, narrow_last, _ = decrease_ratio(base.losses)
    _, wide_last, _ = decrease_ratio(wider.losses)
    cap = f"{setup.width_arg}={2 * width}: {fmt(wide_last)} vs {fmt(narrow_last)} at {setup.width_arg}={width}"
    status, hint = trend.status, trend.hint
    if wide_params == narrow_params:
        status = "fail" if status == "fail" else "warn"
        cap += f": `{setup.width_arg}` has no effect on the model ({wide_params} parameters either way)"
        hint = hint or f"pass {setup.width_arg} through to the layers it should widen"
    elif wide_last > narrow_last * 1.05 + 1e-3:
        status = "fail" if status == "fail" else "warn"
        cap += ": the wider model ends higher"
        hint = hint or "more capacity should fit the training set better: check the init scales with width"
    return row("decreasing_loss", status, trend.value, trend.expected, f"{trend.message}; {cap}", hint)


def input_independent_baseline(model_fn: Any, data: Any, loss_fn: Any, **options: Any) -> pl.DataFrame:
    """Train once on real inputs and once on zeroed inputs (same seed and steps): real inputs must
    end clearly lower, else the model ignores its input. Options as `run_recipe`.

    Example:
        >>> r = checks.input_independent_baseline(model_fn, (X, y), F.cross_entropy)  # doctest: +SKIP
        >>> r["value"][0]   # final loss real / zeroed                                 # doctest: +SKIP
    """
    return single("input_independent_baseline", _input_independent_baseline, model_fn, data, loss_fn, options)


def overfit_one_batch(model_fn: Any, data: Any, loss_fn: Any, **options: Any) -> pl.DataFrame:
    """A fresh model trained with the user's step on `Budget.overfit_examples` examples must reach
    near-zero loss with every prediction (through the user's `predict`) matching its label.
    Options as `run_recipe`.

    Example:
        >>> r = checks.overfit_one_batch(model_fn, (X, y), F.cross_entropy, train_step=my_step)  # doctest: +SKIP
        >>> r["message"][0]                                                                     # doctest: +SKIP
    """
    return single("overfit_one_batch", _overfit_one_batch, model_fn, data, loss_fn, options)


def decreasing_loss(model_fn: Any, data: Any, loss_fn: Any, **options: Any) -> pl.DataFrame:
    """The training loss goes down over `Budget.steps` steps, and ends lower when `model_fn`'s
    width argument (``width_arg``, default ``width``) is doubled. Options as `run_recipe`.

    Example:
        >>> r = checks.decreasing_loss(lambda width=32: mlp(width), (X, y), F.cross_entropy)  # doctest: +SKIP
        >>> r["status"][0]                                                                     # doctest: +SKIP
    """
    return single("decreasing_loss", _decreasing_loss, model_fn, data, loss_fn, options)

