"""The registry of training checks: each check declared once, with its place in the recipe.

A check is declared where it is implemented, with `recipe_audit.checks._runner.training_check`::

    @training_check(order=20, step="verify loss @ init",
                    advice="'you should measure -log(1/n_classes) on a softmax at initialization'")
    def loss_at_init(setup: Setup) -> Verdict:
        \"\"\"The loss of a fresh model against its expected value ... (the public docstring)\"\"\"

That one declaration gives the `TrainingCheck` here (name, order, recipe step and advice,
implementation, docs), the public function ``checks.loss_at_init(model_fn, data, loss_fn,
**options)``, its place in `CHECK_NAMES` and the name and advice of its report row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from recipe_audit.checks._report import Row, Verdict, named

if TYPE_CHECKING:
    from recipe_audit.checks._setup import Setup


@dataclass(frozen=True)
class TrainingCheck:
    """One training check of the recipe.

    Attributes:
        name: the check's name: its report rows and its public function (a stable contract).
        order: its place in `run_recipe` (and `CHECK_NAMES`): checks run by increasing order.
        step: the recipe's step it verifies, e.g. ``"verify loss @ init"``.
        advice: the recipe's line for that step, quoted in every hint after the step.
        run: the implementation: the verdict on a `Setup`.
        doc: the docstring of the public function.
    """

    name: str
    order: int
    step: str
    advice: str
    run: Callable[[Setup], Verdict]
    doc: str

    @property
    def recipe_line(self) -> str:
        """The recipe's step and advice, as quoted at the end of the hints."""
        return f"{self.step}: {self.advice}"

    def row(self, found: Verdict) -> Row:
        """The report row of this check's verdict, the recipe's line added to the hint."""
        return named(self.name, found, self.recipe_line)


_CHECKS: dict[str, TrainingCheck] = {}


def register(check: TrainingCheck) -> None:
    """Add a check; a name or an order taken twice is a programming error."""
    if check.name in _CHECKS:
        raise ValueError(f"training check {check.name!r} is declared twice")
    clash = next((c.name for c in _CHECKS.values() if c.order == check.order), None)
    if clash is not None:
        raise ValueError(f"training checks {clash!r} and {check.name!r} share order {check.order}")
    _CHECKS[check.name] = check


def registered() -> tuple[TrainingCheck, ...]:
    """Every declared check, in recipe order."""
    return tuple(sorted(_CHECKS.values(), key=lambda c: c.order))


def row(name: str, found: Verdict) -> Row:
    """A finding named `name`: a declared check's row (with its advice), or a row of its own (`watch`'s
    ``repeated_batches`` and ``update_ratio`` are no training check: no advice)."""
    check = _CHECKS.get(name)
    return check.row(found) if check is not None else named(name, found, "")
