"""The wheel people install: built by maturin, installed into a bare venv with no Rust on the PATH.

`maturin build --release` (reusing the release build in target/, so seconds after `pip install -e`)
makes an abi3 manylinux wheel; it is installed with pip into a fresh virtual environment of the
oldest Python the package supports (3.10, where pyenv has it), with a PATH that holds no cargo or
rustc, and `tests/wheel_smoke/` runs there against data and expected rows made here. Set
``RECIPE_AUDIT_WHEEL=path/to.whl`` to test a wheel built elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import recipe_audit

ROOT = Path(__file__).resolve().parents[2]
BARE_PATH = "/usr/local/bin:/usr/bin:/bin"
HEAVY = ("torch", "matplotlib", "PIL", "pyarrow", "jinja2", "lightning", "ray", "sklearn", "skimage")


def _oldest_python() -> str:
    pyenv = Path.home() / ".pyenv" / "versions"
    found = sorted(pyenv.glob("3.10.*/bin/python3.10")) if pyenv.is_dir() else []
    return str(found[-1]) if found else sys.executable


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("RECIPE_AUDIT_WHEEL")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "maturin", "build", "--release", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (no system site-packages) with the wheel and pytest installed, Rust out of reach."""
    env_dir = tmp_path_factory.mktemp("venv") / "bare"
    subprocess.run([_oldest_python(), "-m", "venv", str(env_dir)], check=True, timeout=300)
    env = {"PATH": f"{env_dir / 'bin'}:{BARE_PATH}", "HOME": os.environ.get("HOME", "/root")}
    assert shutil.which("cargo", path=env["PATH"]) is None and shutil.which("rustc", path=env["PATH"]) is None
    done = subprocess.run(
        [str(env_dir / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel), "pytest"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return env_dir


@pytest.fixture(scope="module")
def smoke_data(photos: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ImageFolder with a train/test leak, an exact copy, a truncated JPEG and an empty file,
    plus the rows the developer build's scan gives for it."""
    data = tmp_path_factory.mktemp("smoke")
    images = data / "images"
    jpegs = [p for p in photos if p.suffix == ".jpg"][:6]
    pngs = [p for p in photos if p.suffix == ".png"][:2]
    for k, src in enumerate(jpegs + pngs):
        dest = images / "train" / ("cat" if k % 2 else "dog") / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    (images / "test" / "dog").mkdir(parents=True)
    shutil.copyfile(jpegs[0], images / "test" / "dog" / "leaked.jpg")
    blob = jpegs[1].read_bytes()
    (images / "test" / "dog" / "cut.jpg").write_bytes(blob[: len(blob) // 2])
    (images / "test" / "dog" / "empty.jpg").write_bytes(b"")
    files = recipe_audit.scan(images)
    files = files.with_columns(files["path"].str.replace(str(images) + "/", "", literal=True))
    keep = [
        "path",
        "status",
        "format",
        "width",
        "height",
        "content_hash",
        "ahash",
        "dhash",
        "phash",
        "mean",
        "label",
        "split",
    ]
    (data / "expected.json").write_text(json.dumps(files.select(keep).to_dict(as_series=False)))
    return data


def test_wheel_is_abi3_manylinux_and_complete(wheel: Path) -> None:
    name = wheel.name
    assert "-cp310-abi3-" in name and "manylinux" in name, name
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert "recipe_audit/_core.abi3.so" in names
    assert {"recipe_audit/py.typed", "recipe_audit/_core.pyi", "recipe_audit/checks/__init__.py"} <= set(names)
    assert not any(n.endswith(".rs") for n in names)
    assert wheel.stat().st_size < 20 * 2**20


def test_smoke_tests_pass_against_the_installed_wheel(venv: Path, smoke_data: Path, tmp_path: Path) -> None:
    env = {
        "PATH": f"{venv / 'bin'}:{BARE_PATH}",
        "HOME": os.environ.get("HOME", "/root"),
        "RECIPE_AUDIT_SMOKE_DATA": str(smoke_data),
        "RECIPE_AUDIT_EXPECT_PREFIX": str(venv),
    }
    smoke = Path(__file__).resolve().parent / "wheel_smoke"
    done = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--confcutdir={smoke}",
            f"--rootdir={smoke}",
            str(smoke),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-2000:]


def test_import_loads_no_heavy_dependency(venv: Path, tmp_path: Path) -> None:
    probe = f"import sys, recipe_audit, recipe_audit.checks; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-X", "importtime", "-c", probe],
        cwd=tmp_path,
        env={"PATH": BARE_PATH},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", f"imported at `import recipe_audit`: {done.stdout}"
    assert "recipe_audit" in done.stderr  # -X importtime wrote its table
