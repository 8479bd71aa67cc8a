"""Using the checks from pytest: `assert_recipe_passes` and `failures` (no pytest import here;
the fixture lives in `recipe_audit.checks.integrations.pytest_plugin`)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from recipe_audit.checks._report import REPORT_SCHEMA


def failures(report: pl.DataFrame, *, statuses: Sequence[str] = ("fail",)) -> pl.DataFrame:
    """The rows of a report whose status is in `statuses` (default: failures only).

    Example:
        >>> bad = checks.failures(checks.run_recipe(model_fn, (X, y), F.cross_entropy))   # doctest: +SKIP
        >>> bad.is_empty()                                                                 # doctest: +SKIP
    """
    missing = set(REPORT_SCHEMA) - set(report.columns)
    if missing:
        raise ValueError(f"not a checks report: missing columns {sorted(missing)}")
    return report.filter(pl.col("status").is_in(list(statuses)))


def assert_recipe_passes(report: pl.DataFrame, *, allow_warn: bool = True) -> None:
    """Raise AssertionError listing every failing check (and warning, unless `allow_warn`), with
    its message and hint; do nothing when the report is clean.

    Example:
        >>> report = checks.run_recipe(model_fn, (X, y), F.cross_entropy)   # doctest: +SKIP
        >>> checks.assert_recipe_passes(report)                             # doctest: +SKIP
    """
    bad = failures(report, statuses=("fail",) if allow_warn else ("fail", "warn"))
    if bad.is_empty():
        return
    lines = [f"{r['check']} [{r['status']}]: {r['message']}\n    hint: {r['hint']}" for r in bad.iter_rows(named=True)]
    raise AssertionError(f"{bad.height} recipe check(s) did not pass:\n" + "\n".join(lines))
