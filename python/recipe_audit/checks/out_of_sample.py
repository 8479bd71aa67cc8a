"""`out_of_sample_probs`: K-fold predicted probabilities from the user's own model and training step,
the input `recipe_audit.find_label_errors` needs ("how noisy are the labels?")."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sized
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from recipe_audit.checks._outputs import is_probabilities
from recipe_audit.checks._setup import default_optimizer, default_predict, seed_all
from recipe_audit.checks._torch import (
    LossFn,
    OptimizerFn,
    Predict,
    Preprocess,
    SchedulerFn,
    TrainStep,
    backward,
    device_of,
    first_tensor,
    nn,
    require_torch,
    torch,
)

if TYPE_CHECKING:
    from torch.utils.data import Dataset


def _dataset(data: Any) -> tuple[Dataset[Any], int, Callable[[list[Any]], Any] | None]:
    """(an indexable dataset, batch size, collate function) from (X, y), a Dataset or a DataLoader
    (whatever the user hands over, and whatever its samples are: hence ``Any``)."""
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = (torch.as_tensor(np.asarray(v)) if not torch.is_tensor(v) else v for v in data)
        if len(x) != len(y):
            raise ValueError(f"data: {len(x)} inputs and {len(y)} targets; they must match")
        return torch.utils.data.TensorDataset(x, y), 64, None
    if isinstance(data, torch.utils.data.DataLoader):
        if isinstance(data.dataset, torch.utils.data.IterableDataset):
            raise TypeError("data: an IterableDataset cannot be split into folds; pass a map-style dataset")
        return data.dataset, data.batch_size or 64, data.collate_fn
    if hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        return cast("Dataset[Any]", data), 64, None
    raise TypeError("data must be (X, y) tensors or arrays, a map-style Dataset, or a DataLoader over one")


def _tensor(outputs: object) -> torch.Tensor:
    """The model's output tensor (the first tensor of a tuple/dict output)."""
    out = first_tensor(outputs)
    if out is None:
        raise TypeError("the model returned no tensor")
    return out


def _probabilities(out: torch.Tensor) -> torch.Tensor:
    out = out.detach().float()
    if out.dim() != 2:
        raise ValueError(f"the model's output must be (batch, classes) for class probabilities, not {tuple(out.shape)}")
    return out if is_probabilities(out, "categorical") else torch.softmax(out, dim=1)


def out_of_sample_probs(
    model_fn: Callable[[], nn.Module],
    data: Any,
    loss_fn: LossFn,
    *,
    folds: int = 5,
    epochs: int = 10,
    optimizer_fn: OptimizerFn | None = None,
    scheduler_fn: SchedulerFn | None = None,
    train_step: TrainStep | None = None,
    predict: Predict | None = None,
    preprocess: Preprocess | None = None,
    seed: int = 0,
    progress: bool | None = None,
) -> npt.NDArray[np.float64]:
    """K-fold cross-validated predicted probabilities: each row from a fresh model that never saw
    that sample, in dataset order.

    Args:
        model_fn: returns a fresh ``nn.Module`` (as for `run_recipe`).
        data: ``(X, y)`` tensors or arrays, a map-style ``Dataset`` of ``(x, y)``, or a
            ``DataLoader`` over one (its batch size and collate function are used).
        loss_fn: ``loss_fn(outputs, targets)``.
        folds: K; every sample is predicted by the model trained on the other K - 1 folds.
        epochs: passes over the training folds per model.
        optimizer_fn: ``optimizer_fn(model)``; default Adam at 3e-4.
        scheduler_fn: ``scheduler_fn(optimizer)``, stepped once per epoch.
        train_step: ``train_step(model, optimizer, x, y)``, the user's step; default the textbook
            one with `loss_fn`.
        predict: ``predict(model, x)``; default eval mode under ``torch.no_grad()``.
        preprocess: applied to inputs before the net, in training and prediction.
        seed: folds, initialisation and data order: the same seed gives the same array (on CPU).
        progress: a line per fold on stderr; default when stderr is a terminal.

    Returns:
        A float64 array (n, n_classes). Logits are turned into probabilities with a softmax; a
        model that outputs probabilities already (a final softmax) is used as is.

    Raises:
        ValueError: fewer samples than folds, folds < 2, outputs that are not (batch, classes).

    Example:
        >>> probs = checks.out_of_sample_probs(make_model, (X, y), F.cross_entropy, folds=5)  # doctest: +SKIP
        >>> recipe_audit.find_label_errors(y.numpy(), probs)                                 # doctest: +SKIP
    """
    require_torch()
    if folds < 2:
        raise ValueError(f"folds must be at least 2, not {folds}")
    dataset, batch_size, collate = _dataset(data)
    if not isinstance(dataset, Sized):
        raise TypeError("data: the dataset has no length; pass a map-style dataset")
    n = len(dataset)
    if n < folds:
        raise ValueError(f"data has {n} samples, fewer than folds={folds}; pass fewer folds")
    show = sys.stderr.isatty() if progress is None else progress
    order = np.random.default_rng(seed).permutation(n)
    parts = np.array_split(order, folds)
    result: npt.NDArray[np.float64] | None = None
    loader_options: dict[str, Any] = {
        "batch_size": batch_size,
        **({"collate_fn": collate} if collate is not None else {}),
    }
    for fold, held in enumerate(parts):
        started = time.perf_counter()
        train_idx = np.setdiff1d(order, held, assume_unique=True)
        seed_all(seed + fold)
        model = model_fn()
        device = device_of(model)
        optimizer = (optimizer_fn or default_optimizer)(model)
        scheduler = scheduler_fn(optimizer) if scheduler_fn is not None else None
        shuffle = torch.Generator().manual_seed(seed + fold)
        train = torch.utils.data.DataLoader(
            torch.utils.data.Subset(dataset, train_idx.tolist()), shuffle=True, generator=shuffle, **loader_options
        )
        for _ in range(epochs):
            for x, y in train:
                x, y = x.to(device), y.to(device)
                x = preprocess(x) if preprocess is not None else x
                if train_step is not None:
                    train_step(model, optimizer, x, y)
                else:
                    model.train()
                    optimizer.zero_grad(set_to_none=True)
                    backward(loss_fn(_tensor(model(x)), y))
                    optimizer.step()
            if scheduler is not None:
                scheduler.step()
        held_loader = torch.utils.data.DataLoader(
            torch.utils.data.Subset(dataset, held.tolist()), shuffle=False, **loader_options
        )
        rows: list[npt.NDArray[np.float64]] = []
        for x, _ in held_loader:
            x = x.to(device)
            x = preprocess(x) if preprocess is not None else x
            rows.append(_probabilities(_tensor((predict or default_predict)(model, x))).cpu().double().numpy())
        probs = np.concatenate(rows)
        if result is None:
            result = np.zeros((n, probs.shape[1]))
        result[held] = probs
        if show:
            print(
                f"[fold {fold + 1}/{folds}] {len(train_idx):,} trained, {len(held):,} predicted in "
                f"{time.perf_counter() - started:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    assert result is not None
    return result


__all__ = ["out_of_sample_probs"]
