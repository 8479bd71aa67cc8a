"""checks.out_of_sample_probs on sklearn's digits: probabilities from models that never saw the
sample, deterministic for a seed, and good enough for find_label_errors to find planted flips."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from sklearn.datasets import load_digits  # noqa: E402

import recipe_audit  # noqa: E402
from recipe_audit import checks  # noqa: E402


def _data(noise: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    x, y = x[:900].astype(np.float32) / 16, y[:900]
    rng = np.random.default_rng(0)
    noisy = y.copy()
    flip = rng.random(y.size) < noise
    noisy[flip] = (y[flip] + rng.integers(1, 10, flip.sum())) % 10
    return x, y, noisy


def _model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))


def _ce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(out, y.long())


def test_out_of_sample_probabilities_are_deterministic_and_useful() -> None:
    x, y, noisy = _data(0.1)
    options = {
        "folds": 3,
        "epochs": 8,
        "optimizer_fn": lambda m: torch.optim.Adam(m.parameters(), lr=3e-3),
        "progress": False,
    }
    probs = checks.out_of_sample_probs(_model, (x, noisy), _ce, **options)
    assert probs.shape == (900, 10) and np.allclose(probs.sum(axis=1), 1)
    assert (probs.argmax(axis=1) == y).mean() > 0.85  # predicts the true digit, not the flipped label
    again = checks.out_of_sample_probs(_model, (x, noisy), _ce, **options)
    assert np.array_equal(probs, again)
    errors = recipe_audit.find_label_errors(noisy, probs).sort("index")
    flagged, truth = errors["is_label_error"].to_numpy(), noisy != y
    assert (flagged & truth).sum() >= 0.7 * truth.sum() and (flagged & truth).sum() >= 0.5 * flagged.sum()


def test_a_sample_is_never_predicted_by_a_model_that_trained_on_it() -> None:
    """Random labels: a model that saw a sample would predict its (random) label; out of sample, the
    label is matched at chance."""
    x, _, _ = _data()
    random = np.random.default_rng(1).integers(0, 10, len(x))
    options = {
        "folds": 2,
        "epochs": 30,
        "optimizer_fn": lambda m: torch.optim.Adam(m.parameters(), lr=1e-2),
        "progress": False,
    }
    probs = checks.out_of_sample_probs(_model, (x, random), _ce, **options)
    assert (probs.argmax(axis=1) == random).mean() < 0.2
    # A DataLoader over a dataset (with its batch size), and a model ending in a softmax.
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(random)), batch_size=50
    )
    soft = checks.out_of_sample_probs(
        lambda: torch.nn.Sequential(_model(), torch.nn.Softmax(dim=1)),
        loader,
        lambda p, t: torch.nn.functional.nll_loss(torch.log(p), t),
        folds=2,
        epochs=1,
        progress=False,
    )
    assert soft.shape == (900, 10) and np.allclose(soft.sum(axis=1), 1)


def test_bad_arguments() -> None:
    x, y, _ = _data()
    with pytest.raises(ValueError, match="fewer than folds"):
        checks.out_of_sample_probs(_model, (x[:3], y[:3]), _ce, folds=5)
    with pytest.raises(ValueError, match="at least 2"):
        checks.out_of_sample_probs(_model, (x, y), _ce, folds=1)
    with pytest.raises(ValueError, match="must match"):
        checks.out_of_sample_probs(_model, (x, y[:10]), _ce)
