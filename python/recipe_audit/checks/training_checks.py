"""Checks that train: the input-independent baseline, overfitting one batch, a decreasing loss."""

from __future__ import annotations

import math
from dataclasses import replace

from recipe_audit.checks._findings import loss_trend
from recipe_audit.checks._optimum import lowest_loss
from recipe_audit.checks._outputs import agreement
from recipe_audit.checks._report import Verdict, fmt, verdict
from recipe_audit.checks._runner import training_check
from recipe_audit.checks._setup import Run, Setup, seed_all
from recipe_audit.checks._stats import decrease_ratio
from recipe_audit.checks._torch import nn, torch
from recipe_audit.checks.dependency_checks import visible_inputs

BASELINE_RATIO = 0.95
"""Real inputs must end below this share of the zeroed-input loss."""
OVERFIT_RATIO = 0.05
"""Overfitting one batch must close all but this share of the gap between the first loss and the lowest achievable."""
OVERFIT_PROGRESS = 0.1
"""Past `Budget.overfit_steps`, overfitting goes on while each stretch closes at least this share of the remaining gap."""
DECREASE_FAIL, DECREASE_WARN = 0.95, 0.8
"""The last tenth of the baseline's losses over the first tenth: at or above fails / warns."""


def _grow(setup: Setup, *runs: Run) -> bool:
    """Double the runs' length (all to the same number of steps), up to `Budget.max_steps`; False at the cap."""
    done = max(len(r.losses) for r in runs)
    if done >= setup.budget.max_steps:
        return False
    target = min(2 * done, setup.budget.max_steps)
    for r in runs:
        setup.extend(r, target - len(r.losses))
    return True


def _steps_words(setup: Setup, steps: int) -> str:
    extended = (
        f", extended from {setup.budget.steps} because the first {setup.budget.steps} could not tell"
        if steps > setup.budget.steps
        else ""
    )
    return f"{steps} steps{extended}"


@training_check(
    order=50,
    step="input-independent baseline",
    advice="'set all your inputs to zero... it should perform worse'",
)
def input_independent_baseline(setup: Setup) -> Verdict:
    """Train once on real inputs and once on zeroed inputs (same seed and steps): real inputs must
    end clearly lower, else the model ignores its input. Options as `run_recipe`.

    Example:
        >>> r = checks.input_independent_baseline(model_fn, (X, y), F.cross_entropy)  # doctest: +SKIP
        >>> r["value"][0]   # final loss real / zeroed                                 # doctest: +SKIP
    """
    real = setup.baseline()
    zero = setup.cached("zeroed", lambda: setup.train(len(real.losses), zero_inputs=True))
    if len(zero.losses) < len(real.losses):
        setup.extend(zero, len(real.losses) - len(zero.losses))

    def ratio_of() -> tuple[float, float, float]:
        _, real_last, _ = decrease_ratio(real.losses)
        _, zero_last, _ = decrease_ratio(zero.losses)
        return real_last, zero_last, (real_last / zero_last if zero_last > 0 else float("nan"))

    real_last, zero_last, ratio = ratio_of()
    while not (zero_last > 0 and real_last < BASELINE_RATIO * zero_last) and _grow(setup, real, zero):
        real_last, zero_last, ratio = ratio_of()
    expected = f"real/zeroed < {BASELINE_RATIO}"
    message = (
        f"after {_steps_words(setup, len(real.losses))} the loss is {fmt(real_last)} with real inputs and "
        f"{fmt(zero_last)} with zeroed inputs (ratio {fmt(ratio)})"
    )
    if zero_last > 0 and real_last < BASELINE_RATIO * zero_last:
        return verdict("pass", ratio, expected, message)
    return verdict(
        "fail",
        ratio,
        expected,
        message + ": the model learns nothing from its inputs",
        "check that forward() uses its input, that inputs and targets stay aligned, that the loss compares "
        "outputs and targets of the same shape, and that preprocessing keeps the information (look at show_batch)",
    )


def _share(setup: Setup, out: torch.Tensor, y: torch.Tensor) -> tuple[float, str]:
    """(share of the predictions read off `out` that match the labels, in words)."""
    return agreement(setup.task, out, y, setup.activation())


def _matches(setup: Setup, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, str]:
    """(share of predictions matching the labels, in words) with the user's `predict`."""
    return _share(setup, setup.outputs(model, x), y)


def _reachable(setup: Setup, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float | None, float]:
    """(the lowest loss any model reaches on this batch or None, the best share of matching predictions);
    for sequences, any model that sees what this one sees (its receptive field)."""
    with torch.no_grad():
        out = setup.forward(model, x)
    visible = visible_inputs(setup, x) if setup.task == "sequence" else None
    best = lowest_loss(setup.loss_fn, x, y, out, setup.task, setup.activation(), visible)
    if best is None:
        return None, 1.0
    share, _ = _share(setup, best.outputs, y)
    return best.loss, share


@training_check(
    order=60,
    step="overfit one batch",
    advice="'verify that we can reach the lowest achievable loss (e.g. zero)'",
)
def overfit_one_batch(setup: Setup) -> Verdict:
    """A fresh model trained with the user's step on `Budget.overfit_examples` examples must reach
    the lowest achievable loss (found by optimizing free outputs through `loss_fn`: 0 for a plain
    cross-entropy, more with label smoothing or identical inputs with different labels) with as
    many predictions (through the user's `predict`) matching their labels as any model can get.

    The budget adapts: `Budget.overfit_steps` always, then on up to `Budget.overfit_max_steps` while
    the loss still falls. ``value`` is the share of the way from the first loss to the lowest one;
    the message gives the first and last loss and the steps. ``fail``: the loss stopped falling far
    from its lowest ("cannot fit"), or reached it with predictions that do not match; ``warn``: still
    falling at the cap ("not yet converged"). Options as `run_recipe`.

    Example:
        >>> r = checks.overfit_one_batch(model_fn, (X, y), F.cross_entropy, train_step=my_step)  # doctest: +SKIP
        >>> r["message"][0]                                                                     # doctest: +SKIP
    """
    budget = setup.budget
    seed_all(budget.seed)
    x, y = setup.data.take(budget.overfit_examples)
    x, y = setup.prepare(x, y, train=False)
    model = setup.fresh_model()
    optimizer = setup.optimizer_fn(model)
    floor, best_share = _reachable(setup, model, x, y)
    every, stretch = 25, max(25, budget.overfit_steps // 2)
    cap = max(budget.overfit_steps, budget.overfit_max_steps)
    losses: list[float] = []
    marks: dict[int, float] = {}
    share, words, low, outcome = 0.0, "", False, "cap"
    shares: dict[int, float] = {}
    while len(losses) < cap:
        losses.append(setup.step(model, optimizer, x, y))
        steps = len(losses)
        if not math.isfinite(losses[-1]):  # nothing after a NaN or an infinity can converge
            return verdict(
                "fail",
                0.0,
                "a finite loss that falls to its lowest",
                f"{len(x)} examples: the loss became {losses[-1]} at step {steps} (first {fmt(losses[0])})",
                "find where the loss turns non-finite: log(0), a division by zero, an overflow in half "
                "precision, a learning rate that diverges",
            )
        if steps % every and steps != cap:
            continue
        first, recent = losses[0], sum(losses[-5:]) / len(losses[-5:])
        base = floor if floor is not None and floor < first else min(0.0, first)
        gap0 = first - base
        low = gap0 <= 0 or recent - base <= OVERFIT_RATIO * gap0
        share, words = _matches(setup, model, x, y)
        if low and share >= best_share - 1e-9:
            break
        if steps % stretch:
            continue
        marks[steps], shares[steps] = recent - base, share
        before = marks.get(steps - stretch)
        if before is None:
            continue
        stalled = marks[steps] <= 0 or marks[steps] > (1 - OVERFIT_PROGRESS) * before
        if low and stalled and share <= shares[steps - stretch] + 1e-9:
            outcome = "converged"  # as low as it gets, and the predictions stopped improving
            break
        if not low and stalled and steps >= budget.overfit_steps:
            outcome = "plateau"
            break
    first, last = losses[0], sum(losses[-5:]) / len(losses[-5:])
    base = floor if floor is not None and floor < first else min(0.0, first)
    progress = (first - last) / (first - base) if first > base else 1.0
    lowest = f"the lowest achievable {fmt(floor)}" if floor is not None else "assumed 0"
    cap_share = (
        f" (at most {best_share:.0%} can: identical inputs, as far as the model sees them, with different "
        "labels, or labels the loss ignores)"
        if best_share < 1
        else ""
    )
    expected = (
        f"loss within {OVERFIT_RATIO:.0%} of the lowest achievable, predictions matching as many labels as "
        "any model can"
    )
    message = (
        f"{len(x)} examples, {len(losses)} steps: loss {fmt(first)} -> {fmt(last)}, {progress:.0%} of the way "
        f"to {lowest}; {words}{cap_share}"
    )
    if low and share >= best_share - 1e-9:
        return verdict("pass", progress, expected, message)
    if low and outcome == "converged":
        return verdict(
            "fail",
            progress,
            expected,
            message + ": the loss is near its lowest but the predictions do not match the labels given, so the "
            "step trains on other targets (labels shifted or misaligned in the step) or predict() differs "
            "from training",
            "compute the loss on the (x, y) pair as given; compare predict() with the training forward",
        )
    if outcome == "cap":
        still = "the predictions were still changing" if low else "the loss was still falling"
        return verdict(
            "warn",
            progress,
            expected,
            message + f": not yet converged, {still} at the cap of {cap} steps",
            "raise Budget.overfit_max_steps or the learning rate to see it converge",
        )
    return verdict(
        "fail",
        progress,
        expected,
        message + f": cannot fit a tiny batch, the loss stopped falling (less than {OVERFIT_PROGRESS:.0%} of "
        f"the remaining gap closed in its last {stretch} steps)",
        "a bug in the step (optimizer.step missing, loss not minimized), too little capacity, or a lr far off",
    )


@training_check(
    order=70,
    step="verify decreasing training loss",
    advice="'the training loss should go down as it should'",
)
def decreasing_loss(setup: Setup) -> Verdict:
    """The training loss goes down over `Budget.steps` steps, and ends lower when `model_fn`'s
    width argument (``width_arg``, default ``width``) is doubled. Options as `run_recipe`.

    Example:
        >>> r = checks.decreasing_loss(lambda width=32: mlp(width), (X, y), F.cross_entropy)  # doctest: +SKIP
        >>> r["status"][0]                                                                     # doctest: +SKIP
    """
    base = setup.baseline()
    trend = loss_trend(base.losses, DECREASE_FAIL, DECREASE_WARN)
    while trend.status != "pass" and "NaN" not in trend.message and _grow(setup, base):
        trend = loss_trend(base.losses, DECREASE_FAIL, DECREASE_WARN)
    if len(base.losses) > setup.budget.steps:
        trend = replace(
            trend,
            message=trend.message.replace(
                f"over {len(base.losses)} steps", f"over {_steps_words(setup, len(base.losses))}"
            ),
        )
    width = setup.width_default()
    if width is None:
        return verdict(
            trend.status,
            trend.value,
            trend.expected,
            trend.message + f" (capacity not varied: model_fn has no int `{setup.width_arg}` argument)",
            trend.hint,
        )
    narrow_params = sum(p.numel() for p in base.model.parameters())
    wider = setup.train(len(base.losses), model_kwargs={setup.width_arg: 2 * width})
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
    return verdict(status, trend.value, trend.expected, f"{trend.message}; {cap}", hint)
