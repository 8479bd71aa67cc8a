"""Checks on the data as it reaches the net: image layout, leaked normalisation statistics, batch mixing.

'Visualize just before the net': what these checks read is what a look at the decoded batches
would show, turned into numbers: images whose channels were laid out as rows, a preprocessing
fitted on the evaluation data too, batches that each hold one class.
"""

from __future__ import annotations

from collections.abc import Callable

from recipe_audit.checks._data import Data, split_batch
from recipe_audit.checks._report import Verdict, fmt, skip, verdict
from recipe_audit.checks._runner import training_check
from recipe_audit.checks._setup import Setup
from recipe_audit.checks._torch import nn, torch

LAYOUT_RATIO = 0.7
"""Re-read as channels-last, the first conv's input must not be this much smoother (neighbour differences)."""
LEAK_EXACT = 1e-4
"""Per-feature |mean| and |std - 1| (or |min| and |max - 1|) below which statistics count as fitted on those data."""
MIX_RATIO = 0.5
"""Label entropy within a batch over that of the same labels dealt at random: below it the data is sorted."""
LEAK_MAX_SAMPLES = 200_000
"""Largest data (train + eval) read whole by preprocess_leak."""


# -- input_layout ---------------------------------------------------------------------------
def _roughness(t: torch.Tensor) -> float:
    """Mean absolute difference of neighbours along H and W, over the mean absolute deviation."""
    spread = float((t - t.mean()).abs().mean()) or 1.0
    along_w = float((t[..., 1:] - t[..., :-1]).abs().mean())
    along_h = float((t[..., 1:, :] - t[..., :-1, :]).abs().mean())
    return (along_w + along_h) / 2 / spread


def _first_conv_input(setup: Setup) -> torch.Tensor | None:
    x, _ = setup.eval_batch()
    model = setup.fresh_model()
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        return None
    seen: list[torch.Tensor] = []

    def keep_first(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        if not seen:
            seen.append(args[0].detach())

    handle = conv.register_forward_pre_hook(keep_first)
    try:
        with torch.no_grad():
            setup.forward(model.eval(), x[:64])
    finally:
        handle.remove()
    return seen[0] if seen else None


@training_check(
    order=180,
    step="visualize just before the net",
    advice="'the unambiguous source of truth is what goes into your network'",
)
def input_layout(setup: Setup) -> Verdict:
    """Whether the first ``nn.Conv2d`` receives channels-last images viewed as channels-first: the
    input, its memory re-read as [B, H, W, C], is much smoother than as given. Options as `run_recipe`.

    Example:
        >>> r = checks.input_layout(cnn_fn, (images_nhwc, y), F.cross_entropy)   # doctest: +SKIP
        >>> r["status"][0]                                                        # doctest: +SKIP
    """
    x = _first_conv_input(setup)
    if x is None:
        return skip("the model has no nn.Conv2d (or never calls it)")
    if x.dim() != 4 or x.shape[1] < 2 or not x.is_floating_point():
        return skip(f"the first conv's input {tuple(x.shape)} has a single channel: no layout to mix up")
    b, c, h, w = x.shape
    as_given, reread = _roughness(x.float()), _roughness(x.float().reshape(b, h, w, c).permute(0, 3, 1, 2))
    ratio = reread / as_given if as_given > 0 else 1.0
    expected = f"smoother as given than re-read channels-last (ratio > {LAYOUT_RATIO})"
    words = (
        f"the first conv's input {tuple(x.shape)}: neighbour differences {fmt(as_given)} as given, "
        f"{fmt(reread)} when its memory is read as [B, H, W, C]"
    )
    if ratio < LAYOUT_RATIO:
        return verdict(
            "fail",
            ratio,
            expected,
            f"{words}: the images are channels-last data viewed as [B, C, H, W], so every 'channel' holds "
            "interleaved pixels",
            "use x.permute(0, 3, 1, 2) (not .view/.reshape) to go from NHWC to NCHW; look at show_batch",
        )
    return verdict("pass", ratio, expected, words)


# -- preprocess_leak ------------------------------------------------------------------------
def _all_inputs(data: Data, limit: int) -> torch.Tensor | None:
    xs: list[torch.Tensor] = []
    count = 0
    for batch in data.ordered():
        x, _ = split_batch(batch)
        xs.append(x)
        count += len(x)
        if count > limit:
            return None
    return torch.cat(xs) if xs else None


def _exact_share(t: torch.Tensor) -> float:
    """Share of non-constant features whose statistics over `t` are exactly canonical: mean 0 and std 1
    (either estimator), or min 0 and max 1."""
    flat = t.reshape(len(t), -1).double()
    std_b, std_u = flat.std(0, unbiased=False), flat.std(0, unbiased=True)
    varying = std_b > 1e-6
    if not bool(varying.any()):
        return 0.0
    zscored = (flat.mean(0).abs() < LEAK_EXACT) & (((std_b - 1).abs() < LEAK_EXACT) | ((std_u - 1).abs() < LEAK_EXACT))
    minmax = (flat.min(0).values.abs() < LEAK_EXACT) & ((flat.max(0).values - 1).abs() < LEAK_EXACT)
    return float((zscored | minmax)[varying].double().mean())


@training_check(
    order=190,
    step="set up the evaluation skeleton",
    advice="the evaluation set must stay unseen, its statistics included",
)
def preprocess_leak(setup: Setup) -> Verdict:
    """With ``eval_data=`` and ``preprocess=``: fails when preprocess's statistics are exact (mean 0
    and std 1, or min 0 and max 1 per feature) over training + evaluation data but not over the
    training data alone: they were fitted on both. Options as `run_recipe`.

    Example:
        >>> r = checks.preprocess_leak(model_fn, (X_train, y_train), F.cross_entropy,       # doctest: +SKIP
        ...                            preprocess=standardize, eval_data=(X_test, y_test))
    """
    if setup.preprocess is None:
        return skip("no preprocess: nothing fitted to check")
    if setup.eval_data is None:
        return skip("pass eval_data= (the evaluation set) to check preprocess was fitted on training data only")
    train = _all_inputs(setup.data, LEAK_MAX_SAMPLES)
    held = _all_inputs(setup.eval_data, LEAK_MAX_SAMPLES)
    if train is None or held is None or len(train) + len(held) > LEAK_MAX_SAMPLES or not train.is_floating_point():
        return skip(f"the data are not float inputs of at most {LEAK_MAX_SAMPLES} samples in all")
    with torch.no_grad():
        pre_train = setup.preprocess(train.to(setup.device)).cpu()
        pre_held = setup.preprocess(held.to(setup.device)).cpu()
    on_train, on_both = _exact_share(pre_train), _exact_share(torch.cat([pre_train, pre_held]))
    expected = "statistics fitted on the training data (exact there), not on train + evaluation"
    words = (
        f"{on_both:.0%} of the features have exactly mean 0 / std 1 (or min 0 / max 1) over training + evaluation "
        f"data after preprocess, {on_train:.0%} over the training data alone"
    )
    if on_both >= 0.9 and on_train < 0.5:
        return verdict(
            "fail",
            on_both,
            expected,
            f"{words}: the normalisation statistics were computed with the evaluation data (a leak: the "
            "evaluation no longer measures unseen data)",
            "fit the mean/std (or min/max) on the training split only, then apply them to every split",
        )
    return verdict("pass", on_both, expected, words)


# -- batch_composition ----------------------------------------------------------------------
def _entropy(labels: torch.Tensor) -> float:
    counts = torch.unique(labels, return_counts=True)[1].double()
    p = counts / counts.sum()
    return float(-(p * p.log()).sum())


def _std(t: torch.Tensor) -> float:
    return float(t.double().std())


def _distributions(y: torch.Tensor) -> bool:
    """Soft targets: [B, C] float rows of non-negative values summing to 1."""
    return bool(
        y.is_floating_point()
        and y.dim() == 2
        and y.shape[1] > 1
        and float(y.min()) >= 0
        and torch.allclose(y.sum(1), torch.ones(len(y), dtype=y.dtype, device=y.device), atol=1e-3)
    )


@training_check(
    order=200,
    step="become one with the data",
    advice="shuffle it, or every batch teaches the classes of the moment",
)
def batch_composition(setup: Setup) -> Verdict:
    """The targets of the first batches are about as mixed as the same targets dealt into batches at
    random; fails on data sorted by class (or by target value) and never shuffled. Options as `run_recipe`.

    Example:
        >>> r = checks.batch_composition(model_fn, lambda: DataLoader(ds, 32), F.cross_entropy)  # doctest: +SKIP
        >>> r["message"][0]                                                                     # doctest: +SKIP
    """
    if setup.task == "sequence":
        return skip("sequence tasks are not checked")
    ys = [(y.argmax(-1) if _distributions(y) else y.reshape(len(y), -1)[:, 0]).cpu() for _, y in setup.data.batches(32)]
    if len(ys) < 4 or min(len(y) for y in ys) < 4:
        return skip("fewer than 4 batches of 4 samples")
    categorical = not ys[0].is_floating_point()
    spread: Callable[[torch.Tensor], float] = _entropy if categorical else _std
    actual = sum(spread(y) for y in ys) / len(ys)
    pooled = torch.cat(ys)
    g = torch.Generator().manual_seed(0)
    dealt = torch.split(pooled[torch.randperm(len(pooled), generator=g)], [len(y) for y in ys])
    shuffled = sum(spread(y) for y in dealt) / len(dealt)
    if shuffled <= 0:
        return skip("the first batches hold a single target value")
    ratio = actual / shuffled
    what = "label entropy" if categorical else "target std"
    expected = f"{what} within a batch >= {MIX_RATIO} x that of the same targets dealt at random"
    words = (
        f"mean {what} within the first {len(ys)} batches {fmt(actual)}, {fmt(shuffled)} for the same targets "
        f"dealt into batches at random (ratio {fmt(ratio)})"
    )
    if ratio < MIX_RATIO:
        return verdict(
            "fail",
            ratio,
            expected,
            f"{words}: batches are sorted by target, each holds one or few classes, so every step pulls "
            "the model toward the classes of the moment",
            "shuffle the training data every epoch "
            "(DataLoader(shuffle=True, generator=torch.Generator().manual_seed(seed)))",
        )
    return verdict("pass", ratio, expected, words)
