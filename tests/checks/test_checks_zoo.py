"""The zoo: every bug is caught by the check named for it; no correct twin fails any check.

The whole zoo runs here (the first 31 cases, the 24 grown ones and 2 late ones; tuning and held-out
halves: about a second a case on one core); benches/studies/checks_compare.py reports the halves apart,
beside other tools.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import polars as pl  # noqa: E402

from recipe_audit import checks  # noqa: E402

from tests.checks.checks_zoo import CASES as FIRST_CASES  # noqa: E402
from tests.checks.checks_zoo import Case  # noqa: E402
from tests.checks.checks_zoo_grown import GROWN_CASES, HELD_OUT, LATE_CASES  # noqa: E402

CASES = FIRST_CASES + GROWN_CASES + LATE_CASES
IDS = [("held-out: " if c.name in HELD_OUT else "") + c.name for c in CASES]


def _run(build: dict, check: str | None = None) -> pl.DataFrame:
    kwargs = dict(build)
    model_fn, data, loss_fn = kwargs.pop("model_fn"), kwargs.pop("data"), kwargs.pop("loss_fn")
    if check is None:
        return checks.run_recipe(model_fn, data, loss_fn, **kwargs)
    return getattr(checks, check)(model_fn, data, loss_fn, **kwargs)


def test_every_check_has_a_bug_in_the_zoo() -> None:
    caught = {case.check for case in CASES}
    sequence_free = set(checks.CHECK_NAMES)
    assert sequence_free <= caught, f"checks without a zoo bug: {sorted(sequence_free - caught)}"


def test_the_zoo_is_large_and_its_split_fixed() -> None:
    assert len(CASES) >= 50 and len({c.name for c in CASES}) == len(CASES)
    assert HELD_OUT == {c.name for c in GROWN_CASES[1::2]} and len(HELD_OUT) == 12


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bug_is_caught_by_its_check(case: Case) -> None:
    report = _run(case.bug(), case.check)
    assert report.columns == list(checks.REPORT_SCHEMA)
    r = report.row(0, named=True)
    assert r["check"] == case.check
    assert r["status"] == case.status, r["message"]
    assert case.phrase in r["message"] + r["hint"], r["message"]
    assert r["hint"], "a caught bug must come with the recipe's advice"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_correct_twin_passes_every_check(case: Case) -> None:
    report = _run(case.twin())
    assert report["check"].to_list() == list(checks.CHECK_NAMES)
    failed = report.filter(status="fail")
    assert failed.is_empty(), failed.select("check", "message").rows()
    assert report.filter(check=case.check)["status"][0] == "pass"
