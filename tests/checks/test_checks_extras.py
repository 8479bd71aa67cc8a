"""rank_by_loss, the pytest helpers, the Lightning callback and the plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import polars as pl  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from recipe_audit import checks  # noqa: E402
from recipe_audit.checks.pytest_plugin import run_and_assert  # noqa: E402

from tests.checks.checks_zoo import digits, digits_loader, mlp, normalized_digits, pre, step, with_nan  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _train(x: torch.Tensor, y: torch.Tensor, steps: int = 400) -> torch.nn.Module:
    torch.manual_seed(0)
    model = mlp(64)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=g)
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    return model


def test_rank_by_loss_puts_wrong_labels_on_top_and_joins_paths() -> None:
    x, y = normalized_digits()
    noisy = y.clone()
    g = torch.Generator().manual_seed(1)
    flipped = torch.randperm(len(y), generator=g)[:30]
    noisy[flipped] = (noisy[flipped] + 1 + torch.randint(0, 9, (30,), generator=g)) % 10
    model = _train(x, noisy)
    paths = [f"digits/{i:04d}.png" for i in range(len(y))]
    ranked = checks.rank_by_loss(model, (x, noisy), paths=paths)
    assert ranked.height == len(y)
    assert ranked["loss"].is_sorted(descending=True)
    assert (
        ranked["path"] == ranked["index"].map_elements(lambda i: f"digits/{i:04d}.png", return_dtype=pl.String)
    ).all()
    top = set(ranked.head(60)["index"].to_list())
    assert len(top & set(flipped.tolist())) >= 20  # most wrong labels are among the 60 highest losses
    first = ranked.row(0, named=True)
    assert first["prediction"] != first["label"] and first["p_label"] < first["confidence"]


def test_rank_by_loss_reads_a_shuffled_loader_in_dataset_order() -> None:
    x, y = normalized_digits()
    model = _train(x, y, steps=50)
    from_loader = checks.rank_by_loss(model, digits_loader(64)).sort("index")
    from_tensors = checks.rank_by_loss(model, (x, y)).sort("index")
    assert from_loader["loss"].to_list() == pytest.approx(from_tensors["loss"].to_list(), rel=1e-5)


def test_assert_helper_and_fixture(recipe: Any) -> None:  # the plugin's fixture (conftest.py)
    report = checks.run_recipe(
        mlp,
        normalized_digits(),
        F.cross_entropy,
        train_step=step(zero_grad=False),
        checks=["grad_accumulation", "nan_inf"],
        steps=30,
    )
    assert checks.failures(report)["check"].to_list() == ["grad_accumulation"]
    with pytest.raises(AssertionError, match="grad_accumulation"):
        checks.assert_recipe_passes(report)
    assert report.filter(status="fail").height == 1  # the plain Polars way works too
    clean = recipe(mlp, normalized_digits(), F.cross_entropy, checks=["loss_at_init", "eval_mode"], steps=10)
    assert recipe is run_and_assert
    assert clean["status"].to_list() == ["pass", "pass"]


def test_lightning_callback_watches_the_first_steps() -> None:
    lightning = pytest.importorskip("lightning")

    class Module(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = mlp()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
            x, y = batch
            return F.cross_entropy(self(x), y)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=3e-4)

    def fit(data: tuple[torch.Tensor, torch.Tensor]) -> Any:
        callback = checks.RecipeCallback(steps=20)
        trainer = lightning.Trainer(
            max_steps=30,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator="cpu",
            devices=1,
            callbacks=[callback],
        )
        trainer.fit(Module(), DataLoader(TensorDataset(*data), batch_size=32, shuffle=True))
        return callback

    torch.manual_seed(0)
    good = fit(normalized_digits())
    assert good.history.height == 20
    assert good.report.filter(status="fail").is_empty(), good.report.filter(status="fail").rows()
    bad = fit(with_nan())
    row = bad.report.filter(check="nan_inf").row(0, named=True)
    assert row["status"] == "fail" and "(input)" in row["message"]


def test_plots_are_written(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    x, y = digits()
    out = checks.show_batch((x * 16, y), tmp_path / "raw.png", n=16, class_names=[str(i) for i in range(10)])
    assert Path(out).read_bytes()[:8] == PNG
    checks.show_batch(lambda: (x, y), tmp_path / "pre.png", preprocess=pre, image_shape=(8, 8))
    assert (tmp_path / "pre.png").stat().st_size > 2000
    dyn = checks.prediction_dynamics(
        mlp,
        (x, y),
        F.cross_entropy,
        tmp_path / "dyn.png",
        steps=100,
        every=20,
        preprocess=pre,
        optimizer_fn=lambda m: torch.optim.Adam(m.parameters(), lr=3e-3),
    )
    assert dyn.columns == ["step", "sample", "label", "prediction", "p_label"]
    assert dyn["step"].unique().sort().to_list() == [0, 20, 40, 60, 80, 100]
    mean_p = dyn.group_by("step").agg(pl.col("p_label").mean()).sort("step")["p_label"]
    assert mean_p[-1] > mean_p[0] + 0.3  # the fixed batch is being learned
    model = _train(*normalized_digits(), steps=50)
    assert Path(checks.first_layer_weights(model, tmp_path / "w.png")).read_bytes()[:8] == PNG
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    with checks.watch(model, opt) as w:
        for xb, yb in list(digits_loader())[:10]:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
    assert Path(checks.loss_curve(w, tmp_path / "loss.png")).read_bytes()[:8] == PNG
    assert Path(checks.loss_curve([2.3, 1.5, 0.9], tmp_path / "list.png")).read_bytes()[:8] == PNG
