"""Running one check safely: fresh RNG state around it, and a failing row instead of a traceback."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import polars as pl

from recipe_audit.checks._report import Row, frame
from recipe_audit.checks._setup import Setup, make_setup, preserved_rng

CheckImpl = Callable[[Setup], Row]


def run_check(name: str, impl: CheckImpl, setup: Setup) -> Row:
    """`impl(setup)`, with the caller's RNG streams restored; an exception in the user's code (or
    ours) becomes a ``fail`` row that names it, so one broken piece does not hide the others."""
    try:
        with preserved_rng():
            return impl(setup)
    except Exception as err:  # noqa: BLE001 - any error in user code becomes a row naming it
        where = traceback.extract_tb(err.__traceback__)[-1]
        return Row(name, "fail", None, "", f"the check could not run: {type(err).__name__}: {err} "
                   f"(at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})",
                   "fix the error above; run the check alone to see the full traceback (raise_errors=True)")


def single(name: str, impl: CheckImpl, model_fn: Any, data: Any, loss_fn: Any, options: dict[str, Any]) -> pl.DataFrame:
    """One check as a one-row report frame (`raise_errors=True` in options re-raises instead)."""
    raise_errors = bool(options.pop("raise_errors", False))
    setup = make_setup(model_fn, data, loss_fn, dict(options))
    if raise_errors:
        with preserved_rng():
            return frame([impl(setup)])
    return frame([run_check(name, impl, setup)])
