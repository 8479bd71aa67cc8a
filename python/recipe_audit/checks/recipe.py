"""`run_recipe`: every check of the recipe's second half, on the user's own set-up."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import polars as pl

from recipe_audit.checks import (  # noqa: F401 - importing a module declares its checks (@training_check)
    data_checks,
    dependency_checks,
    determinism,
    health_checks,
    init_checks,
    loss_checks,
    optimizer_checks,
    pipeline_checks,
    step_checks,
    training_checks,
)
from recipe_audit.checks._registry import TrainingCheck, registered
from recipe_audit.checks._report import frame
from recipe_audit.checks._runner import run_check
from recipe_audit.checks._setup import Budget, make_setup
from recipe_audit.checks._torch import (
    Augment,
    LossFn,
    ModelFn,
    OptimizerFn,
    Predict,
    Preprocess,
    SchedulerFn,
    TrainStep,
)
from recipe_audit.checks.html_report import write_recipe_html

CHECKS: tuple[TrainingCheck, ...] = registered()
"""Every training check, in the order `run_recipe` runs them (each declared once, with `training_check`)."""

CHECK_NAMES: tuple[str, ...] = tuple(check.name for check in CHECKS)
"""The checks `run_recipe` runs, in this order: the names are a stable contract."""


def run_recipe(
    model_fn: ModelFn,
    data: Any,
    loss_fn: LossFn,
    *,
    optimizer_fn: OptimizerFn | None = None,
    scheduler_fn: SchedulerFn | None = None,
    train_step: TrainStep | None = None,
    predict: Predict | None = None,
    augment: Augment | None = None,
    preprocess: Preprocess | None = None,
    task: str = "classification",
    epochs: float | None = None,
    steps: int | None = None,
    scheduler_interval: str = "step",
    checks: Sequence[str] | None = None,
    budget: Budget | None = None,
    seed: int | None = None,
    frozen: Sequence[str] = (),
    width_arg: str = "width",
    eval_data: Any = None,
    html: str | os.PathLike[str] | None = None,
) -> pl.DataFrame:
    """Run the recipe's training checks on a fresh model: one row per check.

    Args:
        model_fn: returns a fresh ``nn.Module`` (on the device to use). If it accepts an int
            `width_arg` (default ``width``), `decreasing_loss` also trains a model twice as wide.
        data: a DataLoader, ``(X, y)`` tensors, or a zero-argument factory returning either
            (a factory lets `seed_determinism` check the pipeline's seeding as your program builds it).
        loss_fn: ``loss_fn(outputs, targets) -> scalar``, where ``outputs`` is the model's output
            tensor: when the model returns a tuple or a dict, its first tensor (the checks also
            shift, slice and replace that tensor, so the loss must take the tensor, not the tuple).
        optimizer_fn: ``optimizer_fn(model)``; default Adam at 3e-4, as the recipe advises.
        scheduler_fn: ``scheduler_fn(optimizer)``; judged by `lr_schedule` over `epochs`, stepped
            per `scheduler_interval` (``"step"``: once per batch, or ``"epoch"``). The training
            experiments themselves run at constant lr.
        train_step: ``train_step(model, optimizer, x, y) -> float``, the user's own step
            (default: zero_grad, loss_fn(output tensor, y), backward, step).
        predict: ``predict(model, x) -> outputs``, the user's inference (default: eval mode
            under ``torch.no_grad()``, mode restored).
        augment: ``augment(x, y) -> (x, y)``, applied to training batches, then
        preprocess: ``preprocess(x) -> x``, applied to every batch before the net (both receive
            tensors already on the model's device).
        task: ``classification``, ``regression`` or ``sequence`` (tokens [B, T] to logits [B, T, V]).
        epochs: the planned length of the real run, in passes over `data` (for `lr_schedule`).
        steps: training steps per experiment (overrides ``budget.steps``; default 200).
        checks: run only these (names from `CHECK_NAMES`), in the standard order.
        budget: the cost knobs (`Budget`): steps, batch size, overfit batch and steps, ...
        seed: ``None`` (default): your program does not seed before calling your factories, so
            `seed_determinism` starts its two runs from different global RNG states, as two fresh
            processes would, and passes only if the factories seed what they draw. ``N``: your
            program seeds the global RNGs with N at start; both runs then start from that seed. The
            other checks' experiments are seeded with N (default ``budget.seed``) either way.
        frozen: name prefixes of parameters frozen on purpose (left out of `frozen_params`).
        width_arg: the name of `model_fn`'s capacity argument.
        eval_data: the evaluation set, as `data` (for `preprocess_leak`).
        html: write a self-contained HTML report here: the table, and the plots of what enters the
            net, the baseline's loss curve, the prediction dynamics and the first layer's weights.

    Returns:
        ``check, status (pass|fail|warn|skip), value, expected, message, hint``: one row per
        check in `CHECK_NAMES` order. A check whose code raised is a ``fail`` row naming the error.
        Global RNG states are restored on return.

    Example:
        >>> report = checks.run_recipe(lambda: make_mlp(), (X, y), F.cross_entropy)   # doctest: +SKIP
        >>> report.filter(status="fail")                                               # doctest: +SKIP
    """
    options: dict[str, Any] = {
        "optimizer_fn": optimizer_fn,
        "scheduler_fn": scheduler_fn,
        "train_step": train_step,
        "predict": predict,
        "augment": augment,
        "preprocess": preprocess,
        "task": task,
        "epochs": epochs,
        "steps": steps,
        "scheduler_interval": scheduler_interval,
        "budget": budget,
        "seed": seed,
        "frozen": tuple(frozen),
        "width_arg": width_arg,
        "eval_data": eval_data,
    }
    setup = make_setup(model_fn, data, loss_fn, options)
    names = CHECK_NAMES if checks is None else tuple(checks)
    unknown = [n for n in names if n not in CHECK_NAMES]
    if unknown:
        raise ValueError(f"unknown check(s) {unknown}; the checks are {CHECK_NAMES}")
    report = frame(run_check(check, setup) for check in CHECKS if check.name in names)
    if html is not None:
        write_recipe_html(report, setup, html)
    return report
