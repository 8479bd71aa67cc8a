"""The training checks: the recipe's skeleton, verified on a real PyTorch model.

"A Recipe for Training Neural Networks" (Karpathy, 2019), second half: before any fancy model,
set up the training and evaluation skeleton and gain trust in it through experiments with
expected outcomes. Every check turns one silent failure into a loud, specific message with the
recipe's advice. Two ways in: `run_recipe` (active experiments on fresh models from the user's
factories) and `watch` (a recorder around the user's own loop).

PyTorch is imported lazily: this package imports without it, and a check called without it
raises an ImportError saying ``pip install 'recipe-audit[torch]'``.

>>> from recipe_audit import checks
>>> report = checks.run_recipe(model_fn, (X, y), F.cross_entropy)   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from recipe_audit.checks._report import CHECK_NAMES, REPORT_SCHEMA, STATUSES
from recipe_audit.checks._setup import Budget, default_optimizer, default_predict
from recipe_audit.checks.data_checks import batch_composition, input_layout, preprocess_leak
from recipe_audit.checks.dependency_checks import batch_independence, causality
from recipe_audit.checks.determinism import seed_determinism
from recipe_audit.checks.evaluation import Comparison, EvalLoss, compare_runs, eval_loss
from recipe_audit.checks.health_checks import activations, nan_inf
from recipe_audit.checks.html_report import render_html, write_html
from recipe_audit.checks.init_checks import init_bias, input_normalization, loss_at_init
from recipe_audit.checks.loss_checks import class_weights, loss_reduction, padding_loss
from recipe_audit.checks.optimizer_checks import weight_decay
from recipe_audit.checks.out_of_sample import out_of_sample_probs
from recipe_audit.checks.pipeline_checks import augmentation_labels, eval_mode, lr_schedule
from recipe_audit.checks.plots import first_layer_weights, loss_curve, prediction_dynamics, show_batch
from recipe_audit.checks.pytest_helpers import assert_recipe_passes, failures
from recipe_audit.checks.ranking import rank_by_loss
from recipe_audit.checks.recipe import run_recipe
from recipe_audit.checks.step_checks import frozen_params, grad_accumulation, grad_clipping
from recipe_audit.checks.sweeps import CapacitySweep, LRRange, capacity_sweep, lr_range_test
from recipe_audit.checks.training_checks import decreasing_loss, input_independent_baseline, overfit_one_batch
from recipe_audit.checks.watch import Watcher, watch


def __getattr__(name: str) -> Any:
    """`RecipeCallback` (PyTorch Lightning) is built on first access: lightning stays unimported."""
    if name == "RecipeCallback":
        from recipe_audit.checks.lightning import recipe_callback_class

        return recipe_callback_class()
    raise AttributeError(f"module 'recipe_audit.checks' has no attribute {name!r}")


__all__ = [
    "run_recipe",
    "out_of_sample_probs",
    "CHECK_NAMES",
    "REPORT_SCHEMA",
    "STATUSES",
    "Budget",
    "default_optimizer",
    "default_predict",
    *CHECK_NAMES,  # every check run_recipe runs: CHECK_NAMES is the one list of them
    "capacity_sweep",
    "CapacitySweep",
    "lr_range_test",
    "LRRange",
    "eval_loss",
    "EvalLoss",
    "compare_runs",
    "Comparison",
    "render_html",
    "write_html",
    "watch",
    "Watcher",
    "rank_by_loss",
    "show_batch",
    "prediction_dynamics",
    "first_layer_weights",
    "loss_curve",
    "assert_recipe_passes",
    "failures",
    "RecipeCallback",
]
