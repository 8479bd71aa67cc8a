"""Fixtures shared by the training-check tests.

Every test here starts from the same process state whatever ran before it (and leaves the state
as it found it): one torch thread (tiny models run fastest on one, and leave the other core to
the rest of CI) and the global RNGs (Python, NumPy, torch) seeded with 0. Tests import their
set-ups from the zoo modules beside this file, as `tests.checks.checks_zoo` and
`tests.checks.checks_zoo_grown` (the repository root is on the path: pyproject's ``pythonpath``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import pytest

# The documented plugin path: its `recipe` fixture, for every test here.
from recipe_audit.checks.pytest_plugin import recipe  # noqa: F401

try:
    import torch
except ImportError:  # the lazy-import tests run without torch; every other module skips itself
    torch = None


@pytest.fixture(autouse=True)
def _fixed_process_state() -> Iterator[None]:
    """One torch thread and the global RNGs seeded with 0 for the test; the caller's state restored after."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    random.seed(0)
    np.random.seed(0)
    if torch is None:
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
        return
    threads, torch_state = torch.get_num_threads(), torch.get_rng_state()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.set_rng_state(torch_state)
        random.setstate(python_state)
        np.random.set_state(numpy_state)
