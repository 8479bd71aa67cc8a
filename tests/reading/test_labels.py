"""Labels: manifests joined onto real scans, label_stats against SciPy, suggest_bias, COCO and YOLO."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import recipe_audit
from recipe_audit.analysis.boxes import box_issues, box_stats, boxes_per_image
from recipe_audit.analysis.significance import chi2_sf


@pytest.fixture(scope="module")
def flat(photos: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 real photos in one flat folder plus a sub-folder: no layout, labels only from a manifest."""
    root = tmp_path_factory.mktemp("flat")
    (root / "sub").mkdir()
    for i, photo in enumerate(photos[:60]):
        shutil.copy(photo, root / ("sub" if i >= 50 else ".") / f"im{i:02d}{photo.suffix}")
    return root


def _manifest(root: Path) -> pl.DataFrame:
    """train: 20 a, 19 b, 1 c (rare); test: 18 a, 2 b (shifted), no c (missing)."""
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*.*"))
    labels = ["a"] * 20 + ["b"] * 19 + ["c"] + ["a"] * 18 + ["b"] * 2
    splits = ["train"] * 40 + ["test"] * 20
    return pl.DataFrame({"File_Name": names[:60], "Class": labels, "subset": splits})


def test_manifest_formats_and_path_spellings(flat: Path, tmp_path: Path) -> None:
    files = recipe_audit.scan(flat, progress=False)
    manifest = _manifest(flat)
    # Three spellings of the same files: relative, "./relative", absolute.
    spelled = manifest.with_columns(
        pl.when(pl.int_range(pl.len()) % 3 == 0)
        .then("./" + pl.col("File_Name"))
        .when(pl.int_range(pl.len()) % 3 == 1)
        .then(pl.lit(str(flat) + "/") + pl.col("File_Name"))
        .otherwise(pl.col("File_Name"))
        .alias("File_Name")
    )
    expected = dict(zip([str(flat / n) for n in manifest["File_Name"]], manifest["Class"]))
    spelled.write_csv(tmp_path / "m.csv")
    spelled.write_parquet(tmp_path / "m.parquet")
    spelled.write_ndjson(tmp_path / "m.jsonl")
    spelled.write_json(tmp_path / "m.json")
    for name in ("m.csv", "m.parquet", "m.jsonl", "m.json"):
        for root in (None, flat):
            joined = recipe_audit.join_labels(files, tmp_path / name, root=root)
            assert joined.columns == files.columns and joined.height == files.height
            assert dict(joined.select("path", "label").iter_rows()) == expected, (name, root)
            assert joined.filter(pl.col("split") == "test").height == 20
    # The frame from read_labels works as well, and the scan frame itself is untouched.
    assert recipe_audit.join_labels(files, recipe_audit.read_labels(tmp_path / "m.csv"))["label"].null_count() == 0
    assert files["label"].null_count() == files.height - 10  # only sub/ has a folder label


def test_label_issues(flat: Path) -> None:
    files = recipe_audit.scan(flat, progress=False)
    manifest = _manifest(flat)
    broken = pl.concat(
        [
            manifest.slice(1, 59),  # the first file is not listed
            pl.DataFrame(
                {
                    "File_Name": ["ghost.jpg", manifest["File_Name"][5]],
                    "Class": ["a", "zebra"],
                    "subset": ["train", "train"],
                }
            ),
        ]
    )
    issues = recipe_audit.label_issues(files, broken)
    by_issue = {k: sorted(v) for k, v in issues.group_by("issue").agg("path").iter_rows()}
    assert by_issue == {
        "not_in_manifest": [str(flat / manifest["File_Name"][0])],
        "missing_file": ["ghost.jpg"],
        "several_labels": [str(flat / manifest["File_Name"][5])],
    }
    assert issues.filter(pl.col("issue") == "several_labels")["detail"].item() == "a, zebra"
    joined = recipe_audit.join_labels(files, broken)
    assert (
        joined.filter(pl.col("path") == str(flat / manifest["File_Name"][5]))["label"].item() == "a"
    )  # first row wins
    # A bare file name that ends two scanned paths is ambiguous.
    twin = flat / "sub" / "im00.jpg"
    shutil.copy(flat / manifest["File_Name"][0], twin)
    try:
        files2 = recipe_audit.scan(flat, progress=False)
        issues2 = recipe_audit.label_issues(files2, pl.DataFrame({"path": ["im00.jpg"], "label": ["a"]}))
        assert issues2.filter(pl.col("issue") == "several_files")["detail"].item().count(",") == 1
    finally:
        twin.unlink()


def test_read_labels_misuse(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("image,whatever\nx.jpg,1\n")
    with pytest.raises(ValueError, match="label column"):
        recipe_audit.read_labels(tmp_path / "bad.csv")
    (tmp_path / "coco.json").write_text('{"images": [], "annotations": []}')
    with pytest.raises(ValueError, match="read_coco"):
        recipe_audit.read_labels(tmp_path / "coco.json")
    with pytest.raises(FileNotFoundError):
        recipe_audit.read_labels(tmp_path / "missing.csv")
    (tmp_path / "labels.xml").write_text("<x/>")
    with pytest.raises(ValueError, match="unknown manifest type"):
        recipe_audit.read_labels(tmp_path / "labels.xml")


def test_label_stats_against_scipy(flat: Path) -> None:
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import chi2_contingency

    files = recipe_audit.join_labels(recipe_audit.scan(flat, progress=False), _manifest(flat))
    stats = recipe_audit.label_stats(files, rare_share=0.05)
    assert stats.height == 6  # 2 splits x 3 classes, zeros included
    row = {(s, lab): r for s, lab, r in zip(stats["split"], stats["label"], stats.iter_rows(named=True))}
    assert row["train", "c"]["rare"] and not row["train", "b"]["rare"]
    assert row["test", "c"]["missing"] and row["test", "c"]["count"] == 0
    assert row["train", "a"]["imbalance"] == 20.0 and row["test", "a"]["imbalance"] == 9.0
    p_train = np.array([20, 19, 1]) / 40
    assert row["train", "a"]["entropy"] == pytest.approx(-(p_train * np.log(p_train)).sum() / math.log(3))
    assert row["test", "a"]["reference"] == "train" and row["train", "a"]["js_divergence"] is None
    p_test = np.array([18, 2, 0]) / 20
    assert row["test", "a"]["js_divergence"] == pytest.approx(jensenshannon(p_test, p_train, base=2) ** 2)
    expected_p = chi2_contingency(np.array([[18, 2, 0], [20, 19, 1]]), correction=False).pvalue
    assert row["test", "a"]["chi2_p"] == pytest.approx(expected_p, rel=1e-9)
    assert row["test", "a"]["chi2_p"] < 0.01  # the shifted test split is visible
    # Another reference, and misuse.
    assert recipe_audit.label_stats(files, reference="test").filter(pl.col("split") == "train")["js_divergence"][0] > 0
    with pytest.raises(ValueError, match="no split named"):
        recipe_audit.label_stats(files, reference="holdout")


def test_chi2_survival_matches_scipy() -> None:
    from scipy.stats import chi2

    for x, dof in [(0.3, 1), (3.84, 1), (10.0, 2), (7.0, 3), (55.0, 10), (900.0, 7), (150.0, 99), (1e-4, 5)]:
        assert chi2_sf(x, dof) == pytest.approx(chi2.sf(x, dof), rel=1e-9, abs=1e-300)


def test_label_stats_on_the_example(example_root: Path) -> None:
    stats = recipe_audit.label_stats(recipe_audit.scan(example_root, progress=False))
    train = stats.filter(pl.col("split") == "train")
    # 10 clean + planted copies per class, broken files left out (usable_only).
    assert dict(train.select("label", "count").iter_rows()) == {
        "astronaut": 11,
        "chelsea": 11,
        "coffee": 11,
        "rocket": 11,
    }
    assert stats.filter(pl.col("split") == "val")["chi2_p"][0] == pytest.approx(1.0)
    assert not stats["missing"].any()


def test_suggest_bias(example_root: Path, flat: Path) -> None:
    files = recipe_audit.join_labels(recipe_audit.scan(flat, progress=False), _manifest(flat))
    bias = recipe_audit.suggest_bias(files)  # the train split: 20 a, 19 b, 1 c
    assert bias.task == "softmax" and bias.classes == ["a", "b", "c"]
    assert bias.values == pytest.approx([math.log(20 / 40), math.log(19 / 40), math.log(1 / 40)])
    sig = recipe_audit.suggest_bias(files, "sigmoid", positive="c")
    assert sig.values == pytest.approx([math.log((1 / 40) / (39 / 40))])
    ovr = recipe_audit.suggest_bias(files, "sigmoid", split=None)  # all 60 files: 38 a, 21 b, 1 c
    assert ovr.values[0] == pytest.approx(math.log(38 / 22))
    assert recipe_audit.suggest_bias([[1, 0], [1, 1], [1, 0], [0, 0]], "sigmoid").values == pytest.approx(
        [math.log(3), -math.log(3)]
    )
    assert recipe_audit.suggest_bias(pl.Series(["50", "48", "52.0", "54"]), "regression").values == [51.0]
    assert recipe_audit.suggest_bias(np.array([[1.0, 10.0], [3.0, 30.0]]), "regression").values == [2.0, 20.0]
    example = recipe_audit.suggest_bias(recipe_audit.scan(example_root, progress=False))
    assert example.values == pytest.approx([math.log(0.25)] * 4)
    with pytest.raises(ValueError, match="task must be"):
        recipe_audit.suggest_bias(files, "ranking")
    with pytest.raises(ValueError, match="no example of"):
        recipe_audit.suggest_bias(files, classes=["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="0 < p < 1"):
        recipe_audit.suggest_bias(["x", "x"], "sigmoid", positive="x")
    with pytest.raises(ValueError, match="must be numbers"):
        recipe_audit.suggest_bias(["cat", "1.0"], "regression")


def test_suggest_bias_as_a_torch_tensor(flat: Path) -> None:
    torch = pytest.importorskip("torch")
    files = recipe_audit.join_labels(recipe_audit.scan(flat, progress=False), _manifest(flat))
    bias = recipe_audit.suggest_bias(files)
    assert torch.equal(bias.tensor, torch.tensor(bias.values, dtype=torch.float32))
    # The recipe's point: with the bias set and zero weights, the loss at init is the label
    # entropy (not log(3)): the network starts out predicting the base rates.
    head = torch.nn.Linear(8, 3)
    torch.nn.init.zeros_(head.weight)
    bias.init(head)
    targets = torch.tensor([0] * 20 + [1] * 19 + [2])
    loss = torch.nn.functional.cross_entropy(head(torch.randn(40, 8)), targets)
    p = np.array([20, 19, 1]) / 40
    assert loss.item() == pytest.approx(-(p * np.log(p)).sum(), rel=1e-5)
    assert loss.item() < math.log(3) - 0.2
    with pytest.raises(ValueError, match="bias of shape"):
        bias.init(torch.nn.Linear(8, 5))


# ---------------------------------------------------------------- detection: COCO and YOLO


@pytest.fixture(scope="module")
def detection(photos: list[Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    root = tmp_path_factory.mktemp("det")
    (root / "images" / "train").mkdir(parents=True)
    for i, photo in enumerate([p for p in photos if p.suffix == ".jpg"][:6]):
        shutil.copy(photo, root / "images" / "train" / f"im{i}.jpg")
    return root, recipe_audit.scan(root / "images", progress=False)


def test_yolo(detection: tuple[Path, pl.DataFrame]) -> None:
    root, files = detection
    labels = root / "labels" / "train"
    labels.mkdir(parents=True, exist_ok=True)
    (root / "labels" / "classes.txt").write_text("cat\ndog\n")
    (labels / "im0.txt").write_text("0 0.5 0.5 0.2 0.3\n1 0.9 0.9 0.4 0.4\n")  # the second leaves the image
    (labels / "im1.txt").write_text("1 0.5 0.5 0 0.3\n7 0.5 0.5 0.1 0.1\nfoo bar\n")  # zero size, unknown class, junk
    (labels / "im2.txt").write_text("")  # annotated: no objects
    (labels / "im3.txt").write_text("1  0.1 0.1  0.3 0.1  0.3 0.4  0.1 0.4\n")  # a polygon (YOLO-seg)
    (labels / "im4.txt").write_text("0 0.25 0.25 0.5 0.5\n")
    (labels / "ghost.txt").write_text("0 0.5 0.5 0.1 0.1\n")  # no such image; im5 has no label file
    boxes = recipe_audit.read_yolo(root / "labels", files)
    size = {p: (w, h) for p, w, h in files.select("path", "width", "height").iter_rows()}
    im0, im3, im4 = (str(root / "images" / "train" / f"im{i}.jpg") for i in (0, 3, 4))
    cat = boxes.filter((pl.col("path") == im4) & (pl.col("label") == "cat")).row(0, named=True)
    w4, h4 = size[im4]
    assert (cat["x"], cat["y"], cat["w"], cat["h"]) == pytest.approx((0.0, 0.0, w4 / 2, h4 / 2))
    assert cat["area_share"] == pytest.approx(0.25) and cat["split"] == "train"
    poly = boxes.filter(pl.col("path") == im3).row(0, named=True)
    assert poly["label"] == "dog" and (poly["w"], poly["h"]) == pytest.approx((0.2 * size[im3][0], 0.3 * size[im3][1]))
    issues = box_issues(boxes, files)
    got = sorted((Path(p).name, i) for p, i in issues.select("path", "issue").iter_rows())
    assert got == [
        ("ghost", "missing_image"),
        ("im0.jpg", "outside"),
        ("im1.jpg", "malformed"),
        ("im1.jpg", "malformed"),
        ("im1.jpg", "zero_size"),
        ("im5.jpg", "no_annotation"),
    ]
    stats = box_stats(boxes)
    assert dict(stats.select("label", "boxes").iter_rows()) == {"dog": 3, "cat": 2}
    per_image = {Path(p).name: n for p, n in boxes_per_image(boxes).select("path", "boxes").iter_rows()}
    assert per_image == {"im0.jpg": 2, "im1.jpg": 1, "im2.jpg": 0, "im3.jpg": 1, "im4.jpg": 1}
    assert recipe_audit.read_boxes(root / "labels", files).equals(boxes)
    audit = recipe_audit.audit(root / "images", labels=root / "labels", progress=False)
    assert audit.boxes is not None and audit.problems()["label_issues"] == 6
    assert dict(audit.labels.select("label", "count").iter_rows()) == {"cat": 2, "dog": 3}  # readable boxes only
    assert im0 in audit.label_issues["path"].to_list()
    html = audit.to_html(root / "report.html", progress=False).read_text(encoding="utf-8")
    assert "5 annotated images: median 1 boxes per image, max 2, 1 without objects" in html
    assert '<section id="annotations">' in html and "zero_size" in html


def test_coco(detection: tuple[Path, pl.DataFrame], tmp_path: Path) -> None:
    _, files = detection
    size = {Path(p).name: (w, h) for p, w, h in files.select("path", "width", "height").iter_rows()}
    w0, h0 = size["im0.jpg"]
    w1, h1 = size["im1.jpg"]
    coco = {
        "images": [
            {"id": 1, "file_name": "train/im0.jpg", "width": w0, "height": h0},
            {"id": 2, "file_name": "train/im1.jpg", "width": h1, "height": w1},  # declared rotated
            {"id": 3, "file_name": "train/im2.jpg", "width": 1, "height": 1},
            {"id": 4, "file_name": "train/nope.jpg", "width": 10, "height": 10},
        ],
        "annotations": [
            {"image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 40], "segmentation": [[1, 2, 3, 4]]},
            {"image_id": 1, "category_id": 2, "bbox": [w0 - 10, 10, 50, 40], "iscrowd": 0},
            {"image_id": 2, "category_id": 2, "bbox": [5, 5, 0, 5]},
            {"image_id": 9, "category_id": 1, "bbox": [1, 1, 2, 2]},
            {"image_id": 4, "category_id": 3, "bbox": [1, 1, 2, 2]},
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }
    (tmp_path / "instances.json").write_text(json.dumps(coco))
    boxes = recipe_audit.read_coco(tmp_path / "instances.json", files)
    assert boxes.filter(pl.col("label") == "cat")["area_share"].item() == pytest.approx(2000 / (w0 * h0))
    empty = boxes.filter(pl.col("path").str.ends_with("im2.jpg"))
    assert empty.height == 1 and empty["x"].item() is None  # annotated image, no objects
    issues = box_issues(boxes, files)
    got = sorted((Path(p).name, i) for p, i in issues.select("path", "issue").iter_rows())
    assert got == [
        ("im0.jpg", "outside"),
        ("im1.jpg", "size_mismatch"),
        ("im1.jpg", "zero_size"),
        ("im2.jpg", "size_mismatch"),
        ("im3.jpg", "no_annotation"),
        ("im4.jpg", "no_annotation"),
        ("im5.jpg", "no_annotation"),
        ("image_id 9", "malformed"),
        ("nope.jpg", "malformed"),
        ("nope.jpg", "missing_image"),
    ]
    with pytest.raises(ValueError, match="COCO"):
        (tmp_path / "list.json").write_text("[]")
        recipe_audit.read_coco(tmp_path / "list.json", files)
    # Boxes without all four numbers or without a class are malformed, not silently no object;
    # an id given twice would count every box twice: refused.
    partial = dict(coco, annotations=[{"image_id": 1, "bbox": [1, None, 5, 5]}, {"image_id": 2, "bbox": [1, 1, 5, 5]}])
    (tmp_path / "partial.json").write_text(json.dumps(partial))
    errors = recipe_audit.read_coco(tmp_path / "partial.json", files)["error"].drop_nulls().to_list()
    assert sorted(errors) == ["annotation has no category_id", "bbox must hold 4 numbers [x, y, w, h]"]
    (tmp_path / "twice.json").write_text(json.dumps(dict(coco, images=coco["images"] + coco["images"][:1])))
    with pytest.raises(ValueError, match="id 1 appears more than once in images"):
        recipe_audit.read_coco(tmp_path / "twice.json", files)
    # With a byte-order mark first it is still COCO, to the reader and to audit's detection.
    from recipe_audit.io.boxes import annotation_kind

    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(coco).encode())
    assert annotation_kind(tmp_path / "bom.json") == "coco"
    again = recipe_audit.read_coco(tmp_path / "bom.json", files)
    same = [c for c in boxes.columns if not boxes[c].cast(pl.String).str.contains("instances.json").any()]
    assert again.select(same).equals(boxes.select(same))


def test_paths_through_parent_folders_and_rows_without_a_path(
    flat: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan of ``../flat`` names its files through ``..``: they still match the manifest (none
    did), a manifest path under a root may go up a folder, and a row without a path matches no
    file instead of crashing."""
    manifest = _manifest(flat).rename({"File_Name": "path", "Class": "label", "subset": "split"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    up = Path(os.path.relpath(flat, elsewhere))  # ../../flat0
    files = recipe_audit.scan(up, progress=False)
    assert files["path"][0].startswith("../")
    joined = recipe_audit.join_labels(files, manifest, root=up)
    assert joined["label"].null_count() == 0
    upward = manifest.with_columns(path=pl.lit("../") + pl.col("path"))  # from sub/, one folder up
    assert recipe_audit.join_labels(files, upward, root=up / "sub")["label"].null_count() == 0
    holed = manifest.with_columns(path=pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise("path"))
    assert recipe_audit.join_labels(files, holed, root=up)["label"].null_count() == 1


def test_label_stats_compares_with_a_named_split(flat: Path) -> None:
    """Files without a split are not the reference, even when they are the most."""
    files = recipe_audit.scan(flat, progress=False)
    files = files.with_columns(
        label=pl.Series(["a", "b"] * 30), split=pl.Series([None] * 40 + ["val"] * 20, dtype=pl.String)
    )
    stats = recipe_audit.label_stats(files)
    assert set(stats["reference"]) == {"val"}


def test_manifests_read_every_line_and_a_byte_order_mark(tmp_path: Path) -> None:
    """JSON Lines whose types or keys change after the first hundred lines, and files that start
    with a UTF-8 byte-order mark (as editors on Windows write them), read whole."""
    lines = [json.dumps({"path": f"im{i:03d}.jpg", "label": i % 3}) for i in range(120)]
    lines += [json.dumps({"path": f"im{i:03d}.jpg", "label": "cat", "split": "test"}) for i in range(120, 150)]
    (tmp_path / "m.jsonl").write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode())
    table = recipe_audit.read_labels(tmp_path / "m.jsonl")
    assert table.height == 150 and table.filter(pl.col("split") == "test").height == 30
    assert set(table["label"]) == {"0", "1", "2", "cat"}
    records = [{"path": "a.jpg", "label": "x"}, {"path": "b.jpg", "label": "y"}]
    (tmp_path / "m.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(records).encode())
    assert recipe_audit.read_labels(tmp_path / "m.json")["label"].to_list() == ["x", "y"]


def test_audit_reads_a_manifest_written_from_the_current_folder(
    flat: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`audit("flat0", labels=...)` with the manifest's paths written from the current folder
    (``flat0/im00.jpg``, as a script that listed the files would) joins them: the source folder
    is only the default root, dropped when no path resolves under it."""
    monkeypatch.chdir(flat.parent)
    manifest = _manifest(flat).select(path=pl.lit(f"{flat.name}/") + pl.col("File_Name"), label="Class")
    manifest.write_csv(tmp_path / "m.csv")
    audited = recipe_audit.audit(flat.name, labels=tmp_path / "m.csv", progress=False)
    assert audited.files["label"].null_count() == 0
    assert audited.label_issues.height == 0


@pytest.mark.parametrize("column", ["status", "version", "mean", "phash"])
def test_a_manifest_column_named_like_a_scan_column_is_refused(flat: Path, tmp_path: Path, column: str) -> None:
    """Carried through, a `status` of "approved" made every file unreadable and a `version`
    stopped an incremental run from reading changed files again."""
    paths = sorted(str(p) for p in flat.rglob("*.png"))[:3]
    manifest = tmp_path / "m.csv"
    pl.DataFrame({"path": paths, "label": "x", column: "approved"}).write_csv(manifest)
    with pytest.raises(ValueError, match=rf"\['{column}'\].*rename them"):
        recipe_audit.scan(recipe_audit.Manifest(manifest), progress=False)
    pl.DataFrame({"path": paths, "label": "x", f"review_{column}": "approved"}).write_csv(manifest)
    files = recipe_audit.scan(recipe_audit.Manifest(manifest), progress=False)
    assert files["status"].to_list() == ["ok"] * 3 and files[f"review_{column}"].to_list() == ["approved"] * 3
