"""The report: one row per check, and the nameless verdict a check's code returns.

A check's implementation returns a `Verdict` (status, measured value, expectation, message, hint);
the registry names it and adds the recipe's advice (`recipe_audit.checks._registry`), so a check's
name is written once, where it is declared.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

STATUSES: tuple[str, ...] = ("pass", "fail", "warn", "skip")
"""Every value the ``status`` column can take."""

REPORT_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "check": pl.String,
    "status": pl.String,
    "value": pl.Float64,
    "expected": pl.String,
    "message": pl.String,
    "hint": pl.String,
}
"""Columns of every report frame: one row per check (or per watcher finding)."""


def _valid(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, not {status!r}")


@dataclass(frozen=True)
class Verdict:
    """What a check found, before it is named: its status, the measured value and what was expected.

    ``advised``: whether the report adds the recipe's advice to the hint (every verdict but a skip).
    """

    status: str
    value: float | None = None
    expected: str = ""
    message: str = ""
    hint: str = ""
    advised: bool = True

    def __post_init__(self) -> None:
        _valid(self.status)


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
        _valid(self.status)


def verdict(status: str, value: float | None = None, expected: str = "", message: str = "", hint: str = "") -> Verdict:
    """A `Verdict` (a NaN value is recorded as missing); the report adds the recipe's advice to its hint."""
    clean = None if value is None or math.isnan(value) else float(value)
    return Verdict(status, clean, expected, message, hint)


def skip(why: str) -> Verdict:
    """A skipped check: `why` says what would make it run (no advice: there is nothing to fix)."""
    return Verdict("skip", None, "", why, "", advised=False)


def named(check: str, found: Verdict, advice: str) -> Row:
    """`found` as the row of `check`, its hint ending with `advice` (the recipe's line) when advised."""
    hint = found.hint
    if found.advised and advice:
        hint = f"{hint} ({advice})" if hint else advice
    return Row(check, found.status, found.value, found.expected, found.message, hint)


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
