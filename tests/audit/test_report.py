"""The HTML report as a person sees it: rendered in headless Chromium, screenshot, no script run."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image, ImageFilter

import recipe_audit
from recipe_audit import examples
from recipe_audit.report import MAX_GROUPS, render_html, write_report

# A file name whose markup would change the page if it were ever parsed as HTML and run.
XSS_NAME = "<img src=x onerror=document.body.setAttribute('data-pwned',1)>.jpg"
XSS_CLASS = "<b onmouseover=alert(2)>$5 bill"
SECTIONS = ("summary", "broken", "leaks", "conflicts", "duplicates", "labels", "pixels", "outliers")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)  # type: ignore[return-value]
    pytest.skip("headless Chromium is not installed (bash scripts/install-build-deps.sh installs Debian's chromium)")


def _browse(page: Path, tmp_path: Path, *args: str) -> str:
    """Load `page` in headless Chromium with `args` (--dump-dom, --screenshot=...), return stdout."""
    run = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--virtual-time-budget=3000",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in example, plus a hostile file name, a hostile class name, a dark and a blurred photo."""
    root = examples.make_example(tmp_path_factory.mktemp("report") / "data")
    planted = examples.example_planted(root)
    test_file = root / "test" / "chelsea"
    shutil.copy(sorted(test_file.iterdir())[0], root / "train" / "chelsea" / XSS_NAME)  # a leak twin named as markup
    hostile = root / "train" / XSS_CLASS
    hostile.mkdir()
    rng = np.random.default_rng(1)
    sources = dict(examples.photo_sources())
    for i in range(3):
        im = examples._to_image(sources["coffee"], examples._crop(rng, sources["coffee"]), 300, gray=False)
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=90)
        (hostile / f"cup_{i}.jpg").write_bytes(buf.getvalue())
    photo = Image.open(root / planted["exact_duplicate"][0]).convert("RGB")
    Image.eval(photo, lambda v: int(v * 0.1)).save(root / "train" / "astronaut" / "underexposed.jpg", quality=90)
    photo.filter(ImageFilter.GaussianBlur(max(photo.size) * 0.03)).save(
        root / "train" / "astronaut" / "defocused.jpg", quality=90
    )
    return root


@pytest.fixture(scope="module")
def audit(dataset: Path) -> recipe_audit.Audit:
    return recipe_audit.audit(dataset, progress=False)


@pytest.fixture(scope="module")
def page(audit: recipe_audit.Audit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return audit.to_html(tmp_path_factory.mktemp("page") / "report.html", progress=False)


def test_page_is_self_contained_and_escaped(page: Path, audit: recipe_audit.Audit) -> None:
    html = page.read_text(encoding="utf-8")
    assert '<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; img-src data:;' in html
    assert "<script" not in html.lower()
    # No reference leaves the file: every src is a data URI, no http(s) URL anywhere.
    assert set(re.findall(r'src="([a-z]+):', html)) == {"data"}
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html)
    # The hostile names appear, escaped, never as markup.
    assert "<img src=x" not in html and "<b onmouseover" not in html
    assert "&lt;img src=x onerror=document.body.setAttribute(&#39;data-pwned&#39;,1)&gt;.jpg" in html
    assert "&lt;b onmouseover=alert(2)&gt;$5 bill" in html
    # Thumbnails for the galleries, plots for the sections; the page stays small.
    assert html.count('src="data:image/jpeg') >= 10 and html.count('src="data:image/png') >= 3
    assert len(html) < 1_500_000


def test_chromium_renders_every_section_and_runs_nothing(page: Path, tmp_path: Path, audit: recipe_audit.Audit) -> None:
    dom = _browse(page, tmp_path, "--dump-dom")
    for section in SECTIONS:
        assert f'<section id="{section}">' in dom, section
    assert "data-pwned" not in dom.split("<body", 1)[1].split(">", 1)[0]  # the body was never touched
    assert '<img src="x"' not in dom
    assert "&lt;img src=x onerror=" in dom  # shown as text
    # What a person reads: the planted problems, by name.
    for text in ("truncated", "empty", "Leaks", "labels: astronaut, coffee", "underexposed.jpg", "defocused.jpg"):
        assert text in dom, text
    assert audit.problems()["dark"] >= 1 and audit.problems()["blurry"] >= 1

    shot = tmp_path / "shot.png"
    _browse(page, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400")
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 2400)
    pixels = np.asarray(image)
    # The header bar is drawn (dark), and the page is not blank: thumbnails and plots add colour.
    assert pixels[:40, :, :].mean() < 90
    assert len(np.unique(pixels.reshape(-1, 3)[::7], axis=0)) > 2000


def test_csp_stops_scripts_that_slip_through(page: Path, tmp_path: Path) -> None:
    """Defence in depth: markup injected into the page still runs nothing; without the policy it would."""
    html = page.read_text(encoding="utf-8")
    payload = (
        "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\"><script>document.title='ran'</script>"
    )
    injected = tmp_path / "injected.html"
    injected.write_text(html.replace("</main>", payload + "</main>"), encoding="utf-8")
    dom = _browse(injected, tmp_path, "--dump-dom")
    assert "data-pwned=" not in dom.split("<body", 1)[1].split(">", 1)[0] and "<title>ran</title>" not in dom
    # The positive control: the same page without the policy does run the script.
    unprotected = tmp_path / "unprotected.html"
    unprotected.write_text(
        re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", injected.read_text()), encoding="utf-8"
    )
    dom = _browse(unprotected, tmp_path, "--dump-dom")
    assert "<title>ran</title>" in dom


def test_galleries_are_capped(photos: list[Path], tmp_path: Path) -> None:
    """40 duplicate pairs: 24 groups drawn, the rest counted; one thumbnail per shown file."""
    folder = tmp_path / "pairs"
    folder.mkdir()
    for i, photo in enumerate(photos[:40]):
        shutil.copy(photo, folder / f"a{i:02d}{photo.suffix}")
        shutil.copy(photo, folder / f"b{i:02d}{photo.suffix}")
    audit = recipe_audit.audit(folder, progress=False)
    assert audit.duplicates["group"].n_unique() == 40
    html = render_html(audit)
    assert html.count('<div class="tag">group ') == MAX_GROUPS
    assert f"and {40 - MAX_GROUPS} more groups" in html
    assert html.count('src="data:image/jpeg') <= 2 * MAX_GROUPS + 7 * 8 + 12


def test_write_report_misuse_and_labels_section(tmp_path: Path, audit: recipe_audit.Audit) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_report(audit, tmp_path / "missing" / "r.html")
    html = render_html(audit)
    labels = html.split('<section id="labels">', 1)[1].split("</section>", 1)[0]
    assert "&lt;b onmouseover=alert(2)&gt;$5 bill" in labels and 'src="data:image/png' in labels
    assert audit.labels.filter(pl.col("label") == XSS_CLASS)["count"].sum() == 3


def test_flag_cards_name_the_values_that_fired() -> None:
    from recipe_audit.report.page import _label

    blurry = recipe_audit.OutlierThresholds().legs("blurry")
    assert _label(blurry, (0.1, 0.003)) == "sharpness_fine 0.003 (<= 0.005)"  # the finer look alone
    assert _label(blurry, (0.01, None)) == "sharpness 0.01 (<= 0.02)"
    assert _label(blurry, (0.01, 0.4)) == "sharpness 0.01 (<= 0.02)"
    assert _label(blurry, (0.0, 0.0)) == "sharpness 0 (<= 0.02) or sharpness_fine 0 (<= 0.005)"
    gray = recipe_audit.OutlierThresholds().legs("grayscale")
    assert _label(gray, (None,)) == "colorfulness  (< 1)"  # not measured: the rule is still shown


def test_a_bright_card_names_only_the_legs_that_fired() -> None:
    """The clipped-outline leg fires only with its other conditions (each way, the mean, not lines
    of text); a picture bright by its darkest 1% alone is shown that alone."""
    from recipe_audit.report.page import _label

    t = recipe_audit.OutlierThresholds()
    legs, conditions = t.legs("bright"), t.conditions("bright")
    row = {"luma_p01": 233, "mean": 254.0, "clip_edges": 4.73, "clip_edges_min": 1.61, "row_coherence": 0.29}
    row |= {"clip_edge_depth": 9.0}
    values = [row[k] for k, _, _ in legs]
    assert _label(legs, values, conditions, row) == "luma_p01 233 (>= 210)"
    ragged = row | {"luma_p01": 150, "clip_edges_min": 2.0, "row_coherence": 0.1}
    values = [ragged[k] for k, _, _ in legs]
    assert _label(legs, values, conditions, ragged) == "mean 254 (>= 240) or clip_edges 4.73 (>= 4.5)"
    unknown = ragged | {"row_coherence": None}  # an older scan: no guard measured, none applied
    assert _label(legs, values, conditions, unknown) == "mean 254 (>= 240) or clip_edges 4.73 (>= 4.5)"
    cut_out = ragged | {"clip_edge_depth": 47.0}  # steps down to white at once: a subject on white
    assert _label(legs, values, conditions, cut_out) == "mean 254 (>= 240)"
    assert _label(legs, values, conditions, ragged | {"clip_edge_depth": None}) == "mean 254 (>= 240)"
