"""`rank_by_loss`: per-sample loss after training, highest first: 'look at the mispredictions'."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from recipe_audit.checks._data import Data, split_batch
from recipe_audit.checks._outputs import describe, is_probabilities
from recipe_audit.checks._setup import default_predict
from recipe_audit.checks._torch import F, LossFn, Predict, Preprocess, device_of, first_tensor, nn, require_torch, torch


def _default_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy for integer labels, squared error otherwise."""
    if not y.is_floating_point():
        flat = out.reshape(-1, out.shape[-1])
        if is_probabilities(out, "categorical"):
            return F.nll_loss(torch.log(flat.clamp_min(1e-12)), y.reshape(-1), reduction="none").reshape(y.shape)
        return F.cross_entropy(flat, y.reshape(-1), reduction="none").reshape(y.shape)
    return (out.reshape(y.shape).float() - y.float()) ** 2


def rank_by_loss(
    model: nn.Module,
    data: Any,
    paths: Sequence[str] | None = None,
    *,
    loss_fn: LossFn | None = None,
    preprocess: Preprocess | None = None,
    predict: Predict | None = None,
    batch_size: int = 256,
) -> pl.DataFrame:
    """Every sample's loss under a trained model, highest first: wrong labels and hard cases on top.

    Args:
        model: the trained ``nn.Module``.
        data: a DataLoader over a map-style dataset (read in dataset order), ``(X, y)`` tensors, or
            a factory of either.
        paths: one path per sample, in dataset order, joined as column ``path``.
        loss_fn: ``loss_fn(outputs, targets)`` for one sample (called on one-sample slices); default
            cross-entropy for integer labels, squared error for float targets.
        preprocess: applied to inputs before the net, as in training.
        predict: the user's inference; default eval mode under ``torch.no_grad()``.

    Returns:
        ``index`` (position in the dataset), ``loss``, ``label``, ``prediction`` (argmax for
        classification), ``confidence`` (probability of the prediction) and ``p_label``
        (probability of the label), for classification, plus ``path`` when `paths` is given.
        Sorted by loss, highest first; a sequence sample's loss is its mean over positions.

    Example:
        >>> ranked = checks.rank_by_loss(model, (X, y), paths=files)   # doctest: +SKIP
        >>> ranked.head(20)   # the first candidates for a wrong label    # doctest: +SKIP
    """
    require_torch()
    device = device_of(model)
    predict = predict or default_predict
    rows: dict[str, list[float]] = {"loss": [], "label": [], "prediction": [], "confidence": [], "p_label": []}
    for batch in Data(data, batch_size).ordered():
        x, y = split_batch(batch)
        x, y = x.to(device), y.to(device)
        x = preprocess(x) if preprocess is not None else x
        found = first_tensor(predict(model, x))
        if found is None:
            raise TypeError("predict returned no tensor")
        out = found.detach()
        with torch.no_grad():
            if loss_fn is None:
                losses = _default_loss(out, y).reshape(len(y), -1).float().mean(1)
            else:
                losses = torch.stack([loss_fn(out[i : i + 1], y[i : i + 1]).float() for i in range(len(y))])
        rows["loss"].extend(losses.tolist())
        classification = (
            describe("classification", out, y).kind == "categorical" if not y.is_floating_point() else False
        )
        if classification and y.dim() == 1:
            probs = out if is_probabilities(out, "categorical") else torch.softmax(out.float(), -1)
            conf, pred = probs.max(-1)
            rows["label"].extend(y.tolist())
            rows["prediction"].extend(pred.tolist())
            rows["confidence"].extend(conf.tolist())
            rows["p_label"].extend(probs.gather(1, y.long().reshape(-1, 1)).reshape(-1).tolist())
        else:
            rows["label"].extend(y.reshape(len(y), -1)[:, 0].float().tolist())
            rows["prediction"].extend(out.reshape(len(out), -1)[:, 0].float().tolist())
    n = len(rows["loss"])
    columns = {k: v for k, v in rows.items() if len(v) == n}
    table = pl.DataFrame(columns).with_row_index("index")
    if paths is not None:
        if len(paths) != n:
            raise ValueError(f"{len(paths)} paths for {n} samples; pass one path per sample, in dataset order")
        table = table.with_columns(path=pl.Series([str(p) for p in paths]))
    return table.sort("loss", descending=True, maintain_order=True)
