"""What every check is handed: the user's factories and pipeline, the budget, and shared experiments.

`Setup` holds the arguments of `run_recipe`, starts every experiment from scratch (seeded RNGs, a
fresh model from `model_fn`, a fresh data pipeline) and caches the experiments several checks share
(the baseline training run), so `run_recipe` trains each kind of run once.
"""

from __future__ import annotations

import contextlib
import inspect
import random
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast

import numpy as np

from recipe_audit.checks._data import Data
from recipe_audit.checks._outputs import final_activation
from recipe_audit.checks._torch import (
    Augment,
    Batch,
    LossFn,
    ModelFn,
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
from recipe_audit.checks.watch import Watcher

TASKS = ("classification", "regression", "sequence")

T = TypeVar("T")


@dataclass(frozen=True)
class Budget:
    """The knobs that bound the cost of the active checks (defaults: the whole recipe on a small
    model in a few seconds on one CPU core).

    Attributes:
        steps: training steps of each experiment (baseline, zeroed inputs, wider model, clean run
            for augmentation_labels).
        max_steps: how far `input_independent_baseline` and `decreasing_loss` extend their runs
            (doubling from `steps`) when `steps` is too short to tell (a slow start, a small lr).
        batch_size: batch size when `data` is ``(X, y)`` tensors (a DataLoader keeps its own).
        overfit_examples: size of the batch `overfit_one_batch` must memorize (2-16).
        overfit_steps: steps `overfit_one_batch` always allows (it stops as soon as it succeeds).
        overfit_max_steps: past `overfit_steps` it goes on, up to this cap, while every stretch of
            `overfit_steps / 2` steps still closes 10% of the remaining gap to the lowest loss.
        seed_steps: steps of each of the two runs `seed_determinism` compares.
        eval_examples: samples used for loss at init, priors, predictions and augmentation.
        probe_examples: samples used by the gradient probes (batch_independence, causality, grad checks).
        seed: the seed the checks' own experiments start from (`seed_determinism` follows
            `run_recipe`'s ``seed=`` instead: see there).

    Example:
        >>> fast = checks.Budget(steps=100, overfit_steps=500)                       # doctest: +SKIP
        >>> checks.run_recipe(model_fn, (X, y), F.cross_entropy, budget=fast)        # doctest: +SKIP
    """

    steps: int = 200
    max_steps: int = 800
    batch_size: int = 32
    overfit_examples: int = 8
    overfit_steps: int = 1000
    overfit_max_steps: int = 8000
    seed_steps: int = 10
    eval_examples: int = 256
    probe_examples: int = 8
    seed: int = 0


def scramble_rng() -> None:
    """Put every global RNG in a state drawn from the OS's entropy, as a fresh process finds them
    (Python's and NumPy's start from entropy; torch's from a fixed seed, which one process run
    after another would share, but an unseeded program cannot rely on it: a library, a thread or
    a changed call order moves it)."""
    draw = random.SystemRandom()
    random.seed(draw.getrandbits(64))
    np.random.seed(draw.getrandbits(32))
    torch.manual_seed(draw.getrandbits(63))


def seed_all(seed: int) -> None:
    """Seed the global RNGs a seeded program seeds: Python's, NumPy's legacy one, and torch's (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Restore every global RNG on exit, so running the checks leaves the caller's RNG streams alone."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


def default_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    """Adam at 3e-4: 'Adam with a learning rate of 3e-4 ... is safe' (the recipe)."""
    return torch.optim.Adam(model.parameters(), lr=3e-4)


def default_predict(model: nn.Module, x: torch.Tensor) -> object:
    """Inference as it should be: eval mode, no graph, and the model's mode restored."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(x)
    finally:
        model.train(was_training)


@dataclass
class Run:
    """One training experiment: the trained model, its optimizer, the losses, the start and the watcher."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    losses: list[float]
    initial: dict[str, torch.Tensor]
    watcher: Watcher | None = None
    batches: Iterator[Batch] | None = None  # the pipeline it trains on, to train further
    zero_inputs: bool = False
    augment: bool = True


@dataclass
class Setup:
    """Everything a check needs (the arguments of `run_recipe`), plus caches shared between checks."""

    model_fn: ModelFn
    data: Data
    loss_fn: LossFn
    optimizer_fn: OptimizerFn = default_optimizer
    scheduler_fn: SchedulerFn | None = None
    scheduler_interval: str = "step"
    train_step: TrainStep | None = None
    predict: Predict = default_predict
    augment: Augment | None = None
    preprocess: Preprocess | None = None
    task: str = "classification"
    epochs: float | None = None
    budget: Budget = field(default_factory=Budget)
    frozen: tuple[str, ...] = ()
    width_arg: str = "width"
    program_seed: int | None = None  # run_recipe(seed=N): the program seeds with N at start; None: it does not say
    eval_data: Data | None = None
    _cache: dict[str, object] = field(default_factory=dict)
    _built: weakref.WeakSet[nn.Module] = field(default_factory=weakref.WeakSet)  # models model_fn returned

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, not {self.task!r}")
        if self.scheduler_interval not in ("step", "epoch"):
            raise ValueError(f"scheduler_interval must be 'step' or 'epoch', not {self.scheduler_interval!r}")
        if not callable(self.model_fn):
            raise TypeError("model_fn must be a zero-argument callable returning a fresh nn.Module")

    def cached(self, key: str, make: Callable[[], T]) -> T:
        """The experiment under `key`, made once and shared by every check that asks for it."""
        if key not in self._cache:
            self._cache[key] = make()
        return cast(T, self._cache[key])

    # -- building blocks ------------------------------------------------------------------
    def new_model(self, **kwargs: Any) -> nn.Module:
        """A fresh model (seed the RNGs first when it matters)."""
        model = self.model_fn(**kwargs)
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model_fn must return an nn.Module, not {type(model).__name__}")
        # The checks train the models they build: one instance handed out twice would be trained
        # by one check and judged by the next, and the user's own model changed.
        if model in self._built:
            raise TypeError(
                "model_fn returned a model it returned before: it must build a new one each call "
                "(lambda: Net(), not lambda: net)"
            )
        self._built.add(model)
        return model

    @property
    def device(self) -> torch.device:
        def first_device() -> torch.device:
            with preserved_rng():  # never disturb the RNG stream of the experiment that asks first
                return device_of(self.new_model())

        return self.cached("device", first_device)

    def fresh_model(self, seed_offset: int = 0, **kwargs: Any) -> nn.Module:
        """A model built right after seeding, as a seeded program builds it."""
        seed_all(self.budget.seed + seed_offset)
        return self.new_model(**kwargs)

    def prepare(self, x: torch.Tensor, y: torch.Tensor, *, train: bool) -> Batch:
        """The pipeline in the user's order: to the model's device, augment (training only), preprocess."""
        x, y = x.to(self.device), y.to(self.device)
        if train and self.augment is not None:
            x, y = self.augment(x, y)
        if self.preprocess is not None:
            x = self.preprocess(x)
        return x, y

    def forward(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The model's output tensor (the first tensor of a tuple/dict output)."""
        out = first_tensor(model(x))
        if out is None:
            raise TypeError("the model returned no tensor")
        return out

    def step(self, model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> float:
        """One training step: the user's `train_step`, or the textbook one."""
        if self.train_step is not None:
            return float(self.train_step(model, optimizer, x, y))
        model.train()
        optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.forward(model, x), y)
        backward(loss)
        optimizer.step()
        return float(loss.detach())

    def outputs(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The user's `predict` on `x`, as one tensor."""
        out = first_tensor(self.predict(model, x))
        if out is None:
            raise TypeError("predict returned no tensor")
        return out

    def eval_batch(self) -> Batch:
        """`Budget.eval_examples` samples from a fresh pipeline, prepared without augmentation (cached)."""

        def take() -> Batch:
            with preserved_rng():
                seed_all(self.budget.seed)
                x, y = self.data.take(self.budget.eval_examples)
                return self.prepare(x, y, train=False)

        return self.cached("eval", take)

    def activation(self) -> str | None:
        """The model's final softmax/sigmoid, if any, read from a forward's autograd graph (cached)."""

        def read() -> str | None:
            x, _ = self.eval_batch()
            with preserved_rng(), torch.enable_grad():
                return final_activation(self.forward(self.fresh_model().eval(), x[:2]))

        return self.cached("activation", read)

    def width_default(self) -> int | None:
        """The default of `model_fn`'s width argument, when it has one with an int default."""
        try:
            param = inspect.signature(self.model_fn).parameters.get(self.width_arg)
        except (TypeError, ValueError):
            return None
        if param is None or not isinstance(param.default, int):
            return None
        return param.default

    # -- experiments ----------------------------------------------------------------------
    def train(
        self,
        steps: int,
        *,
        zero_inputs: bool = False,
        augment: bool = True,
        watch: bool = False,
        model_kwargs: dict[str, Any] | None = None,
        seed_offset: int = 0,
        optimizer_fn: OptimizerFn | None = None,
    ) -> Run:
        """Train a fresh model for `steps` steps on a fresh pipeline, at constant lr (no scheduler:
        'disable learning rate decays' while building trust)."""
        model = self.fresh_model(seed_offset, **(model_kwargs or {}))
        initial = {k: v.detach().clone() for k, v in model.named_parameters()}
        optimizer = (optimizer_fn or self.optimizer_fn)(model)
        watcher = Watcher(model, optimizer, every=max(1, steps // 10)) if watch else None
        run = Run(model, optimizer, [], initial, watcher, self.data.cycle(), zero_inputs, augment)
        return self.extend(run, steps)

    def extend(self, run: Run, steps: int) -> Run:
        """Train `run` `steps` steps further on its own pipeline (watched again, if it was)."""
        batches = run.batches if run.batches is not None else self.data.cycle()
        run.batches = batches
        with run.watcher if run.watcher is not None else contextlib.nullcontext():
            for _ in range(steps):
                x, y = next(batches)
                x, y = self.prepare(x, y, train=run.augment)
                if run.zero_inputs:
                    x = torch.zeros_like(x)
                run.losses.append(self.step(run.model, run.optimizer, x, y))
        return run

    def baseline(self) -> Run:
        """The shared training run: `Budget.steps` steps on real data, watched (cached)."""
        return self.cached("baseline", lambda: self.train(self.budget.steps, watch=True))


OPTION_NAMES = (
    "optimizer_fn",
    "scheduler_fn",
    "scheduler_interval",
    "train_step",
    "predict",
    "augment",
    "preprocess",
    "task",
    "epochs",
    "steps",
    "budget",
    "seed",
    "frozen",
    "width_arg",
    "eval_data",
)


def make_setup(model_fn: ModelFn, data: Any, loss_fn: LossFn, options: dict[str, Any]) -> Setup:
    """A `Setup` from `run_recipe`'s arguments; unknown option names are a TypeError."""
    require_torch()
    unknown = set(options) - set(OPTION_NAMES)
    if unknown:
        raise TypeError(f"unknown option(s) {sorted(unknown)}; the options are {OPTION_NAMES}")
    budget = options.pop("budget", None) or Budget()
    if options.get("steps") is not None:
        budget = replace(budget, steps=int(options["steps"]))
    program_seed = options.pop("seed", None)
    if program_seed is not None:
        program_seed = int(program_seed)
        budget = replace(budget, seed=program_seed)
    options.pop("steps", None)
    clean = {k: v for k, v in options.items() if v is not None}
    if "frozen" in clean:
        clean["frozen"] = tuple(clean["frozen"])
    if "eval_data" in clean:
        clean["eval_data"] = Data(clean["eval_data"], budget.batch_size, budget.seed)
    return Setup(
        model_fn,
        Data(data, budget.batch_size, budget.seed),
        loss_fn,
        budget=budget,
        program_seed=program_seed,
        **clean,
    )
