"""`seed_determinism`: two runs from scratch must agree, and when they do not, on what.

Each run starts the way the user's program starts. With ``seed=None`` (the default) the program is
taken as it is: every global RNG (Python, NumPy, torch) starts from a different state drawn from
the OS's entropy, as in two fresh processes, so only the seeding the user's factories do
themselves counts. With ``seed=N`` the program says it seeds with N at start: both runs seed the
global RNGs with N. Then: build a fresh model, start a fresh data pipeline (call the factory, or
copy the DataLoader with its generator state), train `Budget.seed_steps` steps. When the runs
differ, the sources are tested one by one, each after the same start (new RNG state, then
`model_fn`, which may seed): init, data order, augmentation, randomness in the forward pass, a
nondeterministic kernel, and what is left (the step).
"""

from __future__ import annotations

import itertools
import math

from recipe_audit.checks._report import Verdict, fmt, verdict
from recipe_audit.checks._runner import training_check
from recipe_audit.checks._setup import Setup, scramble_rng, seed_all
from recipe_audit.checks._torch import Batch, backward, nn, torch


def _same(a: object, b: object) -> bool:
    """Whether two results (tensors, numbers, and lists, tuples and dicts of them) are identical."""
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b, strict=True))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, torch.Tensor):
        return (
            isinstance(b, torch.Tensor)
            and a.shape == b.shape
            and bool(
                torch.equal(a, b) or (a.is_floating_point() and torch.allclose(a, b, rtol=0, atol=0, equal_nan=True))
            )
        )
    both_nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    return bool(a == b or both_nan)


def _start(setup: Setup) -> None:
    """The global RNGs as the user's program finds them at start (see the module docstring)."""
    if setup.program_seed is None:
        scramble_rng()
    else:
        seed_all(setup.program_seed)


def _started_model(setup: Setup) -> nn.Module:
    """A model built the way the program builds its first: right after `_start`."""
    _start(setup)
    return setup.new_model()


def _run(setup: Setup, fixed: list[Batch] | None) -> tuple[list[float], dict[str, torch.Tensor]]:
    model = _started_model(setup)
    optimizer = setup.optimizer_fn(model)
    batches = iter(fixed) if fixed is not None else setup.data.cycle()
    losses: list[float] = []
    for _ in range(setup.budget.seed_steps):
        x, y = setup.prepare(*next(batches), train=True)
        losses.append(setup.step(model, optimizer, x, y))
    return losses, {k: v.detach().clone() for k, v in model.state_dict().items()}


def _first_batches(setup: Setup, k: int) -> list[Batch]:
    return [(x.clone(), y.clone()) for x, y in itertools.islice(setup.data.cycle(), k)]


def _causes(setup: Setup) -> list[str]:
    unseeded = setup.program_seed is None
    same = (
        "from two different global RNG states (nothing the program runs seeds it)"
        if unseeded
        else f"under the same seed {setup.program_seed}"
    )
    causes = []
    first = _started_model(setup).state_dict()
    if not _same(first, _started_model(setup).state_dict()):
        causes.append(
            f"init: model_fn builds different weights {same}"
            + (
                ": seed torch (torch.manual_seed) before building the model"
                if unseeded
                else " (an RNG the global seed does not reach, e.g. numpy.random.default_rng() or a "
                "torch.Generator seeded from entropy)"
            )
        )
    if setup.data.restartable:
        _started_model(setup)
        one = _first_batches(setup, 3)
        _started_model(setup)
        if not _same(one, _first_batches(setup, 3)):
            causes.append(
                f"data order: two fresh pipelines yield different batches {same} (a shuffle drawn from the "
                "global RNG, or a sampler, generator or dataset randomness seeded from entropy)"
            )
    seed_all(setup.budget.seed)
    x, y = setup.prepare(*setup.data.batches(1)[0], train=False)
    if setup.augment is not None:
        _started_model(setup)
        a = setup.augment(x.clone(), y.clone())
        _started_model(setup)
        if not _same(list(a), list(setup.augment(x.clone(), y.clone()))):
            causes.append(f"augment: the same batch is augmented differently {same}")
    model, twin = _started_model(setup), setup.new_model()  # each with its own, freshly built internals
    twin.load_state_dict(model.state_dict())
    outs: list[torch.Tensor] = []
    for m, mode in ((model, False), (twin, False), (model, True), (twin, True)):
        m.train(mode)
        _started_model(setup)  # the RNG state a forward finds: the program's start, then model_fn
        with torch.no_grad():
            outs.append(setup.forward(m, x))
    if not _same(outs[0], outs[1]):
        causes.append("a nondeterministic kernel: the same weights and inputs give different outputs in eval mode")
    elif not _same(outs[2], outs[3]):
        causes.append(
            f"dropout / noise in forward: the same weights and inputs give different training-mode "
            f"outputs {same} (randomness drawn from an unseeded generator)"
        )
    else:
        grads: list[list[torch.Tensor | None]] = []
        for m in (model, twin):
            m.zero_grad(set_to_none=True)
            _started_model(setup)
            backward(setup.loss_fn(setup.forward(m, x), y))
            grads.append([None if p.grad is None else p.grad.clone() for p in m.parameters()])
        if not _same(grads[0], grads[1]):
            causes.append("a nondeterministic kernel: the same weights, inputs and seed give different gradients")
    return causes


@training_check(
    order=10,
    step="fix random seed",
    advice="'guarantees that if you run the code twice you will get the same outcome'",
)
def seed_determinism(setup: Setup) -> Verdict:
    """Two runs from scratch must give the same losses and weights; a run that differs says which
    source is unseeded (init, data order, augmentation, dropout, a kernel). With ``seed=None``
    (default) the two runs start from different global RNG states, as two fresh processes: only
    the seeding done by your factories counts. ``seed=N`` says your program seeds with N at start.
    Options as `run_recipe`.

    Example:
        >>> r = checks.seed_determinism(model_fn, lambda: make_loader(), F.cross_entropy)  # doctest: +SKIP
        >>> r["message"][0]                                                               # doctest: +SKIP
    """
    fixed: list[Batch] | None = None
    note = ""
    if not setup.data.restartable:
        seed_all(setup.budget.seed)
        fixed = _first_batches(setup, setup.budget.seed_steps)
        note = (
            f"; data order not checked: {setup.data.note}, so both runs used the same batches "
            "(pass data as a factory, e.g. data=lambda: make_loader(), to check it)"
        )
    losses_a, weights_a = _run(setup, fixed)
    losses_b, weights_b = _run(setup, fixed)
    gap = max((abs(a - b) for a, b in zip(losses_a, losses_b)), default=0.0)
    expected = "identical losses and weights"
    runs = (
        "two runs from different global RNG states (as two fresh processes; seed=None: the program does "
        "not seed before calling model_fn)"
        if setup.program_seed is None
        else f"two runs seeded with {setup.program_seed} at start"
    )
    if _same(losses_a, losses_b) and _same(weights_a, weights_b):
        return verdict(
            "pass",
            0.0,
            expected,
            f"{runs}, {len(losses_a)} steps from scratch, gave identical losses and weights{note}",
        )
    differ = [k for k in weights_a if not _same(weights_a[k], weights_b[k])]
    weight_gap = max((float((weights_a[k].float() - weights_b[k].float()).abs().max()) for k in differ), default=0.0)
    causes = _causes(setup) or ["the training step itself (train_step or the optimizer) is not deterministic"]
    losses_words = "identical losses" if gap == 0 else f"losses by up to {fmt(gap)}"
    return verdict(
        "fail",
        max(gap, weight_gap),
        expected,
        f"{runs} differ ({losses_words}; {len(differ)} weight tensors, by up to {fmt(weight_gap)}, "
        f"e.g. `{differ[0] if differ else '-'}`); unseeded: " + "; ".join(causes) + note,
        "seed every generator from the one seed (torch.manual_seed(seed) at start, torch.Generator()"
        ".manual_seed(seed) for a loader, np.random.default_rng(seed)); if the program seeds before "
        "model_fn, say so with seed=N; torch.use_deterministic_algorithms(True) names nondeterministic kernels",
    )
