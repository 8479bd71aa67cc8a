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
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from recipe_audit.checks._torch import Batch, torch

if TYPE_CHECKING:
    from torch.utils.data import DataLoader

Loader: TypeAlias = "DataLoader[Any]"
"""A DataLoader over any dataset: its items are whatever the user's dataset and collate yield."""


def split_batch(batch: object) -> Batch:
    """``(x, y)`` from a batch: a tuple or list whose first two items are inputs and targets."""
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return cast("torch.Tensor", batch[0]), cast("torch.Tensor", batch[1])
    if isinstance(batch, dict) and {"x", "y"} <= set(batch):
        return cast("torch.Tensor", batch["x"]), cast("torch.Tensor", batch["y"])
    raise TypeError(
        f"a batch must be (inputs, targets) (a tuple or list, or a dict with 'x' and 'y'), not {type(batch).__name__}"
    )


class TensorBatches:
    """``(X, y)`` tensors as a re-iterable of batches. For training (`shuffle`): shuffled by its own
    generator (seeded with `seed`, a new order each pass), the last incomplete batch dropped (a batch
    of one breaks BatchNorm); in order and complete otherwise."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = True, seed: int = 0) -> None:
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


def _tensor_pair(obj: object) -> Batch | None:
    """``(X, y)`` when `obj` is a tuple or list of exactly two tensors, else None."""
    if isinstance(obj, (tuple, list)) and len(obj) == 2:
        x, y = obj
        if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
            return x, y
    return None


def _is_dataloader(obj: object) -> bool:
    """Whether `obj` is a torch DataLoader."""
    return isinstance(obj, torch.utils.data.DataLoader)


def _copy_loader(loader: Loader) -> tuple[Loader | None, str | None]:
    """A DataLoader that yields what `loader` would yield next, or (None, why it cannot be copied)."""
    if isinstance(loader.dataset, torch.utils.data.IterableDataset):
        return None, "its dataset is an IterableDataset, whose stream position cannot be copied"
    memo: dict[int, object] = {id(loader.dataset): loader.dataset}
    generator = loader.generator
    if generator is not None:
        twin = torch.Generator(device=generator.device)
        twin.set_state(generator.get_state())
        memo[id(generator)] = twin
    try:
        batch_sampler = copy.deepcopy(loader.batch_sampler, memo)
        sampler = None if batch_sampler is not None else copy.deepcopy(loader.sampler, memo)
    except Exception as err:  # a sampler holding a lock, a file, a C object: say why
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
        return torch.utils.data.DataLoader(loader.dataset, batch_sampler=batch_sampler, **kwargs), None
    return torch.utils.data.DataLoader(loader.dataset, batch_size=None, sampler=sampler, **kwargs), None


class Data:
    """The user's `data` argument, able to start a fresh pipeline for every experiment.

    `data` is whatever the user hands over (a DataLoader, tensors, a factory, a list of batches or
    another iterable), told apart here, hence ``Any``.
    """

    def __init__(self, data: Any, batch_size: int = 32, seed: int = 0) -> None:
        self.raw = data
        self.batch_size = batch_size
        self.seed = seed
        self.note: str | None = None  # why the pipeline cannot be restarted, when it cannot
        if _tensor_pair(data) is not None:
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
        elif isinstance(data, Iterator):
            # A generator is read once: the first checks would use it up and the rest see no batch.
            raise TypeError(
                f"data is a one-shot {type(data).__name__} (an iterator): the checks read the data many "
                "times; pass a list of batches, a DataLoader, or a function that makes the iterator "
                "(lambda: (batch for batch in ...))"
            )
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

    def _wrap(self, obj: object) -> Iterable[object]:
        pair = _tensor_pair(obj)
        if pair is not None:
            return TensorBatches(pair[0], pair[1], self.batch_size, seed=self.seed)
        if isinstance(obj, Iterable):  # a DataLoader, or another iterable of batches
            return cast("Iterable[object]", obj)
        raise TypeError(f"the data factory must return a DataLoader or (X, y) tensors, not {type(obj).__name__}")

    def fresh(self) -> Iterable[object]:
        """A pipeline in the state the user's program would start from (re-iterable for epochs)."""
        if self.kind == "factory":
            return self._wrap(cast("Callable[[], object]", self.raw)())
        if self.kind == "tensors":
            return TensorBatches(self.raw[0], self.raw[1], self.batch_size, seed=self.seed)
        if self.kind == "loader" and self.restartable:
            copied, _ = _copy_loader(self.raw)
            if copied is not None:
                return copied
        return cast("Iterable[object]", self.raw)

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
        pipeline = self.fresh()
        if not isinstance(pipeline, Sized):
            return None
        try:
            return len(pipeline)
        except TypeError:  # a DataLoader over an IterableDataset without __len__
            return None

    def ordered(self) -> Iterable[object]:
        """Batches in dataset order (index 0 first), for joining per-sample results to paths."""
        if self.kind == "tensors":
            return TensorBatches(self.raw[0], self.raw[1], self.batch_size, shuffle=False)
        pipeline = self.fresh()
        if isinstance(pipeline, TensorBatches):
            return TensorBatches(pipeline.x, pipeline.y, pipeline.batch_size, shuffle=False)
        if isinstance(pipeline, torch.utils.data.DataLoader):
            if isinstance(pipeline.dataset, torch.utils.data.IterableDataset):
                return cast("Iterable[object]", pipeline)
            batch_size = pipeline.batch_size or self.batch_size
            return torch.utils.data.DataLoader(
                pipeline.dataset, batch_size=batch_size, shuffle=False, collate_fn=pipeline.collate_fn
            )
        return pipeline


def labels_of(data: Data, max_batches: int = 64) -> torch.Tensor:
    """Targets from up to `max_batches` batches of a fresh pipeline, concatenated."""
    return torch.cat([y for _, y in data.batches(max_batches)])
