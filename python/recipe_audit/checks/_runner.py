"""Declaring a training check, and running one safely.

`training_check` registers the check (`recipe_audit.checks._registry`) and returns its public
function; `run_check` runs one on a `Setup` with fresh RNG state around it, and turns an exception
into a failing row instead of a traceback.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any, Protocol, cast

import polars as pl

from recipe_audit.checks._registry import TrainingCheck, register
from recipe_audit.checks._report import Row, Verdict, frame
from recipe_audit.checks._setup import Setup, make_setup, preserved_rng
from recipe_audit.checks._torch import LossFn, ModelFn


class CheckFunction(Protocol):
    """A check's public function: ``check(model_fn, data, loss_fn, **options)``, one row as a frame."""

    __name__: str
    check: TrainingCheck

    def __call__(self, model_fn: ModelFn, data: Any, loss_fn: LossFn, **options: Any) -> pl.DataFrame: ...


def run_check(check: TrainingCheck, setup: Setup) -> Row:
    """`check` on `setup`, with the caller's RNG streams restored; an exception in the user's code (or
    ours) becomes a ``fail`` row that names it, so one broken piece does not hide the others."""
    try:
        with preserved_rng():
            return check.row(check.run(setup))
    except Exception as err:  # any error in user code becomes a row naming it
        where = traceback.extract_tb(err.__traceback__)[-1]
        return Row(
            check.name,
            "fail",
            None,
            "",
            f"the check could not run: {type(err).__name__}: {err} (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})",
            "fix the error above; run the check alone to see the full traceback (raise_errors=True)",
        )


def run_single(
    check: TrainingCheck, model_fn: ModelFn, data: Any, loss_fn: LossFn, options: dict[str, Any]
) -> pl.DataFrame:
    """One check as a one-row report frame (`raise_errors=True` in options re-raises instead)."""
    raise_errors = bool(options.pop("raise_errors", False))
    setup = make_setup(model_fn, data, loss_fn, dict(options))
    if raise_errors:
        with preserved_rng():
            return frame([check.row(check.run(setup))])
    return frame([run_check(check, setup)])


def public_function(check: TrainingCheck, module: str) -> CheckFunction:
    """The function users call for `check`: named after it, documented by its docstring."""

    def run(model_fn: ModelFn, data: Any, loss_fn: LossFn, **options: Any) -> pl.DataFrame:
        return run_single(check, model_fn, data, loss_fn, options)

    run.__name__ = run.__qualname__ = check.name
    run.__doc__ = check.doc
    run.__module__ = module
    public = cast(CheckFunction, run)
    public.check = check
    return public


def training_check(*, order: int, step: str, advice: str) -> Callable[[Callable[[Setup], Verdict]], CheckFunction]:
    """Declare the decorated function (``impl(setup) -> Verdict``) as a training check named after it.

    Args:
        order: its place in `run_recipe` and `CHECK_NAMES` (checks run by increasing order).
        step: the recipe's step it verifies; `advice`: the recipe's line for it (both end every hint).

    Returns:
        The check's public function, ``name(model_fn, data, loss_fn, **options)``, with the decorated
        function's docstring: what the check runs and when it fails, for its users.
    """

    def declare(impl: Callable[[Setup], Verdict]) -> CheckFunction:
        check = TrainingCheck(impl.__name__, order, step, advice, impl, impl.__doc__ or "")
        register(check)
        return public_function(check, impl.__module__)

    return declare
