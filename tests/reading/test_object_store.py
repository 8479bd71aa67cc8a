"""Object-store sources, manifests and resumable Parquet runs, against a real S3 server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

import recipe_audit
from recipe_audit import Manifest
from recipe_audit.io.dataset_folder import LOCK

from tests.support.trees import hard_linked_tree

COMPARED = [
    "status",
    "format",
    "width",
    "height",
    "content_hash",
    "ahash",
    "dhash",
    "phash",
    "mean",
    "blur",
    "label",
    "split",
    "error",
]


@pytest.fixture(scope="module")
def lake(s3_server, example_root: Path) -> str:
    """The built-in example uploaded to s3://lake/data/ with the same relative keys."""
    client = s3_server.client()
    client.create_bucket(Bucket="lake")
    for path in sorted(example_root.rglob("*")):
        if path.is_file():
            client.upload_file(str(path), "lake", f"data/{path.relative_to(example_root).as_posix()}")
    return "s3://lake/data"


def _relative(frame: pl.DataFrame, prefix: str) -> pl.DataFrame:
    return frame.with_columns(pl.col("path").str.strip_prefix(prefix.rstrip("/") + "/")).sort("path")


def test_bucket_scan_equals_folder_scan(lake: str, s3_server, example_root: Path) -> None:
    remote = recipe_audit.scan(lake, storage_options=s3_server.options, progress=False)
    local = recipe_audit.scan(example_root, progress=False)
    assert remote.height == local.height == 71
    assert remote["path"][0].startswith("s3://lake/data/")
    assert (
        _relative(remote, lake)
        .select("path", *COMPARED)
        .equals(_relative(local, str(example_root)).select("path", *COMPARED))
    )
    assert remote["version"].null_count() == 0  # ETags, for incremental runs


def test_credentials_and_endpoint_from_the_environment(lake: str, s3_server, example_root: Path, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_REGION", s3_server.region)
    files = recipe_audit.scan(lake + "/train/", progress=False)
    local = recipe_audit.scan(example_root / "train", progress=False)  # labels relative to the root, as locally
    assert (
        _relative(files, lake + "/train")
        .select("path", *COMPARED)
        .equals(_relative(local, str(example_root / "train")).select("path", *COMPARED))
    )


def test_wrong_secret_is_a_clear_error_that_does_not_show_it(lake: str, s3_server) -> None:
    secret = "not-the-secret-" + "x" * 12
    with pytest.raises(PermissionError) as caught:
        recipe_audit.scan(lake, storage_options={**s3_server.options, "secret_access_key": secret}, progress=False)
    assert "s3://lake" in str(caught.value) and secret not in str(caught.value)


def test_misuse_gets_clear_errors(s3_server, example_root: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such bucket"):
        recipe_audit.scan("s3://no-such-bucket/x", storage_options=s3_server.options, progress=False)
    with pytest.raises(ValueError, match="names no bucket"):
        recipe_audit.scan("s3://", storage_options=s3_server.options, progress=False)
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        recipe_audit.scan(example_root, out=tmp_path / "a-file", progress=False)
    (tmp_path / "m.csv").write_text("foo,bar\n1,2\n")
    with pytest.raises(ValueError, match="no path column"):
        recipe_audit.scan(Manifest(tmp_path / "m.csv"), progress=False)
    (tmp_path / "folders.csv").write_text(f"path\n{example_root / 'train'}\n{tmp_path / 'a-file'}\n")
    listed = recipe_audit.scan(Manifest(tmp_path / "folders.csv"), progress=False)
    by_path = {p: (st, e) for p, st, e in listed.select("path", "status", "error").iter_rows()}
    assert by_path[str(example_root / "train")] == ("unreadable", "listed path is a directory, not a file")
    assert by_path[str(tmp_path / "a-file")][0] == "unsupported"
    (tmp_path / "empty-folder").mkdir()
    empty = recipe_audit.scan(tmp_path / "empty-folder", out=tmp_path / "run", progress=False)
    assert (empty.rows, empty.shards, empty.files.collect().height) == (0, [], 0)


def test_manifest_lists_exactly_its_files(lake: str, s3_server, example_root: Path, tmp_path: Path) -> None:
    local = sorted(str(p) for p in example_root.rglob("*.jpg"))[:3]
    in_bucket = (
        f"{lake}/" + sorted(p for p in example_root.rglob("val/*/*.jpg"))[0].relative_to(example_root).as_posix()
    )
    manifest = pl.DataFrame(
        {
            "path": [*local, str(example_root / "train" / "gone.jpg"), in_bucket, f"{lake}/nope.jpg"],
            "label": ["a", "b", "c", "d", "e", "f"],
            "split": ["train", "train", "val", "test", "val", "test"],
            "source_id": [10, 11, 12, 13, 14, 15],
        }
    )
    manifest.write_parquet(tmp_path / "manifest.parquet")
    files = recipe_audit.scan(
        Manifest(tmp_path / "manifest.parquet"), storage_options=s3_server.options, progress=False
    )
    assert files.height == 6 and files["path"].is_sorted()
    by_path = {r["path"]: r for r in files.iter_rows(named=True)}
    assert by_path[str(example_root / "train" / "gone.jpg")]["status"] == "missing"
    assert by_path[f"{lake}/nope.jpg"]["status"] == "missing"
    assert by_path[in_bucket]["status"] == "ok"
    assert all(by_path[p]["status"] == "ok" for p in local)
    assert {r["path"]: (r["label"], r["split"], r["source_id"]) for r in files.iter_rows(named=True)} == {
        p: (lab, spl, sid) for p, lab, spl, sid in manifest.iter_rows()
    }
    assert set(files["status"]) <= set(recipe_audit.STATUSES)


def test_relative_manifest_paths_join_the_manifest_folder(example_root: Path, tmp_path: Path) -> None:
    rel = sorted(p.relative_to(example_root).as_posix() for p in example_root.rglob("*.jpg"))[:4]
    (example_root.parent / "m.csv").write_text("file,class\n" + "".join(f"{p},x\n" for p in rel))
    files = recipe_audit.scan(Manifest(example_root.parent / "m.csv", root=str(example_root)), progress=False)
    assert files["path"].to_list() == [str(example_root / p) for p in rel]
    assert set(files["label"]) == {"x"} and set(files["status"]) == {"ok"}


def test_run_to_a_bucket_prefix_resumes_and_equals_the_frame(lake: str, s3_server, example_root: Path) -> None:
    out = "s3://lake/runs/example"
    first = recipe_audit.scan(example_root, out=out, shard_size=20, storage_options=s3_server.options, progress=False)
    assert (first.rows, len(first.shards), first.shards_written, first.rows_read) == (71, 4, 4, 71)
    again = recipe_audit.scan(example_root, out=out, shard_size=20, storage_options=s3_server.options, progress=False)
    assert (again.shards_written, again.rows_read) == (0, 0)
    local = recipe_audit.scan(example_root, progress=False)
    assert again.files.collect().select(local.columns).equals(local)
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket="lake", Prefix="runs/example/")["Contents"]]
    assert sorted(k.rsplit("/", 1)[1] for k in keys) == sorted(
        ["_run.json"] + [s.rsplit("/", 1)[1] for s in again.shards]
    )


def _bucket_of_photos(s3_server, bucket: str, example_root: Path, count: int):
    """A new bucket holding the first `count` non-empty JPEGs of the example under ``imgs/``."""
    client = s3_server.client()
    client.create_bucket(Bucket=bucket)
    paths = sorted(p for p in example_root.rglob("*.jpg") if p.stat().st_size > 0)[:count]
    for p in paths:
        client.upload_file(str(p), bucket, f"imgs/{p.name}")
    return client, paths


def test_reaudit_rereads_only_changed_objects(s3_server, example_root: Path, tmp_path: Path) -> None:
    client, paths = _bucket_of_photos(s3_server, "changing", example_root, 30)
    out = tmp_path / "run"
    first = recipe_audit.scan(
        "s3://changing/imgs", out=out, shard_size=8, storage_options=s3_server.options, progress=False
    )
    client.upload_file(str(paths[0]), "changing", f"imgs/{paths[5].name}")  # one object replaced
    second = recipe_audit.scan(
        "s3://changing/imgs", out=out, shard_size=8, storage_options=s3_server.options, progress=False
    )
    assert (first.rows_read, second.rows_read, second.rows_reused, second.shards_written) == (30, 1, 7, 1)
    rows = second.files.collect()
    changed = rows.filter(pl.col("path") == f"s3://changing/imgs/{paths[5].name}")
    assert (
        changed["content_hash"][0]
        == rows.filter(pl.col("path") == f"s3://changing/imgs/{paths[0].name}")["content_hash"][0]
    )
    assert sorted(n for n in os.listdir(out) if n != LOCK) == sorted(
        ["_run.json"] + [Path(s).name for s in second.shards]
    )


def test_a_manifest_of_uris_is_versioned_by_head_requests(s3_server, example_root: Path, tmp_path: Path) -> None:
    client, paths = _bucket_of_photos(s3_server, "listed", example_root, 12)
    uris = [f"s3://listed/imgs/{p.name}" for p in paths] + ["s3://listed/imgs/not-there.jpg"]
    pl.DataFrame({"path": uris, "label": "cat"}).write_parquet(tmp_path / "m.parquet")
    manifest, out = Manifest(tmp_path / "m.parquet"), tmp_path / "run"
    first = recipe_audit.scan(manifest, out=out, shard_size=5, storage_options=s3_server.options, progress=False)
    assert (first.rows, first.rows_read) == (13, 12), "the absent object is known missing from its HEAD, not read"
    again = recipe_audit.scan(manifest, out=out, shard_size=5, storage_options=s3_server.options, progress=False)
    assert (again.shards_written, again.rows_read) == (0, 0)
    client.upload_file(str(paths[0]), "listed", f"imgs/{paths[7].name}")  # one object replaced
    third = recipe_audit.scan(manifest, out=out, shard_size=5, storage_options=s3_server.options, progress=False)
    assert (third.shards_written, third.rows_read, third.rows_reused) == (1, 1, 4)
    rows = third.files.collect()
    assert rows.filter(pl.col("path") == uris[-1])["status"].to_list() == ["missing"]
    assert (
        rows.filter(pl.col("path") == uris[7])["content_hash"].to_list()
        == rows.filter(pl.col("path") == uris[0])["content_hash"].to_list()
    )
    assert rows["version"].null_count() == 1 and rows.height == 13


def test_a_manifest_etag_column_versions_the_objects_without_head_requests(
    s3_server, example_root: Path, tmp_path: Path
) -> None:
    _, paths = _bucket_of_photos(s3_server, "inventory", example_root, 6)
    uris = [f"s3://inventory/imgs/{p.name}" for p in paths]
    tags = [f"inventory-{i}" for i in range(6)]  # not the server's ETags: a HEAD would replace them
    manifest, out = Manifest(tmp_path / "m.parquet"), tmp_path / "run"
    pl.DataFrame({"path": uris, "e_tag": tags}).write_parquet(manifest.path)
    first = recipe_audit.scan(manifest, out=out, shard_size=4, storage_options=s3_server.options, progress=False)
    rows = first.files.collect().sort("path")
    assert rows["version"].to_list() == [t for _, t in sorted(zip(uris, tags))], "versions come from the column"
    assert rows["status"].to_list() == ["ok"] * 6 and first.rows_read == 6
    tags[2] = "inventory-2-changed"  # the next inventory says one object changed
    pl.DataFrame({"path": uris, "e_tag": tags}).write_parquet(manifest.path)
    again = recipe_audit.scan(manifest, out=out, shard_size=4, storage_options=s3_server.options, progress=False)
    assert (again.rows_read, again.rows_reused, again.shards_written) == (1, 3, 1)


def test_a_manifest_etag_column_of_another_type_is_a_clear_error(example_root: Path, tmp_path: Path) -> None:
    paths = [str(p) for p in sorted(example_root.rglob("*.jpg"))[:2]]
    pl.DataFrame({"path": paths, "ETag": [[1], [2]]}).write_parquet(tmp_path / "m.parquet")
    with pytest.raises(ValueError, match="'ETag' column must hold ETags"):
        recipe_audit.scan(Manifest(tmp_path / "m.parquet"), progress=False)


def test_a_killed_run_resumes_where_it_stopped(photos: list[Path], tmp_path: Path) -> None:
    tree = hard_linked_tree(photos, tmp_path / "tree", 6000)
    out = tmp_path / "run"
    code = f"import recipe_audit; recipe_audit.scan({str(tree)!r}, out={str(out)!r}, shard_size=250, progress=False)"
    child = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 120
    while not (out.is_dir() and len(list(out.glob("part-*.parquet"))) >= 3):
        assert child.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    done_before = len(list(out.glob("part-*.parquet")))
    resumed = recipe_audit.scan(tree, out=out, shard_size=250, progress=False)
    assert resumed.shards_written == 24 - done_before and len(resumed.shards) == 24
    assert (
        resumed.files.collect()
        .select("path", "status", "phash")
        .equals(recipe_audit.scan(tree, progress=False).select("path", "status", "phash"))
    )
    assert sorted(p.name for p in out.iterdir() if p.name != LOCK) == sorted(
        ["_run.json"] + [Path(s).name for s in resumed.shards]
    )


def test_cli_dataset_and_manifest(example_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from recipe_audit.cli import main

    assert main(["scan", str(example_root), "--dataset", str(tmp_path / "ds"), "--shard-size", "30"]) == 0
    assert "3 shards written, 71 files read" in capsys.readouterr().out
    assert main(["scan", str(example_root), "--dataset", str(tmp_path / "ds"), "--shard-size", "30"]) == 0
    assert "0 shards written, 0 files read" in capsys.readouterr().out
    jpgs = sorted(p.relative_to(example_root).as_posix() for p in example_root.rglob("train/*/*.jpg"))[:5]
    (tmp_path / "m.csv").write_text(
        "path,label,split\n"
        + "".join(f"{example_root / p},cat,train\n" for p in jpgs)
        + f"{example_root}/train/none.jpg,dog,train\n"
    )
    assert main(["audit", "--manifest", str(tmp_path / "m.csv"), "--fail-on", "corrupt"]) == 1
    out = capsys.readouterr()
    assert "6 files" in out.out and "corrupt (1)" in out.err
    assert main(["scan", str(example_root), "--manifest", str(tmp_path / "m.csv")]) == 2


def test_a_dataset_inside_the_prefix_it_scans_leaves_itself_out(s3_server, example_root: Path) -> None:
    _bucket_of_photos(s3_server, "self-scan", example_root, 4)
    runs = [
        recipe_audit.scan(
            "s3://self-scan/imgs", out="s3://self-scan/imgs/audit", shard_size=2,
            storage_options=s3_server.options, progress=False,
        )
        for _ in range(3)
    ]  # fmt: skip
    assert [r.rows for r in runs] == [4, 4, 4] and runs[-1].shards_written == 0
