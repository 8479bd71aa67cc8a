"""The last-layer bias the recipe asks for ("init well"), from the labels or targets.

torch is imported only when a tensor is asked for.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from recipe_audit._optional import require
from recipe_audit.schema import require_columns

TASKS = ("softmax", "sigmoid", "regression")


@dataclasses.dataclass(frozen=True)
class Bias:
    """The last layer's bias the recipe asks for ("init well"): numbers, and a torch tensor.

    Attributes:
        task: ``softmax``, ``sigmoid`` or ``regression``.
        values: one number per output.
        classes: the class of each output (null for regression and indicator matrices).
    """

    task: str
    values: list[float]
    classes: list[str] | None = None

    @property
    def tensor(self) -> Any:
        """The values as a float32 ``torch.Tensor`` (torch is imported here, not before)."""
        torch = require("torch", extra="torch", feature="Bias.tensor (.values has the numbers)")
        return torch.tensor(self.values, dtype=torch.float32)

    def init(self, layer: Any) -> Any:
        """Copy the values into ``layer.bias`` (e.g. the final ``torch.nn.Linear``); returns the layer.

        Example:
            >>> head = torch.nn.Linear(512, 4)                                     # doctest: +SKIP
            >>> recipe_audit.suggest_bias(files).init(head)                         # doctest: +SKIP
        """
        torch = require("torch", extra="torch", feature="Bias.init")
        if getattr(layer, "bias", None) is None or tuple(layer.bias.shape) != (len(self.values),):
            raise ValueError(f"Bias.init: the layer needs a bias of shape ({len(self.values)},)")
        with torch.no_grad():
            layer.bias.copy_(self.tensor.to(layer.bias.device, layer.bias.dtype))
        return layer


def _label_series(data: Any, split: str | None) -> pl.Series:
    if isinstance(data, pl.DataFrame):
        require_columns(
            data, ("label",), what="suggest_bias: the frame", hint="pass the scan frame or a list of labels"
        )
        rows = data.filter(pl.col("status") == "ok") if "status" in data.columns else data
        if split is not None and "split" in rows.columns and (rows["split"] == split).any():
            rows = rows.filter(pl.col("split") == split)
        return rows["label"].drop_nulls()
    return (data if isinstance(data, pl.Series) else pl.Series("label", list(data), strict=False)).drop_nulls()


def suggest_bias(
    data: Any,
    task: str = "softmax",
    *,
    split: str | None = "train",
    positive: str | None = None,
    classes: Sequence[str] | None = None,
) -> Bias:
    """The final layer's bias that makes the untrained network predict the data's base rates.

    - ``softmax``: log class priors, log(n_k / n): the loss at init is then the entropy of the
      labels instead of log(classes) plus noise, and there is no "hockey stick" in the first steps.
    - ``sigmoid``: log(p / (1 - p)) per output: with ``positive`` the share of that class (binary
      classification); with a 0/1 matrix (multi-label) each column's mean; with plain labels one
      output per class, one-vs-rest.
    - ``regression``: the target mean (per column for a matrix).

    Args:
        data: the scan frame (its ``label`` column, decoded files of `split` when it has one),
            a sequence / Series of labels or targets, or a 2-D array (rows = samples).
        task: ``softmax``, ``sigmoid`` or ``regression``.
        split: which split a frame is read from (the training split); ``None`` for all files.
        positive: for a binary ``sigmoid``: the positive class.
        classes: the output order (default: sorted labels); a listed class with no example
            raises (its prior would be log 0).

    Example:
        >>> bias = recipe_audit.suggest_bias(recipe_audit.scan("data/"), task="softmax")  # doctest: +SKIP
        >>> bias.values, bias.tensor                                                      # doctest: +SKIP
    """
    if task not in TASKS:
        raise ValueError(f"suggest_bias: task must be one of {TASKS}, not {task!r}")
    matrix = _matrix(data)
    if matrix is not None:
        means = [float(v) for v in matrix.mean(axis=0)]
        if task == "regression":
            return Bias(task, means)
        if task == "softmax":
            raise ValueError("suggest_bias: softmax needs labels, not a matrix; use task='sigmoid' for 0/1 indicators")
        return Bias(task, [_logit(p, f"column {i}") for i, p in enumerate(means)])
    labels = _label_series(data, split)
    if labels.len() == 0:
        raise ValueError("suggest_bias: no labels found (is the split empty, or are all files broken?)")
    if task == "regression":
        values = labels.cast(pl.Float64, strict=False)
        if values.null_count() > 0:
            raise ValueError("suggest_bias: regression targets must be numbers; some labels are not")
        return Bias(task, [float(values.mean())])
    counts = dict(labels.cast(pl.String).value_counts().iter_rows())
    order = list(classes) if classes is not None else sorted(counts)
    absent = [c for c in order if counts.get(c, 0) == 0]
    if absent:
        raise ValueError(f"suggest_bias: no example of {absent[:5]}; drop them from classes or collect data")
    total = labels.len()
    if task == "softmax":
        return Bias(task, [math.log(counts[c] / total) for c in order], order)
    if positive is not None:
        return Bias(task, [_logit(counts.get(positive, 0) / total, repr(positive))], [positive])
    return Bias(task, [_logit(counts[c] / total, repr(c)) for c in order], order)


def _matrix(data: Any) -> Any:
    """A 2-D float array when `data` is a matrix (NumPy or nested lists), else None."""
    if isinstance(data, (pl.DataFrame, pl.Series, str)):
        return None
    if isinstance(data, np.ndarray) or (isinstance(data, Sequence) and data and isinstance(data[0], (list, tuple))):
        array = np.asarray(data, dtype=float)
        return array if array.ndim == 2 else None
    return None


def _logit(p: float, what: str) -> float:
    if not 0 < p < 1:
        raise ValueError(f"suggest_bias: the rate of {what} is {p:g}; log(p/(1-p)) needs 0 < p < 1")
    return math.log(p / (1 - p))


__all__ = ["suggest_bias", "Bias", "TASKS"]
