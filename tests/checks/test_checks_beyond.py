"""The recipe past the skeleton, on real data (scikit-learn's digits): capacity sweep, learning-rate
range test, evaluation loss with a confidence interval, and the HTML report."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

import torch.nn.functional as F  # noqa: E402

from recipe_audit import checks  # noqa: E402

from tests.checks.checks_zoo import mlp, normalized_digits, step  # noqa: E402
from tests.checks.checks_zoo_grown import AttentionLM, seq_ce, strided  # noqa: E402


def test_capacity_sweep_sees_the_loss_fall_with_width_and_a_width_that_changes_nothing(tmp_path: Path) -> None:
    sweep = checks.capacity_sweep(mlp, normalized_digits(), F.cross_entropy, widths=(4, 16, 64))
    assert sweep.status == "pass", sweep.message
    assert sweep.table["params"].to_list() == sorted(sweep.table["params"].to_list())
    assert sweep.table["final_loss"][-1] < sweep.table["final_loss"][0]
    assert "decreases as capacity increases" in sweep.message
    png = tmp_path / "capacity.png"
    sweep.plot(png)
    assert png.read_bytes()[:4] == b"\x89PNG"
    unwired = checks.capacity_sweep(lambda width=32: mlp(32), normalized_digits(), F.cross_entropy, widths=(4, 64))
    assert unwired.status == "fail" and "does not fit the training set better" in unwired.message


def test_capacity_sweep_over_a_list_of_factories_sorts_them_by_parameters() -> None:
    def big() -> torch.nn.Module:
        return mlp(64)

    def small() -> torch.nn.Module:
        return mlp(4)

    sweep = checks.capacity_sweep([big, small], normalized_digits(), F.cross_entropy, steps=200)
    assert sweep.table["name"].to_list() == ["small", "big"] and sweep.status == "pass", sweep.message


def test_lr_range_test_suggests_a_rate_and_warns_when_yours_is_outside(tmp_path: Path) -> None:
    slow = checks.lr_range_test(
        mlp, normalized_digits(), F.cross_entropy, optimizer_fn=lambda m: torch.optim.Adam(m.parameters(), lr=1e-6)
    )
    lo, hi = slow.good_range
    assert lo < hi and lo <= slow.suggested_lr <= hi
    assert slow.status == "warn" and "below that range" in slow.message, slow.message
    inside = checks.lr_range_test(
        mlp,
        normalized_digits(),
        F.cross_entropy,
        optimizer_fn=lambda m: torch.optim.Adam(m.parameters(), lr=slow.suggested_lr),
    )
    assert inside.status == "pass" and "inside it" in inside.message, inside.message
    too_high = checks.lr_range_test(
        mlp, normalized_digits(), F.cross_entropy, optimizer_fn=lambda m: torch.optim.Adam(m.parameters(), lr=10.0)
    )
    assert too_high.status == "warn" and "above that range" in too_high.message
    assert slow.table["lr"].is_sorted() and slow.table["lr"][0] == pytest.approx(1e-6)
    png = tmp_path / "lr.png"
    slow.plot(png)
    assert png.read_bytes()[:4] == b"\x89PNG"
    stuck = checks.lr_range_test(mlp, normalized_digits(), F.cross_entropy, train_step=step(optimizer_step=False))
    assert stuck.status == "fail" and "never fell" in stuck.message


def _trained(steps: int, x: torch.Tensor, y: torch.Tensor) -> torch.nn.Module:
    with torch.random.fork_rng():  # the global RNG is left as the caller had it
        torch.manual_seed(0)
        model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (32,), generator=g)
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    return model


def test_eval_loss_has_an_interval_and_a_real_difference_is_significant() -> None:
    x, y = normalized_digits()
    train, test = (x[:1300], y[:1300]), (x[1300:], y[1300:])
    short, long = _trained(20, *train), _trained(400, *train)
    a, b = checks.eval_loss(short, test), checks.eval_loss(long, test)
    assert a.n == b.n == 497 and a.low < a.mean < a.high
    with torch.no_grad():
        assert a.mean == pytest.approx(float(F.cross_entropy(short(test[0]), test[1])), rel=1e-4)
    better = checks.compare_runs(a, b)
    assert better.paired and better.significant and better.difference < 0 and "B is better" in better.message
    same = checks.compare_runs(a, checks.eval_loss(short, test))
    assert not same.significant and same.difference == 0 and "not significant" in same.message
    unpaired = checks.compare_runs(a, b, paired=False)
    assert not unpaired.paired and unpaired.difference == pytest.approx(better.difference)
    assert unpaired.high - unpaired.low > better.high - better.low  # pairing removes the samples' own difficulty


def test_run_recipe_writes_an_inert_html_report_with_the_plots(tmp_path: Path) -> None:
    page = tmp_path / "checks.html"
    report = checks.run_recipe(
        mlp,
        normalized_digits(),
        F.cross_entropy,
        seed=0,
        steps=60,
        html=page,
        checks=["loss_at_init", "decreasing_loss", "nan_inf"],
    )
    text = page.read_text(encoding="utf-8")
    assert "Content-Security-Policy" in text and "<script" not in text.lower()
    for name in report["check"]:
        assert f"<td>{name}</td>" in text
    assert text.count("<img src='data:image/png;base64,") == 4
    assert "prediction dynamics" in text and "what enters the net" in text
    hostile = report.with_columns(message=report["message"] + "<img src=x onerror=alert(1)>")
    assert "<img src=x" not in checks.render_html(hostile)


def test_prediction_dynamics_of_a_sequence_model_follow_the_true_tokens_probability() -> None:
    torch.manual_seed(123)
    expected = torch.rand(2)
    torch.manual_seed(123)
    dyn = checks.prediction_dynamics(AttentionLM, strided(), seq_ce, steps=100, every=50)
    assert torch.equal(torch.rand(2), expected)  # the caller's RNG stream is left alone
    assert dyn["p_label"].null_count() == 0 and dyn["p_label"].is_between(0, 1).all()
    start, end = (dyn.filter(step=s)["p_label"].mean() for s in (0, 100))
    assert end > start + 0.1  # the true next token gains probability as the model learns
    assert dyn.filter(step=100)["prediction"].is_between(0, 1).all()  # share of positions right
