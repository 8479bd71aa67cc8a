"""The report row every check returns, the check names (a contract) and the recipe's advice."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

STATUSES: tuple[str, ...] = ("pass", "fail", "warn", "skip")
"""Every value the ``status`` column can take."""

CHECK_NAMES: tuple[str, ...] = (
    "seed_determinism",
    "loss_at_init",
    "init_bias",
    "input_normalization",
    "input_independent_baseline",
    "overfit_one_batch",
    "decreasing_loss",
    "batch_independence",
    "causality",
    "lr_schedule",
    "augmentation_labels",
    "grad_clipping",
    "grad_accumulation",
    "frozen_params",
    "eval_mode",
    "activations",
    "nan_inf",
    "input_layout",
    "preprocess_leak",
    "batch_composition",
    "loss_reduction",
    "class_weights",
    "padding_loss",
    "weight_decay",
)
"""The checks `run_recipe` runs, in this order: the names are a stable contract."""

REPORT_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "check": pl.String,
    "status": pl.String,
    "value": pl.Float64,
    "expected": pl.String,
    "message": pl.String,
    "hint": pl.String,
}
"""Columns of every report frame: one row per check (or per watcher finding)."""

RECIPE = {
    "seed_determinism": "fix random seed: 'guarantees that if you run the code twice you will get the same outcome'",
    "loss_at_init": "verify loss @ init: 'you should measure -log(1/n_classes) on a softmax at initialization'",
    "init_bias": "init well: 'initialize the final layer weights correctly', e.g. the bias to the mean or log(priors)",
    "input_normalization": "visualize just before the net: 'the unambiguous source of truth is what goes into your network'",
    "input_independent_baseline": "input-independent baseline: 'set all your inputs to zero... it should perform worse'",
    "overfit_one_batch": "overfit one batch: 'verify that we can reach the lowest achievable loss (e.g. zero)'",
    "decreasing_loss": "verify decreasing training loss: 'the training loss should go down as it should'",
    "batch_independence": "use backprop to chart dependencies: 'check that you only get a non-zero gradient on the i-th input'",
    "causality": "use backprop to chart dependencies: each output may depend only on the inputs it is allowed to see",
    "lr_schedule": "tune LR decay: 'be very careful with re-using the ImageNet decay; disable decays at first'",
    "augmentation_labels": "visualize just before the net: decode what goes in, labels included, before trusting augmentation",
    "grad_clipping": "the neural net training fails silently: clip gradients, not the loss",
    "grad_accumulation": "the neural net training fails silently: e.g. 'you forgot to zero_grad before .backward()'",
    "frozen_params": "the neural net training fails silently: 'you forgot to flip the requires_grad flag' and the like",
    "eval_mode": "the neural net training fails silently: 'you forgot to set train/eval mode for BN'",
    "activations": "the neural net training fails silently: watch for dead, saturated or exploding activations",
    "nan_inf": "the neural net training fails silently: find where the first NaN/Inf appears",
    "input_layout": "visualize just before the net: 'the unambiguous source of truth is what goes into your network'",
    "preprocess_leak": "set up the evaluation skeleton: the evaluation set must stay unseen, its statistics included",
    "batch_composition": "become one with the data: shuffle it, or every batch teaches the classes of the moment",
    "loss_reduction": "the neural net training fails silently: a summed loss changes what the learning rate means",
    "class_weights": "the neural net training fails silently: check the loss weighs what you meant it to",
    "padding_loss": "the neural net training fails silently: padding must not count in the loss",
    "weight_decay": "regularize: weight decay, but not on what practice leaves undecayed (biases, norm layers)",
}
"""One line of the recipe's advice per check, quoted in every hint."""


@dataclass(frozen=True)
class Row:
    """One finding: a check's verdict with the measured value and what was expected."""

    check: str
    status: str
    value: float | None = None
    expected: str = ""
    message: str = ""
    hint: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")


def row(check: str, status: str, value: float | None = None, expected: str = "", message: str = "", hint: str = "") -> Row:
    """A `Row` whose hint ends with the recipe's advice for `check`."""
    advice = RECIPE.get(check, "")
    if advice and advice in hint:
        full_hint = hint
    else:
        full_hint = f"{hint} ({advice})" if hint and advice else (hint or advice)
    clean = None if value is None or math.isnan(value) else float(value)
    return Row(check, status, clean, expected, message, full_hint)


def skip(check: str, why: str) -> Row:
    """A skipped check: `why` says what would make it run."""
    return Row(check, "skip", None, "", why, "")


def frame(rows: Iterable[Row]) -> pl.DataFrame:
    """The report frame (`REPORT_SCHEMA`) from rows, in the order given."""
    rows = list(rows)
    return pl.DataFrame(
        {name: [getattr(r, name) for r in rows] for name in REPORT_SCHEMA},
        schema=REPORT_SCHEMA,
    )


def fmt(value: float) -> str:
    """A number for a message: 3 significant digits."""
    return f"{value:.3g}"
