"""Where batches come from: a DataLoader, ``(X, y)`` tensors, or a zero-argument factory of either.

Every experiment starts from a fresh pipeline, the way the user's program would: a factory is
called again; a DataLoader is copied (same dataset, a deep copy of its sampler and a generator
with the same state, so the copy yields the order the original would yield next, and the user's
loader is never advanced); tensors are batched here, shuffled by a generator of their own seeded
from the checks' seed (this batching is ours, not the user's, so it must not make a run depend on
the global RNG).
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Iterable, Iterator
from typing import Any

from recipe_audit.checks._torch import torch

Batch = tuple[Any, Any]


def split_batch(batch: Any) -> Batch:
    """``(x, y)`` from a batch: a tuple or list whose first two items are inputs and targets."""
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    if isinstance(batch, dict) and {"x", "y"} <= set(batch):
        return batch["x"], batch["y"]
    raise TypeError(
        f"a batch must be (inputs, targets) (a tuple or list, or a dict with 'x' and 'y'), not {type(batch).__name__}"
    )


class TensorBatches:
    """``(X, y)`` tensors as a re-iterable of batches. For training (`shuffle`): shuffled by its own
    generator (seeded with `seed`, a new order each pass), the last incomplete batch dropped (a batch
    of one breaks BatchNorm); in order and complete otherwise."""

    def __init__(self, x: Any, y: Any, batch_size: int, shuffle: bool = True, seed: int = 0) -> None:
        if len(x) != len(y):
            raise ValueError(f"X and y differ in length: {len(x)} vs {len(y)}")
        if len(x) == 0:
            raise ValueError("the data is empty")
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def _end(self) -> int:
        n = len(self.x)
        return n - n % self.batch_size if (self.shuffle and n >= self.batch_size) else n

    def __len__(self) -> int:
        return math.ceil(self._end() / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        n = len(self.x)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for start in range(0, self._end(), self.batch_size):
            idx = order[start : start + self.batch_size]
            yield self.x[idx.to(self.x.device)], self.y[idx.to(self.y.device)]


def _is_tensor_pair(obj: Any) -> bool:
    return isinstance(obj, (tuple, list)) and len(obj) == 2 and all(isinstance(t, torch.Tensor) for t in obj)


def _copy_loader(loader: Any) -> tuple[Any, str | None]:
    """A DataLoader that yields what `loader` would yield next, or (None, why it cannot be copied)."""
    from torch.utils.data import DataLoader, IterableDataset

    if isinstance(loader.dataset, IterableDataset):
        return None, "its dataset is an IterableDataset, whose stream position cannot be copied"
    memo: dict[int, Any] = {id(loader.dataset): loader.dataset}
    generator = loader.generator
    if generator is not None:
        twin = torch.Generator(device=generator.device)
        twin.set_state(generator.get_state())
        memo[id(generator)] = twin
    try:
        batch_sampler = copy.deepcopy(loader.batch_sampler, memo)
        sampler = None if batch_sampler is not None else copy.deepcopy(loader.sampler, memo)
    except Exception as err:  # noqa: BLE001 - a sampler holding a lock, a file, a C object: say why
        return None, f"its sampler cannot be copied ({type(err).__name__}: {err})"
    workers = loader.num_workers
    kwargs: dict[str, Any] = {
        "num_workers": workers,
        "collate_fn": loader.collate_fn,
        "pin_memory": loader.pin_memory,
        "timeout": loader.timeout,
        "worker_init_fn": loader.worker_init_fn,
        "generator": memo.get(id(generator)) if generator is not None else None,
    }
    if workers > 0:
        kwargs.update(multiprocessing_context=loader.multiprocessing_context, prefetch_factor=loader.prefetch_factor)
    if batch_sampler is not None:
        return DataLoader(loader.dataset, batch_sampler=batch_sampler, **kwargs), None
    return DataLoader(loader.dataset, batch_size=None, sampler=sampler, **kwargs), None


class Data:
    """The user's `data` argument, able to start a fresh pipeline for every experiment."""

    def __init__(self, data: Any, batch_size: int = 32, seed: int = 0) -> None:
        self.raw = data
        self.batch_size = batch_size
        self.seed = seed
        self.note: str | None = None  # why the pipeline cannot be restarted, when it cannot
        if _is_tensor_pair(data):
            self.kind = "tensors"
        elif callable(data) and not hasattr(data, "__iter__"):
            self.kind = "factory"
        elif _is_dataloader(data):
            self.kind = "loader"
            copied, why = _copy_loader(data)
            if copied is None:
                self.note = f"the DataLoader cannot be copied: {why}"
        elif isinstance(data, (list, tuple)) and data and all(isinstance(b, (tuple, list, dict)) for b in data):
            self.kind = "batches"  # a list of batches: re-iterable and unchanged by iteration
        elif isinstance(data, Iterable):
            self.kind = "iterable"
            self.note = f"a {type(data).__name__} is not a DataLoader, tensors or a factory and cannot be copied"
        else:
            raise TypeError(
                "data must be a DataLoader, (X, y) tensors, or a zero-argument factory returning either, "
                f"not {type(data).__name__}"
            )

    @property
    def restartable(self) -> bool:
        """Whether two experiments can start from the same pipeline state."""
        return self.note is None

    def _wrap(self, obj: Any) -> Iterable[Any]:
        if _is_tensor_pair(obj):
            return TensorBatches(obj[0], obj[1], self.batch_size, seed=self.seed)
        if _is_dataloader(obj) or isinstance(obj, Iterable):
            return obj
        raise TypeError(f"the data factory must return a DataLoader or (X, y) tensors, not {type(obj).__name__}")

    def fresh(self) -> Iterable[Any]:
        """A pipeline in the state the user's program would start from (re-iterable for epochs)."""
        if self.kind == "factory":
            return self._wrap(self.raw())
        if self.kind == "tensors":
            return TensorBatches(self.raw[0], self.raw[1], self.batch_size, seed=self.seed)
        if self.kind == "loader" and self.restartable:
            return _copy_loader(self.raw)[0]
        return self.raw

    def cycle(self) -> Iterator[Batch]:
        """Batches from a fresh pipeline, pass after pass (each pass advances the sampler as training would)."""
        pipeline = self.fresh()
        while True:
            empty = True
            for batch in pipeline:
                empty = False
                yield split_batch(batch)
            if empty:
                raise ValueError("the data yields no batch")

    def batches(self, n: int) -> list[Batch]:
        """The first `n` batches of a fresh pipeline (fewer when one pass is shorter)."""
        return [split_batch(b) for b in itertools.islice(iter(self.fresh()), n)]

    def take(self, n_samples: int, max_batches: int = 64) -> Batch:
        """About `n_samples` samples, concatenated from the first batches of a fresh pipeline."""
        xs, ys, count = [], [], 0
        for x, y in itertools.islice(self.cycle(), max_batches):
            xs.append(x)
            ys.append(y)
            count += len(x)
            if count >= n_samples:
                break
        return torch.cat(xs)[:n_samples], torch.cat(ys)[:n_samples]

    def batches_per_epoch(self) -> int | None:
        """Batches in one pass over the data, or None when the pipeline has no length."""
        try:
            return len(self.fresh())  # type: ignore[arg-type]
        except TypeError:
            return None

    def ordered(self) -> Iterable[Any]:
        """Batches in dataset order (index 0 first), for joining per-sample results to paths."""
        if self.kind == "tensors":
            return TensorBatches(self.raw[0], self.raw[1], self.batch_size, shuffle=False)
        pipeline = self.fresh()
        if isinstance(pipeline, TensorBatches):
            return TensorBatches(pipeline.x, pipeline.y, pipeline.batch_size, shuffle=False)
        if _is_dataloader(pipeline):
            from torch.utils.data import DataLoader, IterableDataset

            if isinstance(pipeline.dataset, IterableDataset):
                return pipeline
            batch_size = pipeline.batch_size or self.batch_size
            return DataLoader(pipeline.dataset, batch_size=batch_size, shuffle=False, collate_fn=pipeline.collate_fn)
        return pipeline


def _is_dataloader(obj: Any) -> bool:
    from torch.utils.data import DataLoader

    return isinstance(obj, DataLoader)


def labels_of(data: Data, max_batches: int = 64) -> Any:
    """Targets from up to `max_batches` batches of a fresh pipeline, concatenated."""
    return torch.cat([y for _, y in data.batches(max_batches)])

