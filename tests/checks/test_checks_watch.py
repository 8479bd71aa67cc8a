"""`watch` around a user's own training loop: correct loops pass, classic loop bugs are found."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from recipe_audit import checks  # noqa: E402

from tests.checks.checks_zoo import digits_loader, mlp, normalized_digits, with_nan  # noqa: E402


def loop(
    model: Any,
    optimizer: Any,
    batches: Any,
    steps: int,
    *,
    zero_grad: bool = True,
    scheduler: Any = None,
    validate: bool = False,
    micro: int = 1,
) -> list[float]:
    """A user's training loop, with switches for the classic loop bugs."""
    losses = []
    batches = itertools.cycle(batches) if isinstance(batches, list) else _forever(batches)
    for _ in range(steps):
        for _ in range(micro):
            x, y = next(batches)
            loss = F.cross_entropy(model(x), y) / micro
            loss.backward()
        optimizer.step()
        if zero_grad:
            optimizer.zero_grad()
        if scheduler is not None:
            scheduler.step()
        if validate:
            model.eval()
            with torch.no_grad():
                model(x * 0 + 100)  # an evaluation pass must not enter the training record
            model.train()
        losses.append(loss.item() * micro)
    return losses


def _forever(loader: Any) -> Any:
    while True:
        yield from loader


def _status(report: Any, check: str) -> tuple[str, str]:
    r = report.filter(check=check).row(0, named=True)
    return r["status"], r["message"]


def test_a_correct_loop_passes_and_is_recorded_step_by_step() -> None:
    torch.manual_seed(0)
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    backward = torch.Tensor.backward
    with checks.watch(model, opt) as w:
        losses = loop(model, opt, digits_loader(), 120, validate=True)
    assert torch.Tensor.backward is backward  # the patch is gone after the block
    hist = w.history
    assert hist.height == 120 and hist["step"].to_list() == list(range(120))
    assert hist["loss"].to_list() == pytest.approx(losses, rel=1e-6)
    assert hist["lr"].unique().to_list() == [3e-4]
    assert float(hist["input_max"].max()) < 10  # the validation pass with inputs of 100 was not recorded
    assert set(w.layers["param"].unique()) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert not w.activations.is_empty()
    report = w.report()
    assert report.filter(status="fail").is_empty(), report.filter(status="fail").rows()
    assert _status(report, "decreasing_loss")[0] == "pass"


def test_missing_zero_grad_is_found() -> None:
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    with checks.watch(model, opt) as w:
        loop(model, opt, digits_loader(), 20, zero_grad=False)
    status, message = _status(w.report(), "grad_accumulation")
    assert status == "fail" and "still there" in message


def test_deliberate_accumulation_within_a_step_is_fine() -> None:
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    with checks.watch(model, opt) as w:
        loop(model, opt, digits_loader(), 20, micro=4)
    assert _status(w.report(), "grad_accumulation")[0] == "pass"


def test_nan_in_the_data_is_located_at_the_input() -> None:
    x, y = with_nan()
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    with checks.watch(model, opt) as w:
        loop(model, opt, DataLoader(TensorDataset(x, y), batch_size=32), 10)
    status, message = _status(w.report(), "nan_inf")
    assert status == "fail" and "(input)" in message
    assert w.first_nonfinite is not None and w.first_nonfinite["phase"] == "input"


def test_parameters_left_out_of_the_optimizer_are_named() -> None:
    model = mlp()
    opt = torch.optim.Adam(model[2].parameters(), lr=3e-4)
    with checks.watch(model, opt) as w:
        loop(model, opt, digits_loader(), 10)
    status, message = _status(w.report(), "frozen_params")
    assert status == "fail" and "`0.weight` (not in the optimizer)" in message


def test_an_epoch_schedule_stepped_per_batch_is_found() -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20)  # written for 20 epochs
    with checks.watch(model, opt, sched) as w:
        loop(model, opt, digits_loader(), 100, scheduler=sched)
    status, message = _status(w.report(planned_steps=100), "lr_schedule")
    assert status == "fail" and "stepped 100 times" in message and "rises again" in message
    good_model = mlp()
    good_opt = torch.optim.SGD(good_model.parameters(), lr=0.1)
    good = torch.optim.lr_scheduler.CosineAnnealingLR(good_opt, T_max=100)
    with checks.watch(good_model, good_opt, good) as w2:
        loop(good_model, good_opt, digits_loader(), 100, scheduler=good)
    assert _status(w2.report(planned_steps=100), "lr_schedule")[0] == "pass"


def test_a_loader_stuck_on_one_batch_is_reported() -> None:
    x, y = normalized_digits()
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    with checks.watch(model, opt) as w:
        loop(model, opt, [(x[:32], y[:32])], 15)
    status, message = _status(w.report(), "repeated_batches")
    assert status == "warn" and "14 of 14" in message


def test_max_steps_stops_recording_but_not_the_loop() -> None:
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    with checks.watch(model, opt, max_steps=5, activations=False) as w:
        losses = loop(model, opt, digits_loader(), 12)
    assert len(losses) == 12 and w.history.height == 5 and w.activations.is_empty()


def test_raw_pixels_entering_the_loop_are_flagged() -> None:
    x, y = normalized_digits()
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    with checks.watch(model, opt) as w:
        loop(model, opt, [(x[:64] * 40 + 120, y[:64]), (x[64:128] * 40 + 120, y[64:128])], 4)
    assert _status(w.report(), "input_normalization")[0] == "fail"
