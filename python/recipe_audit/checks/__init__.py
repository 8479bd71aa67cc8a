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

from recipe_audit.checks._report import REPORT_SCHEMA, STATUSES
from recipe_audit.checks._setup import Budget, default_optimizer, default_predict
from recipe_audit.checks.data_checks import batch_composition as batch_composition
from recipe_audit.checks.data_checks import input_layout as input_layout
from recipe_audit.checks.data_checks import preprocess_leak as preprocess_leak
from recipe_audit.checks.dependency_checks import batch_independence as batch_independence
from recipe_audit.checks.dependency_checks import causality as causality
from recipe_audit.checks.determinism import seed_determinism as seed_determinism
from recipe_audit.checks.evaluation import Comparison, EvalLoss, compare_runs, eval_loss
from recipe_audit.checks.health_checks import activations as activations
from recipe_audit.checks.health_checks import nan_inf as nan_inf
from recipe_audit.checks.html_report import render_html, write_html
from recipe_audit.checks.init_checks import init_bias as init_bias
from recipe_audit.checks.init_checks import input_normalization as input_normalization
from recipe_audit.checks.init_checks import loss_at_init as loss_at_init
from recipe_audit.checks.integrations.lightning import recipe_callback_class as recipe_callback_class
from recipe_audit.checks.integrations.pytest_helpers import assert_recipe_passes, failures
from recipe_audit.checks.loss_checks import class_weights as class_weights
from recipe_audit.checks.loss_checks import loss_reduction as loss_reduction
from recipe_audit.checks.loss_checks import padding_loss as padding_loss
from recipe_audit.checks.optimizer_checks import weight_decay as weight_decay
from recipe_audit.checks.out_of_sample import out_of_sample_probs
from recipe_audit.checks.pipeline_checks import augmentation_labels as augmentation_labels
from recipe_audit.checks.pipeline_checks import eval_mode as eval_mode
from recipe_audit.checks.pipeline_checks import lr_schedule as lr_schedule
from recipe_audit.checks.plots import first_layer_weights, loss_curve, prediction_dynamics, show_batch
from recipe_audit.checks.ranking import rank_by_loss
from recipe_audit.checks.recipe import CHECK_NAMES, run_recipe
from recipe_audit.checks.step_checks import frozen_params as frozen_params
from recipe_audit.checks.step_checks import grad_accumulation as grad_accumulation
from recipe_audit.checks.step_checks import grad_clipping as grad_clipping
from recipe_audit.checks.sweeps import CapacitySweep, LRRange, capacity_sweep, lr_range_test
from recipe_audit.checks.training_checks import decreasing_loss as decreasing_loss
from recipe_audit.checks.training_checks import input_independent_baseline as input_independent_baseline
from recipe_audit.checks.training_checks import overfit_one_batch as overfit_one_batch
from recipe_audit.checks.watch import Watcher, watch


def __getattr__(name: str) -> type:
    """`RecipeCallback` (PyTorch Lightning) is built on first access: lightning stays unimported."""
    if name == "RecipeCallback":
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
    *CHECK_NAMES,  # every training check: each is declared once (@training_check), CHECK_NAMES derives from them
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
    "recipe_callback_class",
]
