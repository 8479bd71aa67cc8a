"""A pytest plugin with the `recipe` fixture.

Enable it with ``pytest_plugins = ["recipe_audit.checks.pytest_plugin"]`` in the root conftest.py
(that documented path re-exports this module's fixture), then
``def test_model(recipe): recipe(make_model, (X, y), F.cross_entropy)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from recipe_audit.checks._torch import LossFn, ModelFn
from recipe_audit.checks.integrations.pytest_helpers import assert_recipe_passes
from recipe_audit.checks.recipe import run_recipe


def run_and_assert(
    model_fn: ModelFn, data: Any, loss_fn: LossFn, *, allow_warn: bool = True, **options: Any
) -> pl.DataFrame:
    """`run_recipe`, then `assert_recipe_passes`; returns the report.

    Example:
        >>> report = run_and_assert(make_model, (X, y), F.cross_entropy)   # doctest: +SKIP
        >>> report.filter(status="warn")                                   # doctest: +SKIP
    """
    report = run_recipe(model_fn, data, loss_fn, **options)
    assert_recipe_passes(report, allow_warn=allow_warn)
    return report


@pytest.fixture
def recipe() -> Callable[..., pl.DataFrame]:
    """``recipe(model_fn, data, loss_fn, **options)``: run_recipe, assert no check fails, return the report."""
    return run_and_assert
