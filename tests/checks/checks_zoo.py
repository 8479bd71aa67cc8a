"""A zoo of buggy training set-ups, each with a correct twin that differs only by the bug.

Real data where it fits (scikit-learn's 8x8 digits, 1797 images, no download) and tiny synthetic
counting sequences for the causal ones. Every `Case` names the check that must catch its bug;
the tests run that check on the bug and every check on the twin.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

V, T = 8, 12  # vocabulary and length of the counting sequences


# -- data -----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's digits: X [1797, 64] float in 0..16, y [1797] long."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return torch.tensor(d.data, dtype=torch.float32), torch.tensor(d.target)


def pre(x: torch.Tensor) -> torch.Tensor:
    """The digits' normalization: 0..16 -> about zero mean, unit std."""
    return (x / 16 - 0.3) / 0.4


def pre255(x: torch.Tensor) -> torch.Tensor:
    """The same normalization for 0-255 pixels."""
    return (x / 255 - 0.3) / 0.4


def scale01(x: torch.Tensor) -> torch.Tensor:
    """0..16 -> 0..1 (zeros stay zeros)."""
    return x / 16


def adam(lr: float) -> Callable[[Any], Any]:
    return lambda model: torch.optim.Adam(model.parameters(), lr=lr)


def normalized_digits() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = digits()
    return pre(x), y


def regression_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """Target: 50 + 5 x the standardized amount of ink (mean 50, std 5), learnable from the pixels."""
    x, _ = digits()
    ink = x.sum(1)
    return x, 50 + 5 * (ink - ink.mean()) / ink.std()


def mirror_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """A left/right task: half the digits mirrored, label 1 = mirrored."""
    x, _ = digits()
    g = torch.Generator().manual_seed(0)
    flip = torch.rand(len(x), generator=g) < 0.5
    images = x.reshape(-1, 8, 8).clone()
    images[flip] = images[flip].flip(-1)
    return images.reshape(-1, 64), flip.long()


def counting(n: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences counting up mod V from a random start; the target at t is the token at t+1."""
    g = torch.Generator().manual_seed(0)
    x = (torch.randint(0, V, (n, 1), generator=g) + torch.arange(T)) % V
    return x, (x + 1) % V


def seq_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


def mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(out.reshape(y.shape), y)


# -- models ---------------------------------------------------------------------------------
def mlp(width: int = 32, outputs: int = 10) -> nn.Module:
    return nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, outputs))


def mlp_dropout() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 10))


def mlp_batchnorm() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))


def with_bias(values: list[float], outputs: int) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        model = mlp(outputs=outputs)
        with torch.no_grad():
            model[2].bias.copy_(torch.tensor(values))
        return model

    return make


class Softmaxed(nn.Module):
    """An MLP that ends in softmax (bug) or returns logits (twin)."""

    def __init__(self, softmax: bool) -> None:
        super().__init__()
        self.net, self.softmax = mlp(), softmax

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return out.softmax(-1) if self.softmax else out


class Scaled(nn.Module):
    """Logits multiplied by a temperature left at 30 (bug) or 1 (twin)."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.net, self.scale = mlp(), scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) * self.scale


class Ignorer(nn.Module):
    """Reads a stale attribute instead of its input (bug), or its input (twin)."""

    def __init__(self, ignore: bool) -> None:
        super().__init__()
        self.net, self.ignore = mlp(), ignore
        self.register_buffer("example", torch.zeros(1, 64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.example.expand_as(x) if self.ignore else x)


class Rows(nn.Module):
    """Reads each image row by row, time-major: view(8, B, 8) (bug: mixes samples) or permute (twin)."""

    def __init__(self, permute: bool) -> None:
        super().__init__()
        self.row = nn.Linear(8, 16)
        self.act = nn.ReLU()
        self.head = nn.Linear(128, 10)
        self.permute = permute

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        h = x.view(b, 8, 8).permute(1, 0, 2) if self.permute else x.view(8, b, 8)
        h = self.act(self.row(h))  # [8 rows, B, 16]
        return self.head(h.permute(1, 0, 2).reshape(b, -1))


class NumpyInit(nn.Module):
    """Weights drawn from numpy's default_rng(): unseeded (bug) or seeded from torch's seed (twin)."""

    def __init__(self, seeded: bool) -> None:
        super().__init__()
        rng = np.random.default_rng(torch.initial_seed() if seeded else None)
        self.net = mlp()
        with torch.no_grad():
            for layer in (self.net[0], self.net[2]):
                bound = 1 / math.sqrt(layer.in_features)
                layer.weight.copy_(torch.from_numpy(rng.uniform(-bound, bound, layer.weight.shape)).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Noisy(nn.Module):
    """Input noise in training: from an unseeded numpy Generator (bug) or torch's RNG (twin)."""

    def __init__(self, torch_rng: bool) -> None:
        super().__init__()
        self.net, self.torch_rng = mlp(), torch_rng
        self.rng = np.random.default_rng()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            noise = (
                torch.randn_like(x)
                if self.torch_rng
                else torch.from_numpy(self.rng.standard_normal(tuple(x.shape))).float()
            )
            x = x + 0.1 * noise
        return self.net(x)


class _OrderedLinear(torch.autograd.Function):
    """x @ W.T + b whose backward sums the per-sample terms in a random order (as atomicAdd does on a
    GPU: a nondeterministic kernel, outside every seed) or in sample order (deterministic)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, shuffle: bool) -> torch.Tensor:
        ctx.save_for_backward(x, w)
        ctx.shuffle = shuffle
        return x @ w.t() + b

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> Any:
        x, w = ctx.saved_tensors
        order = list(range(len(x)))
        if ctx.shuffle:
            random.SystemRandom().shuffle(order)
        grad_w, grad_b = torch.zeros_like(w), torch.zeros(w.shape[0])
        for i in order:
            grad_w += torch.outer(g[i], x[i])
            grad_b += g[i]
        return g @ w, grad_w, grad_b, None


class Atomic(nn.Module):
    """An MLP whose first layer has a nondeterministic backward (bug) or a deterministic one (twin)."""

    def __init__(self, shuffle: bool) -> None:
        super().__init__()
        self.first, self.rest, self.shuffle = nn.Linear(64, 32), nn.Sequential(nn.ReLU(), nn.Linear(32, 10)), shuffle

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rest(_OrderedLinear.apply(x, self.first.weight, self.first.bias, self.shuffle))


class LogFeatures(nn.Module):
    """Log-scaled intensities: log(x) of a blank pixel is -inf (bug); log(x + 0.1) (twin)."""

    def __init__(self, eps: float) -> None:
        super().__init__()
        self.net, self.eps = mlp(), eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(torch.log(x + self.eps))


def dead_relu(bias: float) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        model = mlp()
        with torch.no_grad():
            model[0].bias.fill_(bias)
        return model

    return make


def tanh_gain(gain: float) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        model = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))
        with torch.no_grad():
            model[0].weight.mul_(gain)
        return model

    return make


def deep(std: float, head_std: float) -> Callable[[], nn.Module]:
    """Six ReLU layers initialized N(0, std): std=1 explodes (bug); kaiming's sqrt(2/fan_in) keeps the
    scale, with a small output layer so the first predictions are diffuse (twin: 'init well')."""

    def make() -> nn.Module:
        layers: list[nn.Module] = []
        for _ in range(6):
            layers += [nn.Linear(64, 64), nn.ReLU()]
        model = nn.Sequential(*layers, nn.Linear(64, 10))
        with torch.no_grad():
            for m in model:
                if isinstance(m, nn.Linear):
                    m.weight.normal_(0, std if m.out_features == 64 else head_std)
                    m.bias.zero_()
        return model

    return make


class Detached(nn.Module):
    """Two branches; the second's output detached (bug) or not (twin)."""

    def __init__(self, detach: bool) -> None:
        super().__init__()
        self.a, self.b, self.head, self.detach = nn.Linear(64, 16), nn.Linear(64, 16), nn.Linear(32, 10), detach

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hb = torch.relu(self.b(x))
        return self.head(torch.cat([torch.relu(self.a(x)), hb.detach() if self.detach else hb], 1))


def no_grad_layer(freeze: bool) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        model = mlp()
        model[0].weight.requires_grad_(not freeze)
        return model

    return make


class CausalConv(nn.Module):
    """Embedding -> Conv1d(k=3) -> head; padded on the left (twin) or the right (bug: sees the future)."""

    def __init__(self, left: bool, width: int = 32) -> None:
        super().__init__()
        self.emb, self.conv, self.act, self.head = (
            nn.Embedding(V, width),
            nn.Conv1d(width, width, 3),
            nn.ReLU(),
            nn.Linear(width, V),
        )
        self.pad = (2, 0) if left else (0, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.emb(x).transpose(1, 2)
        h = self.act(self.conv(F.pad(h, self.pad))).transpose(1, 2)
        return self.head(h)


class TinyAttention(nn.Module):
    """One self-attention layer; mask triu(diagonal=1) hides the future (twin), diagonal=2 shows t+1 (bug)."""

    def __init__(self, diagonal: int, width: int = 32) -> None:
        super().__init__()
        self.tok, self.qkv, self.proj, self.head = (
            nn.Embedding(V, width),
            nn.Linear(width, 3 * width),
            nn.Linear(width, width),
            nn.Linear(width, V),
        )
        self.pos = nn.Parameter(torch.randn(T, width) * 0.02)
        self.diagonal, self.width = diagonal, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        h = self.tok(x) + self.pos[:n]
        q, k, v = self.qkv(h).chunk(3, -1)
        att = q @ k.transpose(1, 2) / math.sqrt(self.width)
        mask = torch.triu(torch.ones(n, n, dtype=torch.bool, device=x.device), diagonal=self.diagonal)
        h = h + self.proj(att.masked_fill(mask, float("-inf")).softmax(-1) @ v)
        return self.head(h)


# -- steps, predicts, augmentations, loaders ------------------------------------------------
def step(
    *,
    zero_grad: bool = True,
    optimizer_step: bool = True,
    roll: bool = False,
    clamp: float | None = None,
    clip: bool = False,
) -> Callable[..., float]:
    """A user's train_step with one switch per classic bug."""

    def train_step(model: nn.Module, optimizer: Any, x: torch.Tensor, y: torch.Tensor) -> float:
        model.train()
        if zero_grad:
            optimizer.zero_grad()
        out = model(x)
        target = y.roll(1, 0) if roll else y
        if clamp is not None:
            loss = F.cross_entropy(out, target, reduction="none").clamp(max=clamp).mean()
        else:
            loss = F.cross_entropy(out, target)
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if optimizer_step:
            optimizer.step()
        return loss.item()

    return train_step


def predict_eval(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        out = model(x)
    model.train()
    return out


def predict_train_mode(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


def hflip(flip_label: bool) -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Mirror half the images (random per sample); flip the mirrored label with them (twin) or not (bug)."""

    def augment(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pick = torch.rand(len(x), device=x.device) < 0.5
        images = x.reshape(-1, 8, 8).clone()
        images[pick] = images[pick].flip(-1)
        y = y.clone()
        if flip_label:
            y[pick] = 1 - y[pick]
        return images.reshape(x.shape), y

    return augment


def loader_factory(seeded: bool) -> Callable[[], DataLoader]:
    """A loader factory whose shuffle generator is seeded (twin) or seeded from entropy (bug)."""

    def make() -> DataLoader:
        g = torch.Generator()
        if seeded:
            g.manual_seed(0)
        else:
            g.seed()
        return DataLoader(TensorDataset(*normalized_digits()), batch_size=32, shuffle=True, generator=g)

    return make


def digits_loader(batch_size: int = 32) -> DataLoader:
    return DataLoader(
        TensorDataset(*normalized_digits()),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
    )


def cosine(t_max_steps: Callable[[], int]) -> Callable[[Any], Any]:
    return lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t_max_steps())


def with_nan() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = normalized_digits()
    x = x.clone()
    x[::97, 10] = float("nan")  # a few corrupt samples, as a broken decode leaves them
    return x, y


# -- the zoo --------------------------------------------------------------------------------
@dataclass
class Case:
    """A bug, its correct twin, and the check that must catch the bug (with `status`)."""

    name: str
    check: str
    bug: Callable[[], dict[str, Any]]
    twin: Callable[[], dict[str, Any]]
    status: str = "fail"
    phrase: str = ""
    options: dict[str, Any] = field(default_factory=dict)


def _d(
    model_fn: Any, data: Any = normalized_digits, loss_fn: Any = F.cross_entropy, **options: Any
) -> Callable[[], dict[str, Any]]:
    """A set-up built on demand (data loaded only when a test needs it). These programs seed the
    global RNGs with 0 at start (``seed=0``), unless a case says otherwise."""
    options.setdefault("seed", 0)

    def build() -> dict[str, Any]:
        d = data() if callable(data) and not isinstance(data, type) and data in _DATA else data
        return {"model_fn": model_fn, "data": d, "loss_fn": loss_fn, **options}

    return build


_DATA = {normalized_digits, digits, regression_digits, mirror_digits, counting, with_nan}
EPOCHS = 20
PER_EPOCH = math.ceil(1797 / 32)

CASES = [
    Case(
        "unseeded data order",
        "seed_determinism",
        _d(mlp, loader_factory(False)),
        _d(mlp, loader_factory(True)),
        phrase="data order",
    ),
    Case("unseeded init", "seed_determinism", _d(lambda: NumpyInit(False)), _d(lambda: NumpyInit(True)), phrase="init"),
    Case(
        "unseeded noise in forward",
        "seed_determinism",
        _d(lambda: Noisy(False)),
        _d(lambda: Noisy(True)),
        phrase="dropout / noise",
    ),
    Case(
        "nondeterministic kernel",
        "seed_determinism",
        _d(lambda: Atomic(True)),
        _d(lambda: Atomic(False)),
        phrase="nondeterministic kernel",
    ),
    Case(
        "softmax fed to cross_entropy",
        "loss_at_init",
        _d(lambda: Softmaxed(True)),
        _d(lambda: Softmaxed(False)),
        phrase="softmax twice",
    ),
    Case("logits scaled x30", "loss_at_init", _d(lambda: Scaled(30.0)), _d(lambda: Scaled(1.0)), phrase="far above"),
    Case(
        "imbalanced classes, default bias",
        "init_bias",
        _d(lambda: mlp(outputs=2), lambda: (pre(digits()[0]), (digits()[1] == 0).long())),
        _d(with_bias([math.log(0.9), math.log(0.1)], 2), lambda: (pre(digits()[0]), (digits()[1] == 0).long())),
        phrase="log of the priors",
    ),
    Case(
        "regression target mean 50, bias 0",
        "init_bias",
        _d(lambda: mlp(outputs=1), regression_digits, mse, preprocess=pre, task="regression", optimizer_fn=adam(3e-3)),
        _d(with_bias([50.0], 1), regression_digits, mse, preprocess=pre, task="regression", optimizer_fn=adam(3e-3)),
        phrase="target mean",
    ),
    Case(
        "raw 0-255 pixels",
        "input_normalization",
        _d(mlp, lambda: (digits()[0] * 16, digits()[1])),
        _d(mlp, lambda: (digits()[0] * 16, digits()[1]), preprocess=pre255),
        phrase="raw 0-255",
    ),
    Case(
        "model ignores its input",
        "input_independent_baseline",
        _d(lambda: Ignorer(True)),
        _d(lambda: Ignorer(False)),
        phrase="learns nothing",
    ),
    Case(
        "labels shifted in the step",
        "overfit_one_batch",
        _d(mlp, train_step=step(roll=True)),
        _d(mlp, train_step=step()),
        phrase="do not match",
    ),
    Case(
        "optimizer.step() missing",
        "decreasing_loss",
        _d(mlp, train_step=step(optimizer_step=False)),
        _d(mlp, train_step=step()),
        phrase="not decreasing",
    ),
    Case(
        "view instead of permute",
        "batch_independence",
        _d(lambda: Rows(False)),
        _d(lambda: Rows(True)),
        phrase="batch is mixed",
    ),
    Case(
        "view instead of permute, BatchNorm twin",
        "batch_independence",
        _d(lambda: Rows(False)),
        _d(mlp_batchnorm),
        phrase="batch is mixed",
    ),
    Case(
        "causal conv padded on the right",
        "causality",
        _d(lambda: CausalConv(False), counting, seq_loss, task="sequence"),
        _d(lambda: CausalConv(True), counting, seq_loss, task="sequence"),
        phrase="see the future",
    ),
    Case(
        "attention mask shifted",
        "causality",
        _d(lambda: TinyAttention(2), counting, seq_loss, task="sequence"),
        _d(lambda: TinyAttention(1), counting, seq_loss, task="sequence"),
        phrase="see the future",
    ),
    Case(
        "epoch schedule stepped per batch",
        "lr_schedule",
        _d(mlp, digits_loader, scheduler_fn=cosine(lambda: EPOCHS), epochs=EPOCHS),
        _d(mlp, digits_loader, scheduler_fn=cosine(lambda: EPOCHS * PER_EPOCH), epochs=EPOCHS),
        phrase="rises again",
    ),
    Case(
        "ImageNet step size on a small set",
        "lr_schedule",
        _d(
            mlp,
            digits_loader,
            epochs=300,
            scheduler_interval="epoch",
            scheduler_fn=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1),
        ),
        _d(
            mlp,
            digits_loader,
            epochs=300,
            scheduler_interval="epoch",
            scheduler_fn=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=100, gamma=0.1),
        ),
        phrase="reaches ~0",
    ),
    Case(
        "flip without flipping left/right label",
        "augmentation_labels",
        _d(lambda: mlp(outputs=2), mirror_digits, augment=hflip(False), preprocess=pre),
        _d(lambda: mlp(outputs=2), mirror_digits, augment=hflip(True), preprocess=pre),
        phrase="changes what the label means",
    ),
    Case(
        "loss clamped per sample",
        "grad_clipping",
        _d(mlp, train_step=step(clamp=2.0)),
        _d(mlp, train_step=step(clip=True)),
        phrase="zero gradient",
    ),
    Case(
        "zero_grad missing",
        "grad_accumulation",
        _d(mlp, train_step=step(zero_grad=False)),
        _d(mlp, train_step=step()),
        phrase="accumulate",
    ),
    Case(
        "optimizer over the head only",
        "frozen_params",
        _d(mlp, optimizer_fn=lambda m: torch.optim.Adam(m[2].parameters(), lr=3e-4)),
        _d(mlp, optimizer_fn=lambda m: torch.optim.Adam(m.parameters(), lr=3e-4)),
        phrase="not in the optimizer",
    ),
    Case(
        "detached branch",
        "frozen_params",
        _d(lambda: Detached(True)),
        _d(lambda: Detached(False)),
        phrase="never receives a gradient",
    ),
    Case(
        "requires_grad off",
        "frozen_params",
        _d(no_grad_layer(True)),
        _d(no_grad_layer(False)),
        phrase="requires_grad is off",
    ),
    Case(
        "dropout active at eval",
        "eval_mode",
        _d(mlp_dropout, predict=predict_train_mode),
        _d(mlp_dropout, predict=predict_eval),
        phrase="dropout is active",
    ),
    Case(
        "batchnorm in train mode at eval",
        "eval_mode",
        _d(mlp_batchnorm, predict=predict_train_mode),
        _d(mlp_batchnorm, predict=predict_eval),
        phrase="BatchNorm",
    ),
    Case("dead ReLUs (bias -5)", "activations", _d(dead_relu(-5.0)), _d(dead_relu(0.0)), phrase="dead"),
    Case("saturated tanh (weights x20)", "activations", _d(tanh_gain(20.0)), _d(tanh_gain(1.0)), phrase="saturated"),
    Case(
        "exploding activations (init std 1)",
        "activations",
        _d(deep(1.0, 1.0)),
        _d(deep(math.sqrt(2 / 64), 0.01)),
        phrase="exploding",
    ),
    Case("NaN in the data", "nan_inf", _d(mlp, with_nan), _d(mlp), phrase="input batch"),
    Case(
        "log of zero in forward",
        "nan_inf",
        _d(lambda: LogFeatures(0.0), digits, preprocess=scale01),
        _d(lambda: LogFeatures(0.1), digits, preprocess=scale01),
        phrase="inside forward()",
    ),
]
"""Every bug, its twin and the check named for it."""
