"""Budgets that adapt to the task: overfitting one batch to the lowest achievable loss, and runs that
extend when their first steps cannot tell."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import torch.nn.functional as F  # noqa: E402

from recipe_audit import checks  # noqa: E402

from tests.checks.checks_zoo import Ignorer, mlp, normalized_digits  # noqa: E402
from tests.checks.checks_zoo_grown import AttentionLM, ConvLM, lm_loss, padded, seq_ce, strided  # noqa: E402


@pytest.mark.parametrize("model_fn", [ConvLM, AttentionLM], ids=["causal conv LM", "masked self-attention LM"])
def test_overfit_reaches_the_lowest_loss_of_next_token_models(model_fn: type) -> None:
    r = checks.overfit_one_batch(model_fn, strided(), seq_ce, task="sequence").row(0, named=True)
    assert r["status"] == "pass", r["message"]
    assert r["value"] >= 0.95 and "of the way to the lowest achievable" in r["message"]


class ShortConvLM(torch.nn.Module):
    """One causal Conv1d(k=2): each output sees two tokens, too few to memorize random sequences."""

    def __init__(self) -> None:
        super().__init__()
        self.emb, self.conv, self.head = torch.nn.Embedding(8, 32), torch.nn.Conv1d(32, 32, 2), torch.nn.Linear(32, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(F.pad(self.emb(x).transpose(1, 2), (1, 0))))
        return self.head(h.transpose(1, 2))


def test_a_short_receptive_field_is_not_taken_for_a_failure_to_fit() -> None:
    seq = torch.randint(0, 8, (64, 17), generator=torch.Generator().manual_seed(5))  # random tokens
    r = checks.overfit_one_batch(ShortConvLM, (seq[:, :16], seq[:, 1:]), seq_ce, task="sequence").row(0, named=True)
    assert r["status"] == "pass", r["message"]
    floor = float(r["message"].split("lowest achievable ")[1].split(";")[0])
    assert floor > 0.3 and "as far as the model sees them" in r["message"]  # two tokens of context: ambiguous
    full = checks.overfit_one_batch(AttentionLM, (seq[:, :16], seq[:, 1:]), seq_ce, task="sequence").row(0, named=True)
    assert full["status"] == "pass", full["message"]
    assert float(full["message"].split("lowest achievable ")[1].split(";")[0]) < floor  # it sees whole prefixes


def test_padding_the_loss_ignores_caps_the_predictions_that_can_match() -> None:
    r = checks.overfit_one_batch(lambda: AttentionLM(vocab=9), padded(), lm_loss(True), task="sequence").row(
        0, named=True
    )
    assert r["status"] == "pass", r["message"]
    assert "at most" in r["message"]


def test_label_smoothing_moves_the_lowest_loss_above_zero() -> None:
    def smoothed(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, y, label_smoothing=0.1)

    r = checks.overfit_one_batch(mlp, normalized_digits(), smoothed).row(0, named=True)
    assert r["status"] == "pass", r["message"]
    floor = float(r["message"].split("lowest achievable ")[1].split(";")[0])
    assert 0.3 < floor < 0.7  # 10 classes, smoothing 0.1: the entropy of the smoothed target, about 0.5


def test_slow_training_is_not_yet_converged_while_a_blind_model_cannot_fit() -> None:
    slow = checks.overfit_one_batch(
        mlp,
        normalized_digits(),
        F.cross_entropy,
        optimizer_fn=lambda m: torch.optim.SGD(m.parameters(), lr=1e-3),
        budget=checks.Budget(overfit_steps=400, overfit_max_steps=1200),
    ).row(0, named=True)
    assert slow["status"] == "warn" and "not yet converged" in slow["message"], slow["message"]
    assert "1200 steps" in slow["message"] and 0 < slow["value"] < 0.95
    blind = checks.overfit_one_batch(
        lambda: Ignorer(True),
        normalized_digits(),
        F.cross_entropy,
        budget=checks.Budget(overfit_steps=400, overfit_max_steps=1200),
    ).row(0, named=True)
    assert blind["status"] == "fail" and "cannot fit" in blind["message"], blind["message"]
    assert "stopped falling" in blind["message"]


def test_a_slow_start_extends_the_baseline_run_instead_of_failing() -> None:
    sgd = {"optimizer_fn": lambda m: torch.optim.SGD(m.parameters(), lr=5e-3), "steps": 50, "seed": 0}
    r = checks.decreasing_loss(mlp, normalized_digits(), F.cross_entropy, **sgd).row(0, named=True)
    assert r["status"] == "pass", r["message"]
    assert "extended from 50" in r["message"], r["message"]
    capped = checks.Budget(steps=50, max_steps=50)
    short = checks.decreasing_loss(
        mlp, normalized_digits(), F.cross_entropy, budget=capped, optimizer_fn=sgd["optimizer_fn"], seed=0
    ).row(0, named=True)
    assert short["status"] != "pass"  # the same run, not allowed to extend, cannot tell
