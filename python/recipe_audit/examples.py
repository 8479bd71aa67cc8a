"""Test and benchmark images made from real photographs that ship inside packages.

Nothing is downloaded: the sources are the photographs bundled with scikit-image
(and scikit-learn's two sample images when scikit-learn is installed). Output is
deterministic: the same seed and library versions give the same bytes.

``make_example(dest)`` writes a small ImageFolder dataset, ``dest/{train,val,test}/<class>/``,
with four classes (astronaut, chelsea, coffee, rocket), 64 clean images and these planted
problems (relative paths from ``example_planted(root)``):

- ``exact_duplicate``: a byte-identical copy of a train image under another file name.
- ``near_duplicate``: a train image resized to 70% and re-encoded at another JPEG quality.
- ``truncated``: a JPEG cut in the middle of its entropy-coded data.
- ``empty``: a zero-byte ``.jpg``.
- ``wrong_extension``: a valid PNG saved with a ``.jpg`` extension.
- ``label_conflict``: the same bytes under two class folders (also an exact duplicate).
- ``split_leak``: a train image copied into test (also an exact duplicate).

In each list the planted file comes last; for duplicates the original comes first.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recipe_audit._optional import optional, require

__all__ = [
    "photo_sources",
    "photo_library",
    "Photo",
    "SYSTEM_PHOTO_DIRS",
    "make_photo_corpus",
    "make_photo_corpus_table",
    "make_example",
    "example_planted",
]

_SKIMAGE_PHOTOS = (
    "astronaut",
    "brick",
    "camera",
    "cell",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "retina",
    "rocket",
    "stereo_motorcycle",
    "text",
)
_EXAMPLE_CLASSES = ("astronaut", "chelsea", "coffee", "rocket")
_EXAMPLE_COUNTS = {"train": 10, "val": 3, "test": 3}


def _need(module: str) -> Any:
    return require(module, extra="example", feature="recipe_audit.examples")


@functools.lru_cache(maxsize=1)
def _load_sources() -> tuple[tuple[str, np.ndarray], ...]:
    _need("PIL.Image")  # skimage.data reads its files with Pillow (imported lazily)
    data = _need("skimage.data")
    out = []
    for name in _SKIMAGE_PHOTOS:
        img = getattr(data, name)()
        if isinstance(img, tuple):  # stereo_motorcycle -> (left, right, disparity)
            name, img = "motorcycle", img[0]
        out.append((name, img))
    sklearn_datasets = optional("sklearn.datasets")
    if sklearn_datasets is not None:
        bunch = sklearn_datasets.load_sample_images()
        for fname, img in zip(bunch.filenames, bunch.images):
            out.append((Path(fname).stem, img))
    result = []
    for name, img in out:
        arr = np.ascontiguousarray(np.asarray(img, dtype=np.uint8))
        arr.flags.writeable = False
        result.append((name, arr))
    return tuple(result)


def photo_sources() -> list[tuple[str, np.ndarray]]:
    """Return the bundled photographs as ``(name, array)``; HxWx3 or HxW ``uint8``, cached.

    >>> names = [name for name, _ in photo_sources()]
    >>> "astronaut" in names
    True
    """
    return list(_load_sources())


SYSTEM_PHOTO_DIRS: tuple[str, ...] = (
    "/usr/share/backgrounds",
    "/usr/share/wallpapers",
    "/usr/share/mypaint/backgrounds",
    "/usr/share/lxqt/wallpapers",
    "/usr/share/palapeli/collection",
    "/usr/share/tuxpaint/templates",
    "/usr/share/tuxtype/images",
    "/usr/share/doc/opencv-doc/examples/data",
    "/usr/share/doc/opencv-doc/examples/text",
)
"""Where Debian's packages put their pictures (``mate-backgrounds``, ``lomiri-wallpapers*``,
``ukui-wallpapers``, ``gnome-backgrounds``, ``sway-backgrounds``, ``mypaint-data-extras``,
``plasma-workspace-wallpapers``, ``lxqt-themes``, ``palapeli-data``, ``tuxpaint-data``, ``tuxtype-data``,
``opencv-doc``): photographs, illustrations and paper textures, read by `photo_library` when present.
The benchmarks' machines install them with ``apt-get install -y --no-install-recommends
mate-backgrounds lomiri-wallpapers lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 ukui-wallpapers
gnome-backgrounds sway-backgrounds mypaint-data-extras plasma-workspace-wallpapers lxqt-themes
palapeli-data tuxpaint-data tuxtype-data opencv-doc``."""

_GRAY_SOURCES = frozenset({"brick", "camera", "cell", "clock", "coins", "grass", "gravel", "moon", "page", "text"})
# Debian's artwork mixes photographs with drawn or rendered art and scanned paper; these say which.
_ART_FOLDERS = ("gnome", "sway", "mate/abstract", "mate/desktop")
_PAPER_FOLDERS = ("ramon", "mrmamurk")
_ART_BY_NAME = frozenset(
    {"Fossa_by_Jasper_Roks", "Infinite-Sea_by_Aury88", "umang_by_Abhishek_Mudgal", "greentock_by_Peter_Nerlich"}
)


# Folders of applications, named by their package rather than by the folder's own name.
_APP_FOLDERS = {
    "/usr/share/lxqt/wallpapers": "lxqt",
    "/usr/share/palapeli/collection": "palapeli",
    "/usr/share/tuxpaint/templates": "tuxpaint",
    "/usr/share/tuxtype/images": "tuxtype",
    "/usr/share/doc/opencv-doc/examples/data": "opencv",
    "/usr/share/doc/opencv-doc/examples/text": "opencv/text",
}
# KDE wallpaper packages (<Name>/contents/images/<W>x<H>.jpg; Plasma's): these are photographs,
# the rest (and other desktops' packages there, e.g. desktop-base's) drawn or rendered.
_KDE_PHOTOS = frozenset(
    {"BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey", "Kite"}
    | {"OneStandsOut", "Path", "summer_1am"}
)
# LXQt's photographs; its other wallpapers are logos on gradients and low-poly art.
_LXQT_PHOTOS = frozenset(
    {"Butterfly-Kenneth-Wimer", "Valendas", "after-the-rain", "appleflower", "beam", "butterfly", "cloud", "drop"}
    | {"flowers", "fog", "this-is-not-windows"}
)
# OpenCV's sample data mixes photographs with their second views (stereo pairs, calibration series),
# masks, drawings and deliberately blurred shots: only these photographs are read, the rest skipped.
_OPENCV_PHOTOS = frozenset(
    {"aero1", "aloeL", "apple", "baboon", "basketball1", "board", "building", "chicky_512", "ela_original"}
    | {"fruits", "graf1", "left", "left01", "leuvenA", "orange", "squirrel_cls", "stuff"}
)


def _debian_kind(folder: str, name: str) -> str | None:
    """``photo``, ``art`` or ``paper``; ``None``: not a source (skip it)."""
    if folder.startswith("opencv"):
        scene = folder == "opencv/text" and re.fullmatch(r"scenetext\d+", name) is not None
        return "photo" if name in _OPENCV_PHOTOS or scene else None
    if folder == "wallpapers":
        return "photo" if name in _KDE_PHOTOS else "art"
    if folder == "lxqt":
        return "photo" if name in _LXQT_PHOTOS else "art"
    if folder in ("palapeli", "tuxpaint", "tuxtype/backgrounds"):  # jigsaw, paint-over and space photographs
        return "photo"
    if folder == "tuxtype":  # landscapes "kcas<N>" and the seal pup; the rest: game screens and sprites
        return "photo" if name.startswith("kcas") or name == "hidden" else None
    if folder in _PAPER_FOLDERS:
        return "paper"
    if folder in _ART_FOLDERS or name in _ART_BY_NAME:
        return "art"
    # Ubuntu's and UKUI's photographs are credited "<title>_by_<photographer>"; the rest is art.
    return "photo" if folder == "mate/nature" or "_by_" in name else "art"


def _pixels(size: str) -> int:
    """``"1920x1080"`` -> 2073600."""
    return math.prod(int(n) for n in size.split("x"))


_LIBRARY_LONG_SIDE = 1600
_PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


@dataclasses.dataclass(frozen=True)
class Photo:
    """One source picture of `photo_library`.

    Attributes:
        name: unique within the library (the file stem, or the package's own name for it).
        family: where it comes from: ``skimage``, ``sklearn``, ``matplotlib`` or ``debian:<folder>``.
        gray: the picture has no colour (a gray photograph, a micrograph, a scanned page).
        kind: ``photo`` (a photograph, micrograph or scan), ``art`` (drawn or rendered: gradients,
            patterns, soft glows) or ``paper`` (a blank paper texture).
        array: HxWx3 ``uint8`` (gray pictures too, R = G = B), read-only, long side <= 1600 px.
    """

    name: str
    family: str
    gray: bool
    kind: str
    array: np.ndarray


def photo_library(*, system_dirs: tuple[str, ...] | None = SYSTEM_PHOTO_DIRS) -> list[Photo]:
    """Every real picture available offline: scikit-image's and scikit-learn's photographs,
    matplotlib's sample photograph, and the artwork of Debian packages found under ``system_dirs``
    (``None``: skip them). Sorted by family, then name; pictures are reduced so the long side is at
    most 1600 px. Benchmarks split it by `Photo.name` into a tuning and a held-out half.

    >>> library = photo_library(system_dirs=None)
    >>> {p.family for p in library} >= {"skimage", "matplotlib"}
    True
    """
    return list(_load_library(tuple(system_dirs) if system_dirs else ()))


@functools.lru_cache(maxsize=2)
def _load_library(system_dirs: tuple[str, ...]) -> tuple[Photo, ...]:
    Image = _need("PIL.Image")

    def photo(name: str, family: str, arr: np.ndarray, kind: str = "photo") -> Photo:
        arr = np.asarray(arr, dtype=np.uint8)
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        arr = np.ascontiguousarray(arr[:, :, :3])
        gray = bool((arr[:, :, 0] == arr[:, :, 1]).all() and (arr[:, :, 1] == arr[:, :, 2]).all())
        arr.flags.writeable = False
        return Photo(name, family, gray or name in _GRAY_SOURCES, kind, arr)

    out = [photo(name, "sklearn" if name in ("china", "flower") else "skimage", arr) for name, arr in _load_sources()]
    cbook = optional("matplotlib.cbook")
    if cbook is not None:
        with (
            Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).open("rb") as f,
            Image.open(f) as im,
        ):
            out.append(photo("grace_hopper", "matplotlib", np.asarray(im.convert("RGB"))))
    seen = {p.name for p in out}
    for folder in system_dirs:
        for path in sorted(Path(folder).rglob("*")):
            if path.suffix.lower() not in _PICTURE_SUFFIXES or not path.is_file():
                continue
            # One picture at several sizes ("Elephants_3840x2160") is one source.
            name = re.sub(r"_\d+x\d+(_Portrait)?$", "", path.stem)
            sub = path.parent.relative_to(folder).as_posix()
            label = _APP_FOLDERS.get(folder)
            if label is not None:
                sub = label if sub == "." else f"{label}/{sub}"
            elif "contents" in Path(sub).parts:
                # A KDE wallpaper package: one picture at several sizes, read at its largest; its
                # contents/screenshot.png is a preview.
                if path.parent.parent.name != "contents" or not re.fullmatch(r"\d+x\d+", name):
                    continue
                sizes = [p for p in path.parent.iterdir() if p.suffix.lower() in _PICTURE_SUFFIXES]
                sizes = [p for p in sizes if re.fullmatch(r"\d+x\d+", p.stem)]
                if path != max(sizes, key=lambda p: (_pixels(p.stem), p.name)):
                    continue
                name, sub = path.parents[2].name, Path(folder).name
            sub = Path(folder).name if sub == "." else sub
            if name.isdigit():  # tuxtype's backgrounds/0.jpg ...: a number is no name
                name = f"{sub.replace('/', '_')}_{name}"
            kind = _debian_kind(sub, name)
            if name in seen or kind is None:
                continue
            try:
                with Image.open(path) as im:
                    im.draft("RGB", (_LIBRARY_LONG_SIDE, _LIBRARY_LONG_SIDE))
                    im = im.convert("RGB")
                    im.thumbnail((_LIBRARY_LONG_SIDE, _LIBRARY_LONG_SIDE), Image.Resampling.LANCZOS)
                    arr = np.asarray(im)
            except (OSError, ValueError):
                continue  # not a picture Pillow reads (a readme, an SVG)
            if min(arr.shape[:2]) < 200:
                continue
            seen.add(name)
            out.append(photo(name, f"debian:{sub}", arr, kind))
    return tuple(sorted(out, key=lambda p: (p.family, p.name)))


Box = tuple[int, int, int, int]
"""A crop box: (y0, x0, y1, x1) in pixels."""


def _crop(rng: np.random.Generator, arr: np.ndarray, lo: float = 0.3, hi: float = 0.9) -> Box:
    """A random crop covering ``lo..hi`` of each side; returns the box (y0, x0, y1, x1)."""
    h, w = arr.shape[:2]
    ch = max(1, int(round(h * rng.uniform(lo, hi))))
    cw = max(1, int(round(w * rng.uniform(lo, hi))))
    y0 = int(rng.integers(0, h - ch + 1))
    x0 = int(rng.integers(0, w - cw + 1))
    return y0, x0, y0 + ch, x0 + cw


def _area(r: Box) -> int:
    return (r[2] - r[0]) * (r[3] - r[1])


def _iou(a: Box, b: Box) -> float:
    ih = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iw = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ih * iw
    return inter / (_area(a) + _area(b) - inter)


def _to_image(arr: np.ndarray, box: Box, long_side: int, gray: bool) -> Any:
    """Crop ``arr`` to ``box`` and resize (LANCZOS) so the long side is ``long_side``."""
    Image = _need("PIL.Image")
    y0, x0, y1, x1 = box
    im = Image.fromarray(arr[y0:y1, x0:x1])
    im = im.convert("L" if gray else "RGB")
    h, w = y1 - y0, x1 - x0
    scale = long_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return im.resize(size, Image.Resampling.LANCZOS)


def _encode(im: Any, fmt: str, quality: int = 90, subsampling: int = 2, progressive: bool = False) -> bytes:
    buf = io.BytesIO()
    if fmt == "PNG":
        im.save(buf, format="PNG", compress_level=6)
    else:
        im.save(buf, format="JPEG", quality=quality, subsampling=subsampling, progressive=progressive)
    return buf.getvalue()


def make_photo_corpus(
    dest: str | Path,
    n: int,
    *,
    seed: int = 0,
    png_share: float = 0.1,
    gray_share: float = 0.05,
    min_side: int = 200,
    max_side: int = 800,
) -> list[Path]:
    """Write ``n`` distinct images cropped from real photos into the flat folder ``dest``.

    Each image is a random crop (30-90% of each side) of a random source photo, resized so
    its long side is uniform in ``[min_side, max_side]``. Exactly ``round(n * png_share)``
    are PNG and ``round(n * gray_share)`` grayscale; JPEGs use quality 75-95, mostly 4:2:0
    chroma subsampling (about 20% 4:4:4, 5% 4:2:2) and about 5% are progressive. Files are
    named ``img_000123.jpg`` / ``.png``. Images from the same source may overlap in content.

    >>> paths = make_photo_corpus("/tmp/corpus", 100, seed=1)
    >>> len(paths), paths[0].name
    (100, 'img_000000.jpg')
    """
    return [
        Path(p)
        for p in make_photo_corpus_table(
            dest, n, seed=seed, png_share=png_share, gray_share=gray_share, min_side=min_side, max_side=max_side
        )["path"]
    ]


def make_photo_corpus_table(
    dest: str | Path,
    n: int,
    *,
    seed: int = 0,
    png_share: float = 0.1,
    gray_share: float = 0.05,
    min_side: int = 200,
    max_side: int = 800,
) -> pl.DataFrame:
    """`make_photo_corpus`, returning where each image comes from as a frame.

    Columns: ``path``, ``source`` (the photo's name), ``top``, ``left``, ``bottom``, ``right``
    (the crop box in the source photo's pixels). Benchmarks use the boxes to tell apart crops that
    overlap so much they are near copies of each other from crops that are distinct.

    >>> table = make_photo_corpus_table("/tmp/corpus", 10, seed=1)
    >>> table.columns
    ['path', 'source', 'top', 'left', 'bottom', 'right']
    """
    if n < 0 or not 1 <= min_side <= max_side:
        raise ValueError("need n >= 0 and 1 <= min_side <= max_side")
    sources = _load_sources()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    is_png = np.zeros(n, dtype=bool)
    is_png[rng.permutation(n)[: round(n * png_share)]] = True
    is_gray = np.zeros(n, dtype=bool)
    is_gray[rng.permutation(n)[: round(n * gray_share)]] = True
    seen: set[bytes] = set()
    rows = []
    for i in range(n):
        while True:  # redraw in the (unlikely) case of identical bytes
            source, arr = sources[int(rng.integers(len(sources)))]
            box = _crop(rng, arr)
            im = _to_image(arr, box, int(rng.integers(min_side, max_side + 1)), bool(is_gray[i]))
            quality = int(rng.integers(75, 96))
            subsampling = int(rng.choice([2, 0, 1], p=[0.75, 0.2, 0.05]))
            progressive = bool(rng.random() < 0.05)
            fmt = "PNG" if is_png[i] else "JPEG"
            data = _encode(im, fmt, quality, subsampling, progressive)
            digest = hashlib.sha256(data).digest()
            if digest not in seen:
                seen.add(digest)
                break
        path = dest / f"img_{i:06d}.{'png' if fmt == 'PNG' else 'jpg'}"
        path.write_bytes(data)
        rows.append((str(path), source, *box))
    return pl.DataFrame(rows, schema=["path", "source", "top", "left", "bottom", "right"], orient="row")


def _example_layout() -> tuple[list[tuple[str, int]], dict[str, list[str]]]:
    """The fixed file plan: clean ``(relpath, class index)`` pairs and the planted problems."""
    base: list[tuple[str, int]] = []
    first: dict[tuple[str, int], list[str]] = {}
    for split, count in _EXAMPLE_COUNTS.items():
        for c, cls in enumerate(_EXAMPLE_CLASSES):
            for _ in range(count):
                rel = f"{split}/{cls}/img_{len(base):06d}.jpg"
                base.append((rel, c))
                first.setdefault((split, c), []).append(rel)
    k = iter(range(len(base), len(base) + 7))
    a, ch, co, ro = _EXAMPLE_CLASSES

    def name(split: str, cls: str) -> str:
        return f"{split}/{cls}/img_{next(k):06d}.jpg"

    planted = {
        "exact_duplicate": [first["train", 0][0], name("train", a)],
        "near_duplicate": [first["train", 1][0], name("train", ch)],
        "truncated": [name("train", co)],
        "empty": [name("val", ro)],
        "wrong_extension": [name("train", ro)],
        "label_conflict": [first["train", 0][1], name("train", co)],
        "split_leak": [first["train", 3][1], name("test", ro)],
    }
    return base, planted


def _truncate_jpeg(data: bytes) -> bytes:
    """Cut a JPEG halfway through the entropy-coded data after its first SOS segment."""
    pos = 2
    while pos + 4 <= len(data):
        marker, seglen = data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xDA:
            start = pos + 2 + seglen
            return data[: start + (len(data) - start) // 2]
        pos += 2 + seglen
    raise ValueError("no SOS marker found")


def make_example(dest: str | Path) -> Path:
    """Write the built-in ImageFolder example with planted problems; return its root.

    >>> root = make_example("/tmp/recipe_audit_example")
    >>> sorted(p.name for p in root.iterdir())
    ['test', 'train', 'val']
    """
    root = Path(dest)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} exists and is not empty")
    sources = dict(_load_sources())
    arrays = [sources[c] for c in _EXAMPLE_CLASSES]
    rng = np.random.default_rng(20240601)
    base, planted = _example_layout()
    boxes: dict[int, list[Box]] = {c: [] for c in range(len(arrays))}

    def new_image(c: int, fmt: str = "JPEG") -> bytes:
        # Reject crops that overlap an earlier one of the same class too much, so that
        # the clean images are not near duplicates of each other by accident.
        for attempt in range(500):
            box = _crop(rng, arrays[c], 0.3, 0.7)
            if all(_iou(box, b) < 0.25 + attempt / 1000 for b in boxes[c]):
                break
        boxes[c].append(box)
        im = _to_image(arrays[c], box, int(rng.integers(192, 385)), gray=False)
        return _encode(im, fmt, int(rng.integers(80, 96)), 2)

    for rel, c in base:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(new_image(c))

    def put(rel: str, data: bytes) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)

    for kind in ("exact_duplicate", "label_conflict", "split_leak"):
        src, dst = planted[kind]
        put(dst, (root / src).read_bytes())
    src, dst = planted["near_duplicate"]
    Image = _need("PIL.Image")
    with Image.open(root / src) as im:
        im.load()
        small = im.resize((round(im.width * 0.7), round(im.height * 0.7)), Image.Resampling.LANCZOS)
    put(dst, _encode(small, "JPEG", quality=78))
    put(planted["truncated"][0], _truncate_jpeg(new_image(2)))
    put(planted["empty"][0], b"")
    put(planted["wrong_extension"][0], new_image(3, "PNG"))
    return root


def example_planted(root: str | Path) -> dict[str, list[str]]:
    """Relative POSIX paths of each planted problem in an example made by ``make_example``.

    >>> planted = example_planted(make_example("/tmp/ex"))
    >>> planted["truncated"]
    ['train/coffee/img_000066.jpg']
    """
    _, planted = _example_layout()
    missing = [p for paths in planted.values() for p in paths if not (Path(root) / p).is_file()]
    if missing:
        raise FileNotFoundError(f"{root} is not a recipe_audit example; missing {missing[:3]}")
    return {k: list(v) for k, v in planted.items()}
