"""'Visualize just before the net': PNGs of what enters it, how predictions move, the first filters, the loss.

Plots use matplotlib's object-oriented API (``matplotlib.figure.Figure``): no pyplot, no global
backend change, safe in tests and on headless machines.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

import polars as pl

from recipe_audit.checks._data import Data, split_batch
from recipe_audit.checks._outputs import describe, is_probabilities
from recipe_audit.checks._setup import Setup, default_optimizer, default_predict, preserved_rng, seed_all
from recipe_audit.checks._torch import (
    Augment,
    LossFn,
    OptimizerFn,
    Predict,
    Preprocess,
    TrainStep,
    nn,
    require_matplotlib,
    require_torch,
    torch,
)
from recipe_audit.checks.watch import Watcher

if TYPE_CHECKING:
    from matplotlib.figure import Figure

P = ParamSpec("P")
R = TypeVar("R")


def _keeps_rng(fn: Callable[P, R]) -> Callable[P, R]:
    """Seed as the plot needs, and leave the caller's global RNG streams as they were."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with preserved_rng():
            return fn(*args, **kwargs)

    return wrapper


def figure(width: float, height: float) -> Figure:
    """A matplotlib figure of the object-oriented API (no pyplot, no global backend change)."""
    return cast("Figure", require_matplotlib().Figure(figsize=(width, height), dpi=100))


def _as_images(x: torch.Tensor, image_shape: Sequence[int] | None) -> torch.Tensor:
    """[N, H, W] or [N, H, W, 3] float images from a batch ([N, C, H, W], [N, H, W] or flat [N, F])."""
    x = x.detach().float().cpu()
    if x.dim() == 2:
        if image_shape is None:
            side = math.isqrt(x.shape[1])
            image_shape = (side, side) if side * side == x.shape[1] else (1, x.shape[1])
        x = x.reshape(len(x), *image_shape)
    if x.dim() == 4:
        x = x.permute(0, 2, 3, 1) if x.shape[1] == 3 else x[:, 0]
    return x


@_keeps_rng
def show_batch(
    data: Any,
    path: str | os.PathLike[str],
    *,
    n: int = 32,
    augment: Augment | None = None,
    preprocess: Preprocess | None = None,
    class_names: Sequence[str] | None = None,
    image_shape: Sequence[int] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    seed: int = 0,
) -> str:
    """Write a PNG grid of exactly what enters the net: the first batch of a fresh pipeline after
    `augment` and `preprocess`, decoded back from the tensor, each image titled with its label.

    Decoding: ``x * std + mean`` per channel when `mean`/`std` are given (undoing the
    normalization), else the batch's value range mapped to black..white; the title states the raw
    range, mean and std of the tensor, so 0-255 inputs or a wrong normalization show. Flat inputs
    are reshaped to `image_shape` (default: the square side). Token ids are drawn as a heat map.

    Returns:
        The path written.

    Example:
        >>> checks.show_batch((X, y), "batch.png", preprocess=normalize, image_shape=(8, 8))  # doctest: +SKIP
        >>> checks.show_batch(loader, "aug.png", augment=my_augment)                          # doctest: +SKIP
    """
    require_torch()
    seed_all(seed)
    x, y = split_batch(next(iter(Data(data, n).fresh())))
    x, y = x[:n], y[:n]
    if augment is not None:
        x, y = augment(x, y)
    if preprocess is not None:
        x = preprocess(x)
    raw = x.detach().float().cpu()
    title = (
        f"what enters the net: {tuple(x.shape)} {str(x.dtype).replace('torch.', '')}, "
        f"range [{float(raw.min()):.3g}, {float(raw.max()):.3g}], mean {float(raw.mean()):.3g}, "
        f"std {float(raw.std()):.3g}"
    )
    names = [class_names[int(v)] if class_names is not None else str(v) for v in _label_list(y)]
    if not x.is_floating_point():  # token ids
        fig = figure(10, 0.35 * len(x) + 1.5)
        ax = fig.add_subplot(1, 1, 1)
        ax.imshow(raw.reshape(len(raw), -1).numpy(), aspect="auto", cmap="viridis")
        ax.set_yticks(range(len(names)), [f"y={s[:24]}" for s in names], fontsize=6)
        fig.suptitle(title, fontsize=8)
        fig.savefig(path)
        return os.fspath(path)
    images = raw
    if mean is not None and std is not None and raw.dim() == 4:
        shape = (1, -1, 1, 1)
        images = raw * torch.tensor(std).reshape(shape) + torch.tensor(mean).reshape(shape)
    images = _as_images(images, image_shape)
    lo, hi = float(images.min()), float(images.max())
    if mean is None or std is None:
        images = (images - lo) / (hi - lo if hi > lo else 1.0)
    cols = min(8, len(images))
    rows_ = math.ceil(len(images) / cols)
    fig = figure(1.3 * cols, 1.45 * rows_ + 0.6)
    for i, image in enumerate(images):
        ax = fig.add_subplot(rows_, cols, i + 1)
        ax.imshow(
            image.clamp(0, 1).numpy(),
            cmap="gray" if image.dim() == 2 else None,
            vmin=0,
            vmax=1,
            interpolation="nearest",
        )
        ax.set_title(names[i][:14], fontsize=7)
        ax.axis("off")
    fig.suptitle(title, fontsize=7)
    fig.savefig(path)
    return os.fspath(path)


def _label_list(y: torch.Tensor) -> list[int | float | str]:
    y = y.detach().cpu()
    if y.dim() == 1:
        return [round(v, 3) if isinstance(v, float) else v for v in y.tolist()]
    return [",".join(str(round(float(v), 2)) for v in row.reshape(-1)[:4].tolist()) for row in y]


@_keeps_rng
def prediction_dynamics(
    model_fn: Callable[[], nn.Module],
    data: Any,
    loss_fn: LossFn,
    path: str | os.PathLike[str] | None = None,
    *,
    steps: int = 200,
    every: int = 10,
    n: int = 8,
    optimizer_fn: OptimizerFn | None = None,
    train_step: TrainStep | None = None,
    predict: Predict | None = None,
    augment: Augment | None = None,
    preprocess: Preprocess | None = None,
    seed: int = 0,
) -> pl.DataFrame:
    """Train a fresh model and record its predictions on a fixed batch of `n` samples every
    `every` steps: how each prediction moves, the recipe's 'visualize prediction dynamics'.

    Returns:
        ``step, sample, label, prediction, p_label`` (probability of the true label for
        classification; null for regression; for sequences, the mean over positions of the true
        token's probability, ``prediction`` the share of positions right and ``label`` the first
        target), one row per sample per recorded step; when `path` is given, also a PNG with one
        curve per sample (p_label, or prediction against its target).

    Example:
        >>> dyn = checks.prediction_dynamics(model_fn, (X, y), F.cross_entropy, "dynamics.png")  # doctest: +SKIP
        >>> dyn.filter(pl.col("step") == dyn["step"].max())                                      # doctest: +SKIP
    """
    require_torch()
    setup = Setup(
        model_fn,
        Data(data),
        loss_fn,
        optimizer_fn=optimizer_fn or default_optimizer,
        train_step=train_step,
        predict=predict or default_predict,
        augment=augment,
        preprocess=preprocess,
    )
    seed_all(seed)
    fx, fy = setup.prepare(*setup.data.take(n), train=False)
    model = setup.fresh_model(seed)
    optimizer = setup.optimizer_fn(model)
    batches = setup.data.cycle()
    records: list[dict[str, float | None]] = []
    for step in range(steps + 1):
        if step % every == 0 or step == steps:
            records.extend(_predictions(setup, model, fx, fy, step))
        if step < steps:
            setup.step(model, optimizer, *setup.prepare(*next(batches), train=True))
    table = pl.DataFrame(
        records,
        schema={
            "step": pl.Int64,
            "sample": pl.Int64,
            "label": pl.Float64,
            "prediction": pl.Float64,
            "p_label": pl.Float64,
        },
    )
    if path is not None:
        fig = figure(7, 4)
        ax = fig.add_subplot(1, 1, 1)
        column = "p_label" if table["p_label"].null_count() == 0 else "prediction"
        for (sample,), part in table.group_by("sample", maintain_order=True):
            ax.plot(part["step"].to_list(), part[column].to_list(), label=f"sample {sample} (y={part['label'][0]:g})")
        ax.set_xlabel("step")
        ax.set_ylabel("p(true label)" if column == "p_label" else "prediction")
        ax.legend(fontsize=6)
        ax.set_title("prediction dynamics on a fixed batch")
        fig.savefig(path)
    return table


def _predictions(
    setup: Setup, model: nn.Module, x: torch.Tensor, y: torch.Tensor, step: int
) -> list[dict[str, float | None]]:
    out = setup.outputs(model, x).detach().float()
    kind = describe("classification" if not y.is_floating_point() else "regression", out, y).kind
    if kind == "categorical" and y.dim() == 1:
        probs = out if is_probabilities(out, kind) else torch.softmax(out, -1)
        p_label = probs.gather(1, y.long().reshape(-1, 1)).reshape(-1).tolist()
        pred = probs.argmax(-1).float().tolist()
    elif kind == "categorical" and tuple(out.shape[:-1]) == tuple(y.shape):  # sequences: mean over positions
        probs = out if is_probabilities(out, kind) else torch.softmax(out, -1)
        p_tok = probs.gather(-1, y.long().unsqueeze(-1)).squeeze(-1).reshape(len(y), -1)
        p_label = p_tok.mean(1).tolist()
        pred = (probs.argmax(-1) == y).float().reshape(len(y), -1).mean(1).tolist()
    else:
        p_label, pred = [None] * len(y), out.reshape(len(y), -1)[:, 0].tolist()
    labels = y.float().reshape(len(y), -1)[:, 0].tolist()
    return [
        {"step": step, "sample": i, "label": labels[i], "prediction": pred[i], "p_label": p_label[i]}
        for i in range(len(y))
    ]


def first_layer_weights(
    model: nn.Module, path: str | os.PathLike[str], *, image_shape: Sequence[int] | None = None, max_filters: int = 64
) -> str:
    """Write a PNG of the first layer's filters (the first Conv or Linear in module order): noisy or
    identical filters show an untrained or broken first layer.

    Example:
        >>> model = train(make_model())                                             # doctest: +SKIP
        >>> checks.first_layer_weights(model, "filters.png", image_shape=(8, 8))   # doctest: +SKIP
    """
    require_torch()
    layer = next((m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))), None)
    if layer is None:
        raise ValueError("the model has no Conv or Linear layer to draw")
    w = layer.weight.detach().float().cpu()[:max_filters]
    if isinstance(layer, nn.Conv2d):
        images = w.permute(0, 2, 3, 1) if w.shape[1] == 3 else w[:, 0]
    else:
        images = _as_images(w.reshape(len(w), -1), image_shape)
    cols = min(8, len(images))
    rows_ = math.ceil(len(images) / cols)
    fig = figure(1.2 * cols, 1.2 * rows_ + 0.5)
    for i, image in enumerate(images):
        lo, hi = float(image.min()), float(image.max())
        ax = fig.add_subplot(rows_, cols, i + 1)
        ax.imshow(
            ((image - lo) / (hi - lo if hi > lo else 1.0)).numpy(),
            cmap="gray" if image.dim() == 2 else None,
            interpolation="nearest",
        )
        ax.axis("off")
    fig.suptitle(f"first layer: {type(layer).__name__} {tuple(layer.weight.shape)}", fontsize=8)
    fig.savefig(path)
    return os.fspath(path)


def loss_curve(
    history: Watcher | pl.DataFrame | Sequence[float], path: str | os.PathLike[str], *, log_scale: bool = True
) -> str:
    """Write a PNG of the loss over the run (and the learning rate, when recorded).

    Args:
        history: ``Watcher.history`` (or a `Watcher`), or a list of losses.

    Example:
        >>> with checks.watch(model, opt) as w: train()     # doctest: +SKIP
        >>> checks.loss_curve(w.history, "loss.png")        # doctest: +SKIP
    """
    source: object = getattr(history, "history", history)  # a Watcher (or a RecipeCallback) holds its history
    if isinstance(source, pl.DataFrame):
        table = source
    else:
        losses = [float(v) for v in cast("Sequence[float]", source)]
        table = pl.DataFrame({"step": list(range(len(losses))), "loss": losses})
    fig = figure(7, 4)
    ax = fig.add_subplot(1, 1, 1)
    part = table.filter(pl.col("loss").is_not_null())
    ax.plot(part["step"].to_list(), part["loss"].to_list(), color="tab:blue", label="loss")
    if log_scale and part.height and float(part["loss"].min()) > 0:  # type: ignore[arg-type]
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    if "lr" in table.columns and table["lr"].null_count() < table.height:
        twin = ax.twinx()
        twin.plot(table["step"].to_list(), table["lr"].to_list(), color="tab:orange", alpha=0.6)
        twin.set_ylabel("learning rate", color="tab:orange")
    ax.set_title("loss curve")
    fig.savefig(path)
    return os.fspath(path)
