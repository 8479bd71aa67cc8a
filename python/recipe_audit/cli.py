"""The `recipe-audit` command.

recipe-audit example [DIR]              build the built-in example dataset and scan it
recipe-audit scan DIR [--out F.parquet] scan a folder, print a summary, optionally write the frame
recipe-audit duplicates DIR [--max-distance N] [--flips] [--against INDEX|DIR] [--save-index F]
                            [--out F.parquet]
recipe-audit leaks DIR [--max-distance N] [--out F.parquet]
recipe-audit audit DIR [--labels FILE] [--html report.html] [--out DIR] [--fail-on leaks,corrupt,...]
                       [--threshold sharpness_max=0.05 ...] [--pred-probs probs.parquet]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
import traceback
from pathlib import Path

import polars as pl

import recipe_audit.distributed as distributed
import recipe_audit.io.atomic as atomic
from recipe_audit.analysis.label_errors import read_pred_probs
from recipe_audit.analysis.outliers import OutlierThresholds
from recipe_audit.auditing.problems import PROBLEMS
from recipe_audit.auditing.run import audit
from recipe_audit.auditing.summary import scan_summary
from recipe_audit.dedup.duplicates import find_duplicates
from recipe_audit.dedup.index import DuplicateIndex
from recipe_audit.dedup.leaks import find_leaks
from recipe_audit.dedup.rule import SEARCH_COLUMNS
from recipe_audit.examples import make_example
from recipe_audit.io.dataset_folder import DatasetBusyError
from recipe_audit.io.scan import scan
from recipe_audit.io.sources import Manifest, is_uri

# What the summary reads from a dataset: every column a duplicate search may read (the same
# tuple, so a new one cannot be left behind) and the verdict columns.
_SUMMARY_COLUMNS = (*SEARCH_COLUMNS, "status", "format", "error", "ext_mismatch")


def _missing(directory: str) -> bool:
    """True (after saying so on stderr) when the directory to audit does not exist."""
    if is_uri(directory) or Path(directory).exists():
        return False
    print(f"recipe-audit: {directory!r} does not exist", file=sys.stderr)
    return True


def _source(args: argparse.Namespace) -> str | Manifest | None:
    """The positional source, or `--manifest`; None (after saying why) when neither is usable."""
    if getattr(args, "manifest", None):
        if args.directory:
            print("recipe-audit: give either a SOURCE or --manifest, not both", file=sys.stderr)
            return None
        if not Path(args.manifest).is_file():
            print(f"recipe-audit: --manifest {args.manifest!r} is not a file", file=sys.stderr)
            return None
        return Manifest(args.manifest)
    if not args.directory:
        print("recipe-audit: give a folder, an s3:// URI or --manifest FILE", file=sys.stderr)
        return None
    return None if _missing(args.directory) else args.directory


def _run_dataset(source: str | Manifest, args: argparse.Namespace) -> int:
    if args.shard_size < 1:
        print("recipe-audit: --shard-size must be at least 1", file=sys.stderr)
        return 2
    engine = None
    if args.engine == "ray":
        engine = _ray_engine(args.address)
        if engine is None:
            return 2
    started = time.perf_counter()
    try:
        run = scan(source, threads=args.threads, out=args.dataset, shard_size=args.shard_size, engine=engine)
    except DatasetBusyError as error:
        print(f"recipe-audit: {error}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    # Only what the summary reads: the pixel statistics stay in the shards.
    names = run.files.collect_schema().names()
    files = run.files.select([c for c in _SUMMARY_COLUMNS if c in names]).collect()
    dups = None
    if engine is not None:
        dups = distributed.find_duplicates(files, engine)
    print(scan_summary(files, seconds, dups))
    print(f"\n{run.summary()}")
    return 0


def _run_scan(directory: str | Manifest, out: str | None, threads: int | None) -> int:
    started = time.perf_counter()
    files = scan(directory, threads=threads)
    print(scan_summary(files, time.perf_counter() - started))
    if out:
        atomic.write_parquet(files, out)
        print(f"\nwrote {files.height} rows to {out}")
    return 0


def _reference(against: str) -> DuplicateIndex | None:
    """The reference set for --against: a saved index file, or a folder scanned now."""
    if Path(against).is_file():
        try:
            return DuplicateIndex.load(against)
        except ValueError as error:
            print(f"recipe-audit: {error}", file=sys.stderr)
            return None
    if _missing(against):
        return None
    return DuplicateIndex(scan(against))


def _run_duplicates(args: argparse.Namespace, leaks_only: bool) -> int:
    if _missing(args.directory):
        return 2
    if args.max_distance is not None and not 0 <= args.max_distance <= 64:
        print("recipe-audit: --max-distance must be between 0 and 64", file=sys.stderr)
        return 2
    if args.engine == "ray":
        return _run_duplicates_on_ray(args, leaks_only)
    reference = None
    if getattr(args, "against", None):
        reference = _reference(args.against)
        if reference is None:
            return 2
    files = scan(args.directory)
    if getattr(args, "save_index", None):
        DuplicateIndex(files).save(args.save_index)
        print(f"wrote the index of {files.height} files to {args.save_index}")
    # None keeps the default window rule (which finds mirror images); --flips matters only with
    # --max-distance, the single-hash search.
    flips = True if getattr(args, "flips", False) else None
    if reference is not None:
        frame = find_duplicates(files, against=reference, max_distance=args.max_distance, flips=flips)
        what = f"files with a copy among the {len(reference)} reference files"
    else:
        dups = find_duplicates(files, max_distance=args.max_distance, flips=flips)
        frame = find_leaks(files, dups) if leaks_only else dups
        what = "files outside train with a copy in train" if leaks_only else "files in duplicate groups"
    return _print_frame(frame, what, args.out)


def _run_duplicates_on_ray(args: argparse.Namespace, leaks_only: bool) -> int:
    """The scan's shards and the near-duplicate join as Ray tasks; the rows land in --dataset."""
    unsupported = [
        flag
        for flag, given in (
            ("--flips", args.flips),
            ("--against", getattr(args, "against", None)),
            ("--save-index", getattr(args, "save_index", None)),
        )
        if given
    ]
    if unsupported or not args.dataset:
        print(
            "recipe-audit: --engine ray needs --dataset DIR_OR_PREFIX (where the shards are written)"
            + (f" and does not take {', '.join(unsupported)} yet" if unsupported else ""),
            file=sys.stderr,
        )
        return 2
    if args.max_distance is not None and args.max_distance > 63:
        print("recipe-audit: --engine ray searches up to --max-distance 63", file=sys.stderr)
        return 2
    engine = _ray_engine(args.address)
    if engine is None:
        return 2
    try:
        run = scan(args.directory, out=args.dataset, engine=engine)
    except DatasetBusyError as error:
        print(f"recipe-audit: {error}", file=sys.stderr)
        return 2
    dups = distributed.find_duplicates(run.files, engine, max_distance=args.max_distance)
    join = engine.last_join
    if join is None:
        print(f"{run.summary()}\nnear-duplicate search: the window rule, as tiles of pictures on the cluster\n")
    else:
        print(
            f"{run.summary()}\nnear-duplicate join: {join.layout.describe()}, {join.keys:,} keys in "
            f"{join.reduce_tasks} reduce tasks, {join.hot_keys.height} hot keys\n"
        )
    if leaks_only:
        return _print_frame(
            distributed.find_leaks(run.files, engine, dups), "files outside train with a copy in train", args.out
        )
    return _print_frame(dups, "files in duplicate groups", args.out)


def _ray_engine(address: str) -> distributed.RayEngine | None:
    """The cluster, or None after saying on stderr why not (Ray not installed, nothing at the
    address, a cluster that cannot run the tasks): misuse, not a failed run."""
    try:
        return distributed.RayEngine(address=address)
    except (ImportError, ConnectionError, ValueError) as error:
        print(f"recipe-audit: {error}", file=sys.stderr)
        return None


def _print_frame(frame: pl.DataFrame, what: str, out: str | None) -> int:
    with pl.Config(tbl_rows=50, fmt_str_lengths=80, tbl_width_chars=160):
        print(f"{frame.height} row{'' if frame.height == 1 else 's'}: {what}")
        if frame.height:
            print(frame)
    if out:
        atomic.write_parquet(frame, out)
        print(f"wrote {frame.height} rows to {out}")
    return 0


def _run_example(directory: str | None, out: str | None) -> int:
    base = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="recipe_audit_example_"))
    root = make_example(base)
    print(f"built-in example written to {root}\n")
    return _run_scan(str(root), out, None)


def _add_audit_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = commands.add_parser(
        "audit",
        help="the whole audit: summary, HTML report, Parquet frames; exit 1 on --fail-on problems",
        description="Scan DIR, find broken files, duplicates, leaks, label conflicts, label stats and outliers.",
    )
    cmd.add_argument("directory", nargs="?", help="a folder or an object-store URI (s3://bucket/prefix)")
    cmd.add_argument("--manifest", help="audit exactly the files a manifest lists, with its labels and splits")
    cmd.add_argument(
        "--labels", help="a manifest (CSV, TSV, Parquet, JSON Lines), a COCO JSON file or a YOLO label folder"
    )
    cmd.add_argument("--html", help="write the self-contained HTML report to this file")
    cmd.add_argument("--out", help="write every frame as Parquet (and summary.txt) into this folder")
    cmd.add_argument(
        "--fail-on",
        default="",
        help="exit 1 when any of these is found (comma-separated; 'any' for all): " + ",".join(PROBLEMS),
    )
    cmd.add_argument(
        "--max-distance",
        type=int,
        default=None,
        help="pHash bits: use the single-hash search (default: the window rule)",
    )
    cmd.add_argument("--threads", type=int, default=None, help="scan threads (default: all cores)")
    cmd.add_argument(
        "--pred-probs",
        metavar="FILE",
        help="out-of-sample predicted probabilities (Parquet/CSV/JSONL: a 'path' column and one column per class) "
        "to find wrong labels",
    )
    cmd.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change an outlier threshold (repeatable), e.g. --threshold sharpness_max=0.05; names: "
        + ", ".join(f.name for f in dataclasses.fields(OutlierThresholds)),
    )


def _run_audit(args: argparse.Namespace) -> int:
    """`recipe-audit audit`: 0 clean (or nothing to gate on), 1 a --fail-on problem found, 2 misuse."""
    source = _source(args)
    if source is None:
        return 2
    if args.labels and not Path(args.labels).exists():
        print(f"recipe-audit: --labels {args.labels!r} does not exist", file=sys.stderr)
        return 2
    gate = [name.strip() for name in args.fail_on.split(",") if name.strip()]
    gate = list(PROBLEMS) if "any" in gate else gate  # "any" with other names still means every problem
    unknown = [name for name in gate if name not in PROBLEMS]
    if unknown:
        print(
            f"recipe-audit: unknown --fail-on {','.join(unknown)}; choose from any,{','.join(PROBLEMS)}",
            file=sys.stderr,
        )
        return 2
    if (args.threads is not None and args.threads < 1) or (
        args.max_distance is not None and not 0 <= args.max_distance <= 64
    ):
        print("recipe-audit: --threads must be at least 1 and --max-distance between 0 and 64", file=sys.stderr)
        return 2
    try:
        thresholds = OutlierThresholds.from_strings(args.threshold)
    except ValueError as exc:
        print(f"recipe-audit: {exc}", file=sys.stderr)
        return 2
    try:
        probs = read_pred_probs(args.pred_probs) if args.pred_probs else None
    except (OSError, ValueError) as exc:
        print(f"recipe-audit: --pred-probs: {exc}", file=sys.stderr)
        return 2
    try:
        result = audit(
            source,
            labels=args.labels,
            max_distance=args.max_distance,
            threads=args.threads,
            thresholds=thresholds,
            pred_probs=probs,
        )
    except ValueError as exc:
        if probs is None:
            raise
        print(f"recipe-audit: {exc}", file=sys.stderr)
        return 2
    print(result.summary())
    if args.out:
        written = result.write(args.out)
        print(f"\nwrote {len(written)} files to {args.out}")
    if args.html:
        print(f"wrote the report to {result.to_html(args.html)}")
    found = {name: count for name, count in result.problems().items() if name in gate and count}
    if found:
        print(
            "recipe-audit: failing on " + ", ".join(f"{name} ({count})" for name, count in found.items()),
            file=sys.stderr,
        )
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recipe-audit", description="Become one with the data, fast.")
    commands = parser.add_subparsers(dest="command", required=True)
    scan_cmd = commands.add_parser("scan", help="scan a folder of images and summarise what is wrong")
    scan_cmd.add_argument("directory", nargs="?", help="a folder, a file, or an object-store URI (s3://bucket/prefix)")
    scan_cmd.add_argument("--manifest", help="audit exactly the files a manifest lists (Parquet, CSV, JSON Lines)")
    scan_cmd.add_argument("--out", help="write the per-file frame to this Parquet file")
    scan_cmd.add_argument(
        "--dataset",
        metavar="DIR_OR_PREFIX",
        help="stream the rows to a sharded Parquet dataset here instead (resumable, incremental)",
    )
    scan_cmd.add_argument("--shard-size", type=int, default=50_000, help="files per shard with --dataset")
    scan_cmd.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="where the shards of --dataset run (ray: one task per shard)",
    )
    scan_cmd.add_argument("--address", default="auto", help="the Ray cluster with --engine ray (default: auto)")
    scan_cmd.add_argument("--threads", type=int, default=None, help="worker threads (default: all cores)")
    dup_cmd = commands.add_parser("duplicates", help="exact and near-duplicate groups")
    dup_cmd.add_argument("directory")
    dup_cmd.add_argument(
        "--max-distance",
        type=int,
        default=None,
        help="pHash bits: use the single-hash search (default: the window rule)",
    )
    dup_cmd.add_argument("--out", help="write the groups to this Parquet file")
    dup_cmd.add_argument(
        "--flips",
        action="store_true",
        help="with --max-distance, also match mirror images (the default rule always does)",
    )
    dup_cmd.add_argument(
        "--against",
        metavar="INDEX_OR_DIR",
        help="report only copies of these reference files (a saved index or a folder)",
    )
    dup_cmd.add_argument("--save-index", metavar="F", help="save DIR's hashes as an index file for later --against")
    leaks_cmd = commands.add_parser("leaks", help="val/test files with a duplicate in train")
    leaks_cmd.add_argument("directory")
    leaks_cmd.add_argument(
        "--max-distance",
        type=int,
        default=None,
        help="pHash bits: use the single-hash search (default: the window rule)",
    )
    leaks_cmd.add_argument("--out", help="write the leaks to this Parquet file")
    leaks_cmd.add_argument(
        "--flips",
        action="store_true",
        help="with --max-distance, also match mirror images (the default rule always does)",
    )
    for cmd in (dup_cmd, leaks_cmd):
        cmd.add_argument(
            "--engine",
            choices=["local", "ray"],
            default="local",
            help="ray: the scan's shards and the near-duplicate join run as Ray tasks (needs --dataset)",
        )
        cmd.add_argument("--address", default="auto", help="the Ray cluster with --engine ray (default: auto)")
        cmd.add_argument("--dataset", metavar="DIR_OR_PREFIX", help="with --engine ray: where the scan's shards go")
    _add_audit_parser(commands)
    example_cmd = commands.add_parser("example", help="build the built-in example dataset and scan it")
    example_cmd.add_argument("directory", nargs="?", help="where to write it (default: a new temporary folder)")
    example_cmd.add_argument("--out", help="write the per-file frame to this Parquet file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `recipe-audit`; returns the exit status (0 success, 1 a `--fail-on` problem
    found, 2 misuse, 3 the run failed on an input it could not read or on a bug (the error and its
    traceback on stderr), 130 interrupted by Ctrl-C: every output is written whole or not at all,
    so what the interrupt stopped is absent, never half written)."""
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("\nrecipe-audit: interrupted; no output is half written", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    # Any failure must not read as exit 1, "a problem found"; a Rust panic (pyo3's
    # PanicException) derives from BaseException, not Exception.
    except BaseException as error:
        traceback.print_exc()
        print(f"recipe-audit: failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 3


def _output_problem(args: argparse.Namespace) -> str | None:
    """Why an output option cannot be written, found before any work is done (misuse, exit 2)."""
    folder_options = {"--dataset": getattr(args, "dataset", None)}
    file_options = {"--save-index": getattr(args, "save_index", None), "--html": getattr(args, "html", None)}
    # `audit --out` names a folder of frames; everywhere else --out is one Parquet file.
    (folder_options if args.command == "audit" else file_options)["--out"] = getattr(args, "out", None)
    for option, value in folder_options.items():
        if value and not is_uri(value) and Path(value).is_file():
            return f"{option} {value!r} is a file; it names a folder"
        if value and not is_uri(value) and (problem := _unwritable(Path(value).absolute())):
            return f"{option} {value!r}: {problem}"
    # Folders the run makes itself may hold its files (`audit --out R --html R/report.html`).
    made = [v for v in (*folder_options.values(), args.directory if args.command == "example" else None) if v]
    made_paths = [Path(v).absolute() for v in made if not is_uri(v)]
    for option, value in file_options.items():
        if not value:
            continue
        if Path(value).is_dir():
            return f"{option} {value!r} is a folder; it names a file"
        parent = Path(value).absolute().parent
        if not parent.is_dir() and not any(parent == m or m in parent.parents for m in made_paths):
            return f"{option} {value!r}: the folder {str(parent)!r} does not exist"
        if not is_uri(value) and (problem := _unwritable(parent)):
            return f"{option} {value!r}: {problem}"
    if args.command == "scan" and args.dataset and args.out:
        return "--out and --dataset: a --dataset run writes its frame as the dataset's shards; drop --out"
    return None


def _unwritable(folder: Path) -> str | None:
    """Why nothing can be written in `folder` (or in the nearest folder above it that exists, where
    the run would make it), found by trying: a read-only mount or a folder without permission."""
    existing = next((p for p in (folder, *folder.parents) if p.exists() or p.is_symlink()), None)
    if existing is None:
        return None
    if not existing.is_dir():
        return f"{str(existing)!r} is not a folder"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        return f"cannot write in {str(existing)!r} ({error.strerror or error})"
    return None


def _dispatch(args: argparse.Namespace) -> int:
    problem = _output_problem(args)
    if problem is not None:
        print(f"recipe-audit: {problem}", file=sys.stderr)
        return 2
    if args.command == "scan":
        if args.threads is not None and args.threads < 1:
            print("recipe-audit: --threads must be at least 1", file=sys.stderr)
            return 2
        source = _source(args)
        if source is None:
            return 2
        if args.dataset:
            return _run_dataset(source, args)
        if args.engine != "local":
            print("recipe-audit: --engine needs --dataset (the shards are what runs on the cluster)", file=sys.stderr)
            return 2
        return _run_scan(source, args.out, args.threads)
    if args.command == "audit":
        return _run_audit(args)
    if args.command in ("duplicates", "leaks"):
        return _run_duplicates(args, args.command == "leaks")
    return _run_example(args.directory, args.out)


if __name__ == "__main__":
    sys.exit(main())
