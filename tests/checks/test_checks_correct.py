"""Correct set-ups that are in no zoo (other architectures, losses, optimizers and data): no check may
fail on them. The guard against checks fitted to the zoo's own twins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from recipe_audit import checks  # noqa: E402

from tests.checks.checks_zoo import digits_loader, mlp, normalized_digits  # noqa: E402
from tests.checks.checks_zoo_grown import (  # noqa: E402
    AttentionLM,
    ce_sum,
    eval_part,
    lm_loss,
    padded,
    rgb_nhwc,
    seq_ce,
    strided,
    train_part,
)


def seeded(make: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        torch.manual_seed(0)
        return make()

    return build


class LSTMLM(nn.Module):
    def __init__(self, vocab: int = 8, width: int = 32) -> None:
        super().__init__()
        self.emb, self.rnn, self.head = (
            nn.Embedding(vocab, width),
            nn.LSTM(width, width, batch_first=True),
            nn.Linear(width, vocab),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(self.emb(x))[0])


def cnn_bn() -> nn.Module:
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(128, 10),
    )


def cnn_rgb() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


def layernorm_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 64), nn.LayerNorm(64), nn.GELU(), nn.Dropout(0.1), nn.Linear(64, 10))


def rgb_nchw() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = rgb_nhwc()
    return x.permute(0, 3, 1, 2).contiguous(), y


def standardized_with_eval() -> tuple[Any, Any, Any, dict[str, Any]]:
    """Scalar mean/std from the training split only, the evaluation split handed over."""
    (x, y), held = train_part(), eval_part()
    mean, std = x.mean(), x.std()
    return seeded(mlp), (x, y), F.cross_entropy, {"preprocess": lambda t: (t - mean) / std, "eval_data": held}


def markov_lm() -> tuple[Any, Any, Any, dict[str, Any]]:
    """Next-token prediction over a random Markov chain whose token 2 is nearly absorbing (so sequences
    end in runs of it, like padding but real), an attention LM whose output bias is set to the log of
    the token priors ('init well'), a step that clips, a predict of its own and a cosine schedule."""
    g = torch.Generator().manual_seed(7)
    chain = torch.softmax(torch.randn(8, 8, generator=g) * 3, -1)
    seq = torch.zeros(1024, 17, dtype=torch.long)
    seq[:, 0] = torch.randint(0, 8, (1024,), generator=g)
    for t in range(16):
        seq[:, t + 1] = torch.multinomial(chain[seq[:, t]], 1, generator=g).squeeze(1)
    x, y = seq[:, :16], seq[:, 1:]
    priors = torch.bincount(y.reshape(-1), minlength=8).float() / y.numel()

    def make() -> nn.Module:
        torch.manual_seed(0)
        model = AttentionLM()
        with torch.no_grad():
            model.head.bias.copy_(priors.log())
        return model

    def step(model: nn.Module, opt: Any, xb: torch.Tensor, yb: torch.Tensor) -> float:
        model.train()
        opt.zero_grad()
        loss = seq_ce(model(xb), yb)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    def predict(model: nn.Module, xb: torch.Tensor) -> torch.Tensor:
        model.eval()
        with torch.no_grad():
            out = model(xb)
        model.train()
        return out

    def loader() -> Any:
        return torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(x, y),
            batch_size=32,
            shuffle=True,
            generator=torch.Generator().manual_seed(0),
        )

    return (
        make,
        loader,
        seq_ce,
        {
            "task": "sequence",
            "train_step": step,
            "predict": predict,
            "epochs": 10,
            "optimizer_fn": lambda m: torch.optim.AdamW(m.parameters(), lr=1e-3),
            "scheduler_fn": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10 * 32),
        },
    )


SETUPS: dict[str, Callable[[], tuple[Any, Any, Any, dict[str, Any]]]] = {
    "CNN with BatchNorm": lambda: (seeded(cnn_bn), normalized_digits(), F.cross_entropy, {}),
    "CNN on channels-first RGB": lambda: (seeded(cnn_rgb), rgb_nchw(), F.cross_entropy, {}),
    "LayerNorm, GELU, dropout, AdamW": lambda: (
        seeded(layernorm_mlp),
        normalized_digits(),
        F.cross_entropy,
        {"optimizer_fn": lambda m: torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.05)},
    ),
    "LSTM language model": lambda: (seeded(LSTMLM), strided(), seq_ce, {"task": "sequence"}),
    "LSTM LM on padded sequences, padding ignored": lambda: (
        seeded(lambda: LSTMLM(9)),
        padded(),
        lm_loss(True),
        {"task": "sequence"},
    ),
    "label smoothing": lambda: (
        seeded(mlp),
        normalized_digits(),
        lambda o, y: F.cross_entropy(o, y, label_smoothing=0.1),
        {},
    ),
    "summed loss, SGD lr divided by the batch": lambda: (
        seeded(mlp),
        normalized_digits(),
        ce_sum,
        {"optimizer_fn": lambda m: torch.optim.SGD(m.parameters(), lr=0.05 / 32, momentum=0.9)},
    ),
    "train statistics, eval set given": standardized_with_eval,
    "attention LM over a Markov chain, own step, predict and schedule": markov_lm,
    "sigmoid output with BCE on probabilities": lambda: (
        seeded(lambda: nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 1), nn.Flatten(0), nn.Sigmoid())),
        (normalized_digits()[0], (normalized_digits()[1] < 5).float()),
        F.binary_cross_entropy,
        {},
    ),
    "a constant LambdaLR scale, no warm-up": lambda: (
        seeded(mlp),
        digits_loader,
        F.cross_entropy,
        {
            "epochs": 20,
            "optimizer_fn": lambda m: torch.optim.Adam(m.parameters(), lr=3e-2),
            "scheduler_fn": lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda s: 0.01),
        },
    ),
    "one-cycle schedule over the run": lambda: (
        seeded(mlp),
        digits_loader,
        F.cross_entropy,
        {
            "epochs": 20,
            "scheduler_fn": lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=1e-3, total_steps=20 * 57),
        },
    ),
}


@pytest.mark.parametrize("name", list(SETUPS))
def test_a_correct_setup_outside_the_zoo_fails_no_check(name: str) -> None:
    model_fn, data, loss_fn, options = SETUPS[name]()
    report = checks.run_recipe(model_fn, data, loss_fn, **options)
    failed = report.filter(status="fail")
    assert failed.is_empty(), failed.select("check", "message").rows()
