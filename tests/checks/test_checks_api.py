"""The contract around the checks: lazy torch, the report format, options, RNG hygiene, data pipelines."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import polars as pl  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader, IterableDataset, TensorDataset  # noqa: E402

from recipe_audit import checks  # noqa: E402

from tests.checks.checks_zoo import Noisy, digits_loader, mlp, normalized_digits  # noqa: E402


def test_report_has_one_row_per_check_with_known_statuses() -> None:
    report = checks.run_recipe(mlp, normalized_digits(), F.cross_entropy, steps=100, seed=0)
    assert report.schema == pl.Schema(checks.REPORT_SCHEMA)
    assert report["check"].to_list() == list(checks.CHECK_NAMES)
    assert set(report["status"]) <= set(checks.STATUSES)
    checks.assert_recipe_passes(report)


def test_subset_of_checks_and_misuse() -> None:
    report = checks.run_recipe(mlp, normalized_digits(), F.cross_entropy, checks=["nan_inf", "loss_at_init"], steps=20)
    assert report["check"].to_list() == ["loss_at_init", "nan_inf"]  # standard order
    with pytest.raises(ValueError, match="unknown check"):
        checks.run_recipe(mlp, normalized_digits(), F.cross_entropy, checks=["loss_at_start"])
    with pytest.raises(TypeError, match="unknown option"):
        checks.loss_at_init(mlp, normalized_digits(), F.cross_entropy, learning_rate=1)
    with pytest.raises(ValueError, match="task must be"):
        checks.loss_at_init(mlp, normalized_digits(), F.cross_entropy, task="detection")
    with pytest.raises(TypeError, match="data must be"):
        checks.loss_at_init(mlp, 3.0, F.cross_entropy)


def test_a_crashing_model_becomes_a_failing_row_naming_the_error() -> None:
    def broken(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("shapes do not match")

    row = checks.loss_at_init(mlp, normalized_digits(), broken).row(0, named=True)
    assert row["status"] == "fail" and "RuntimeError: shapes do not match" in row["message"]
    with pytest.raises(RuntimeError, match="shapes"):
        checks.loss_at_init(mlp, normalized_digits(), broken, raise_errors=True)


def test_global_rng_state_is_left_as_it_was() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    checks.run_recipe(
        mlp, normalized_digits(), F.cross_entropy, checks=["seed_determinism", "overfit_one_batch"], steps=20
    )
    assert torch.equal(torch.rand(3), expected)


def test_a_seeded_loader_handed_as_an_object_is_copied_not_advanced() -> None:
    loader = digits_loader()
    state = loader.generator.get_state().clone()
    order_a = [y.tolist() for _, y in loader][:3]
    order_b = [y.tolist() for _, y in loader][:3]
    assert order_a != order_b  # iterating twice advances the generator: not a bug
    state_before = loader.generator.get_state().clone()
    row = checks.seed_determinism(mlp, loader, F.cross_entropy, seed=0).row(0, named=True)
    assert row["status"] == "pass", row["message"]
    assert torch.equal(loader.generator.get_state(), state_before)  # the user's loader was not touched
    assert not torch.equal(state, state_before)


class Stream(IterableDataset):
    def __iter__(self):  # type: ignore[no-untyped-def]
        x, y = normalized_digits()
        yield from zip(x, y)


def test_an_iterable_dataset_is_said_to_be_uncopyable_instead_of_guessed() -> None:
    loader = DataLoader(Stream(), batch_size=32)
    row = checks.seed_determinism(mlp, loader, F.cross_entropy, seed=0).row(0, named=True)
    assert row["status"] == "pass"
    assert "data order not checked" in row["message"] and "IterableDataset" in row["message"]
    assert "factory" in row["message"]


def test_unseeded_dropout_in_a_loader_object_is_still_found() -> None:
    loader = DataLoader(TensorDataset(*normalized_digits()), batch_size=32, shuffle=True)
    row = checks.seed_determinism(lambda: Noisy(False), loader, F.cross_entropy).row(0, named=True)
    assert row["status"] == "fail" and "dropout / noise" in row["message"]


def test_width_argument_that_changes_nothing_is_flagged() -> None:
    def ignores_width(width: int = 32) -> torch.nn.Module:
        return mlp(32)

    row = checks.decreasing_loss(ignores_width, normalized_digits(), F.cross_entropy).row(0, named=True)
    assert row["status"] == "warn" and "has no effect" in row["message"]
    ok = checks.decreasing_loss(mlp, normalized_digits(), F.cross_entropy).row(0, named=True)
    assert ok["status"] == "pass" and "width=64" in ok["message"]


def test_nll_loss_on_probabilities_is_caught_two_sided() -> None:
    def probs() -> torch.nn.Module:
        return torch.nn.Sequential(mlp(), torch.nn.Softmax(-1))

    row = checks.loss_at_init(probs, normalized_digits(), F.nll_loss).row(0, named=True)
    assert row["status"] == "fail" and "log-probabilities" in row["message"] and row["value"] < 0
    log_probs = checks.loss_at_init(
        lambda: torch.nn.Sequential(mlp(), torch.nn.LogSoftmax(-1)), normalized_digits(), F.nll_loss
    ).row(0, named=True)
    assert log_probs["status"] == "pass"


def test_binary_outputs_logits_and_sigmoid_are_told_apart() -> None:
    x, y = normalized_digits()
    balanced = (y < 5).float()

    def logits() -> torch.nn.Module:
        return torch.nn.Sequential(
            torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1), torch.nn.Flatten(0)
        )

    def probabilities() -> torch.nn.Module:
        return torch.nn.Sequential(logits(), torch.nn.Sigmoid())

    ok = checks.run_recipe(
        logits,
        (x, balanced),
        F.binary_cross_entropy_with_logits,
        checks=["loss_at_init", "init_bias", "overfit_one_batch"],
    )
    assert ok["status"].to_list() == ["pass"] * 3, ok.rows()
    right = checks.run_recipe(
        probabilities, (x, balanced), F.binary_cross_entropy, checks=["loss_at_init", "init_bias", "overfit_one_batch"]
    )
    assert right["status"].to_list() == ["pass"] * 3, right.rows()
    twice = checks.loss_at_init(probabilities, (x, balanced), F.binary_cross_entropy_with_logits).row(0, named=True)
    assert twice["status"] == "fail" and "sigmoid twice" in twice["message"]


def seeded_mlp() -> torch.nn.Module:
    """A factory that seeds torch itself: deterministic however the process starts."""
    torch.manual_seed(0)
    return mlp()


def test_by_default_a_program_that_never_seeds_is_caught_naming_the_init() -> None:
    row = checks.seed_determinism(mlp, normalized_digits(), F.cross_entropy).row(0, named=True)
    assert row["status"] == "fail" and "init:" in row["message"] and "different global RNG states" in row["message"]
    said = checks.seed_determinism(mlp, normalized_digits(), F.cross_entropy, seed=3).row(0, named=True)
    assert said["status"] == "pass" and "seeded with 3" in said["message"]
    itself = checks.seed_determinism(seeded_mlp, normalized_digits(), F.cross_entropy).row(0, named=True)
    assert itself["status"] == "pass", itself["message"]


def test_a_shuffle_from_numpy_global_rng_is_caught_unless_seeded() -> None:
    x, y = normalized_digits()

    def batches(rng: object) -> object:
        def make() -> list:
            order = rng().permutation(len(x))  # type: ignore[operator]
            return [(x[order[i : i + 32]], y[order[i : i + 32]]) for i in range(0, len(x) - 31, 32)]

        return make

    import numpy as np

    bug = checks.seed_determinism(seeded_mlp, batches(lambda: np.random), F.cross_entropy).row(0, named=True)
    assert bug["status"] == "fail" and "data order" in bug["message"] and "init:" not in bug["message"]
    state = np.random.get_state()
    np.random.seed(0)  # a seeded caller changes nothing: each run starts from fresh entropy
    try:
        again = checks.seed_determinism(seeded_mlp, batches(lambda: np.random), F.cross_entropy).row(0, named=True)
    finally:
        np.random.set_state(state)
    assert again["status"] == "fail" and "data order" in again["message"]
    twin = checks.seed_determinism(seeded_mlp, batches(lambda: np.random.default_rng(0)), F.cross_entropy)
    assert twin["status"][0] == "pass", twin["message"][0]


def test_a_non_finite_loss_fails_at_once_and_a_one_shot_iterator_is_refused() -> None:
    """A loss that turns NaN cannot converge: overfit_one_batch says so at the step it happens
    (it ran to its step cap and reported "100% of the way"). A generator of batches is read once,
    so it is refused up front (the later checks saw no batch)."""

    def nan_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, y) * float("nan")

    row = checks.overfit_one_batch(mlp, normalized_digits(), nan_loss).row(0, named=True)
    assert row["status"] == "fail" and "the loss became nan at step 1" in row["message"]
    x, y = normalized_digits()
    batches = ((x[i : i + 32], y[i : i + 32]) for i in range(0, 256, 32))
    with pytest.raises(TypeError, match="one-shot generator"):
        checks.run_recipe(mlp, batches, F.cross_entropy, checks=["loss_at_init"])


def test_class_ids_stored_as_floats_are_class_ids_and_integer_outputs_skip_the_gradient_chart() -> None:
    """Labels 0., 1., 2. as floats with three outputs are class ids (the priors were read as
    Bernoulli targets, or the check crashed); a model that outputs class ids has no gradient for
    batch_independence to chart, which says so instead of crashing."""
    x, y = normalized_digits()
    three = y % 3

    def loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, target.long())

    def model() -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Linear(x.shape[1], 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))

    as_ids = checks.init_bias(model, (x, three), loss).row(0, named=True)
    as_floats = checks.init_bias(model, (x, three.float()), loss).row(0, named=True)
    assert as_floats["message"] == as_ids["message"] and "label priors" in as_floats["message"]

    class Argmax(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(x.shape[1], 3)

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            return self.layer(inputs).argmax(1)

    row = checks.batch_independence(
        Argmax, (x, three), lambda o, t: (o.float() - t.float()).pow(2).mean(), task="regression"
    )
    assert row.row(0, named=True)["status"] == "skip" and "not floating point" in row["message"][0]


def test_a_model_fn_that_hands_out_one_instance_is_refused() -> None:
    """The checks train what model_fn builds: one instance returned every time would be trained by
    one check and judged by the next, and the user's model changed. It is a clear error instead."""
    net = mlp()
    before = [p.detach().clone() for p in net.parameters()]
    row = checks.run_recipe(lambda: net, normalized_digits(), F.cross_entropy, checks=["overfit_one_batch"])
    assert row["status"][0] == "fail" and "returned a model it returned before" in row["message"][0]
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
