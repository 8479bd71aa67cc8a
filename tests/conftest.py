"""Shared fixtures: small corpora of real photographs, generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from recipe_audit import examples

# Run by tests/test_wheel.py inside a bare venv against the installed wheel, not collected here.
collect_ignore = ["wheel/wheel_smoke"]


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """80 distinct crops of real photos: JPEGs at q75-95 (some progressive, some gray) and PNGs."""
    return examples.make_photo_corpus(tmp_path_factory.mktemp("photos"), 80, seed=7)


@pytest.fixture(scope="session")
def example_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in ImageFolder example with its planted problems."""
    return examples.make_example(tmp_path_factory.mktemp("example"))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory):
    """A real SeaweedFS S3 server on loopback for the whole session (tests/support/object_store.py)."""
    from tests.support.object_store import seaweedfs

    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture(scope="session")
def ray_cluster():
    """A real two-node Ray cluster on loopback for the whole session (tests/support/ray_cluster.py): a head
    and one more node, one CPU each, stopped by its own PIDs at the end."""
    import ray

    from tests.support.ray_cluster import RayCluster

    with RayCluster(nodes=2) as cluster:
        try:
            yield cluster
        finally:
            if ray.is_initialized():  # before the cluster goes: a driver left connected waits 60 s, then aborts
                ray.shutdown()
