//! Python bindings only: argument conversion, GIL release, and columns out. The work lives in the
//! pure-Rust modules below, each tested with `cargo test`.

pub mod confident;
pub mod decode;
pub mod neardup;
pub mod picture;
pub mod progress;
pub mod ranking;
pub mod scan;
pub mod walk;
pub mod windowmatch;

use decode::outcome::Limits;
use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyDict, PyTuple};
use rayon::prelude::*;
use scan::Row;
use std::path::PathBuf;

/// Files per batch between checks for Ctrl-C and progress redraws.
const BATCH: usize = 256;

/// The scan's defaults, declared once: the signatures below use them, and `recipe_audit.schema`
/// reads them from the module (`DEFAULT_MAX_PIXELS`, ...).
const DEFAULT_MAX_PIXELS: u64 = 100_000_000;
const DEFAULT_MAX_BYTES: u64 = 1 << 30;
const DEFAULT_MIN_DECODE_SIDE: u32 = 64;

/// The scan frame's columns and their Polars types, in order: the one declaration of the frame's
/// contract. `rows_to_columns` builds exactly these (checked on every batch), and
/// `recipe_audit.schema.SCAN_SCHEMA` is built from the module's `SCAN_COLUMNS`.
const SCAN_COLUMNS: [(&str, &str); 42] = [
    ("path", "String"),
    ("bytes", "UInt64"),
    ("format", "String"),
    ("ext_mismatch", "Boolean"),
    ("status", "String"),
    ("error", "String"),
    ("width", "UInt32"),
    ("height", "UInt32"),
    ("channels", "UInt8"),
    ("content_hash", "String"),
    ("ahash", "UInt64"),
    ("dhash", "UInt64"),
    ("phash", "UInt64"),
    ("phash_mirror", "UInt64"),
    ("thumb", "Binary"),
    ("thumb_signs", "Binary"),
    ("mean", "Float64"),
    ("std", "Float64"),
    ("dark_frac", "Float64"),
    ("bright_frac", "Float64"),
    ("luma_p01", "UInt8"),
    ("luma_p99", "UInt8"),
    ("luma_p999", "UInt8"),
    ("blur", "Float64"),
    ("sharpness", "Float64"),
    ("sharpness_fine", "Float64"),
    ("sharpness_least", "Float64"),
    ("sharpness_gap", "Float64"),
    ("edge_balance", "Float64"),
    ("colorfulness", "Float64"),
    ("chroma_rg", "Float64"),
    ("chroma_yb", "Float64"),
    ("content_width", "UInt32"),
    ("content_height", "UInt32"),
    ("entropy", "Float64"),
    ("clip_edges", "Float64"),
    ("clip_edges_min", "Float64"),
    ("clip_edge_depth", "Float64"),
    ("row_coherence", "Float64"),
    ("aspect", "Float64"),
    ("label", "String"),
    ("split", "String"),
];

fn rows_to_columns<'py>(py: Python<'py>, rows: &[Row]) -> PyResult<Bound<'py, PyDict>> {
    let columns = PyDict::new(py);
    macro_rules! column {
        ($name:literal, $f:expr) => {
            columns.set_item($name, rows.iter().map($f).collect::<Vec<_>>())?
        };
    }
    column!("path", |r| r.path.as_str());
    // Never-null numeric columns travel as NumPy arrays: one buffer, no per-row Python objects.
    let sizes: Vec<u64> = rows.iter().map(|r| r.bytes).collect();
    columns.set_item("bytes", PyArray1::from_vec(py, sizes))?;
    column!("format", |r| r.format.name());
    column!("ext_mismatch", |r| r.ext_mismatch);
    column!("status", |r| r.status.name());
    column!("error", |r| r.error.as_deref());
    column!("width", |r| r.header.map(|h| h.width));
    column!("height", |r| r.header.map(|h| h.height));
    column!("channels", |r| r
        .header
        .filter(|h| h.channels > 0)
        .map(|h| h.channels));
    column!("content_hash", |r| r.content_hash.as_deref());
    column!("ahash", |r| r.hashes.map(|h| h[0]));
    column!("dhash", |r| r.hashes.map(|h| h[1]));
    column!("phash", |r| r.hashes.map(|h| h[2]));
    column!("phash_mirror", |r| r.hashes.map(|h| h[3]));
    // 256 bytes: the 16x16 gray thumbnail, row-major.
    let thumbs: Vec<Option<Bound<'py, pyo3::types::PyBytes>>> = rows
        .iter()
        .map(|r| r.thumb.as_ref().map(|t| pyo3::types::PyBytes::new(py, t)))
        .collect();
    columns.set_item("thumb", thumbs)?;
    // 32 bytes: the band-pass sign map, 16x16 bits row-major (`picture::hash::sign_map`).
    let signs: Vec<Option<Bound<'py, pyo3::types::PyBytes>>> = rows
        .iter()
        .map(|r| r.signs.as_ref().map(|t| pyo3::types::PyBytes::new(py, t)))
        .collect();
    columns.set_item("thumb_signs", signs)?;
    column!("mean", |r| r.stats.map(|s| s.mean));
    column!("std", |r| r.stats.map(|s| s.std));
    column!("dark_frac", |r| r.stats.map(|s| s.dark_frac));
    column!("bright_frac", |r| r.stats.map(|s| s.bright_frac));
    column!("luma_p01", |r| r.stats.map(|s| s.luma_p01));
    column!("luma_p99", |r| r.stats.map(|s| s.luma_p99));
    column!("luma_p999", |r| r.stats.map(|s| s.luma_p999));
    column!("blur", |r| r.stats.map(|s| s.blur));
    column!("sharpness", |r| r.stats.and_then(|s| s.sharpness));
    column!("sharpness_fine", |r| r.stats.and_then(|s| s.sharpness_fine));
    column!("sharpness_least", |r| r
        .stats
        .and_then(|s| s.smear)
        .map(|m| m.least));
    column!("sharpness_gap", |r| r
        .stats
        .and_then(|s| s.smear)
        .and_then(|m| m.gap));
    column!("edge_balance", |r| r
        .stats
        .and_then(|s| s.smear)
        .and_then(|m| m.balance));
    column!("colorfulness", |r| r.colorfulness.map(|c| c.colorfulness));
    column!("chroma_rg", |r| r.colorfulness.map(|c| c.mean_rg));
    column!("chroma_yb", |r| r.colorfulness.map(|c| c.mean_yb));
    column!("content_width", |r| r.content.map(|c| c.0));
    column!("content_height", |r| r.content.map(|c| c.1));
    column!("entropy", |r| r.stats.map(|s| s.entropy));
    column!("clip_edges", |r| r.stats.map(|s| s.clip_edges));
    column!("clip_edges_min", |r| r.stats.map(|s| s.clip_edges_min));
    column!("clip_edge_depth", |r| r.stats.map(|s| s.clip_edge_depth));
    column!("row_coherence", |r| r.stats.map(|s| s.row_coherence));
    column!("aspect", |r| r.aspect());
    column!("label", |r| r.label.as_deref());
    column!("split", |r| r.split.as_deref());
    // The builders above and the declaration must agree: a column added to one only is a bug.
    let built: Vec<String> = columns.keys().extract()?;
    if built.len() != SCAN_COLUMNS.len()
        || built
            .iter()
            .zip(SCAN_COLUMNS)
            .any(|(b, (name, _))| b != name)
    {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
            "the scan built the columns {built:?}, not the declared SCAN_COLUMNS"
        )));
    }
    Ok(columns)
}

fn thread_pool(threads: Option<usize>) -> PyResult<rayon::ThreadPool> {
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 {
        return Err(PyValueError::new_err(
            "threads must be at least 1 (or None for all cores)",
        ));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| PyValueError::new_err(format!("cannot start {threads} threads: {e}")))
}

/// Scans local files and returns the frame's columns as a dict of lists, rows sorted by path.
/// With `on_batch`, each batch's columns are handed to `on_batch(dict)` as soon as they are done
/// and None is returned: a caller that turns each batch into a frame holds one batch of Python
/// objects at a time, not one per cell of a million rows.
#[pyfunction]
#[pyo3(signature = (sources, *, recursive=true, threads=None, progress=false, max_pixels=DEFAULT_MAX_PIXELS, max_bytes=DEFAULT_MAX_BYTES, min_decode_side=DEFAULT_MIN_DECODE_SIDE, on_batch=None))]
#[allow(clippy::too_many_arguments)] // one per keyword of the Python signature above
fn scan_paths<'py>(
    py: Python<'py>,
    sources: Vec<PathBuf>,
    recursive: bool,
    threads: Option<usize>,
    progress: bool,
    max_pixels: u64,
    max_bytes: u64,
    min_decode_side: u32,
    on_batch: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let limits = Limits {
        max_pixels,
        min_decode_side,
    };
    let pool = thread_pool(threads)?;
    let entries = py.detach(|| walk::collect(&sources, recursive));
    scan_entries(py, &entries, &pool, &limits, max_bytes, progress, on_batch)
}

/// Scans files listed before (`list_files`, or a manifest) and returns one row per path, in the
/// given order, each shown as its name in `names`: the rows of a slice of a listing, however its
/// names were written. A path that is no longer a regular file, or is gone, is a refused row.
#[pyfunction]
#[pyo3(signature = (paths, names, *, threads=None, max_pixels=DEFAULT_MAX_PIXELS, max_bytes=DEFAULT_MAX_BYTES, min_decode_side=DEFAULT_MIN_DECODE_SIDE))]
fn scan_listed<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    names: Vec<String>,
    threads: Option<usize>,
    max_pixels: u64,
    max_bytes: u64,
    min_decode_side: u32,
) -> PyResult<Bound<'py, PyAny>> {
    if paths.len() != names.len() {
        return Err(PyValueError::new_err(format!(
            "{} paths but {} names",
            paths.len(),
            names.len()
        )));
    }
    let limits = Limits {
        max_pixels,
        min_decode_side,
    };
    let pool = thread_pool(threads)?;
    let entries = py.detach(|| walk::listed(&paths, &names));
    scan_entries(py, &entries, &pool, &limits, max_bytes, false, None)
}

/// The per-file pipeline over `entries` in batches on `pool`, in their order: the columns of all
/// rows, or each batch's handed to `on_batch` (then None).
fn scan_entries<'py>(
    py: Python<'py>,
    entries: &[walk::Entry],
    pool: &rayon::ThreadPool,
    limits: &Limits,
    max_bytes: u64,
    progress: bool,
    on_batch: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut bar = progress::Progress::new(entries.len(), progress);
    let mut rows: Vec<Row> = Vec::with_capacity(if on_batch.is_some() { 0 } else { entries.len() });
    let mut done_count = 0;
    for batch in entries.chunks(BATCH * pool.current_num_threads()) {
        let done: Vec<Row> = py.detach(|| {
            pool.install(|| {
                batch
                    .par_iter()
                    .map(|e| scan::analyze_entry(e, limits, max_bytes))
                    .collect()
            })
        });
        done_count += done.len();
        // Ctrl-C lands here within one batch; the KeyboardInterrupt propagates to the caller.
        // Checked before any Python runs again: a pending interrupt raised inside NumPy's import
        // would otherwise surface as a panic of rust-numpy.
        py.check_signals()?;
        if let Some(callback) = &on_batch {
            callback.call1((rows_to_columns(py, &done)?,))?;
        } else {
            rows.extend(done);
        }
        bar.update(done_count);
    }
    bar.finish(done_count);
    match on_batch {
        Some(_) => Ok(py.None().into_bound(py)),
        None => Ok(rows_to_columns(py, &rows)?.into_any()),
    }
}

/// The walk alone: every entry `scan_paths` would produce, sorted, with its label, split, size,
/// mtime and ctime (null for entries refused without reading, which carry their status and error).
#[pyfunction]
#[pyo3(signature = (sources, *, recursive=true))]
fn list_files<'py>(
    py: Python<'py>,
    sources: Vec<PathBuf>,
    recursive: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let (entries, versions) = py.detach(|| {
        let entries = walk::collect(&sources, recursive);
        let versions: Vec<_> = entries
            .par_iter()
            .map(|e| {
                if e.kind == walk::Kind::File {
                    walk::version(&e.path)
                } else {
                    None
                }
            })
            .collect();
        (entries, versions)
    });
    let columns = PyDict::new(py);
    let refusal = |e: &walk::Entry| match &e.kind {
        walk::Kind::Refused(status, message) => Some((status.name(), message.clone())),
        walk::Kind::File => None,
    };
    columns.set_item(
        "path",
        entries
            .iter()
            .map(|e| e.display.as_str())
            .collect::<Vec<_>>(),
    )?;
    // What opens the file again (`scan_listed`): the path's own bytes, which `path` cannot be
    // turned back into when a name is not UTF-8 (and a Python str holding them, with surrogate
    // escapes, cannot go into a frame).
    columns.set_item(
        "key",
        entries
            .iter()
            .map(|e| e.path.as_os_str().as_encoded_bytes())
            .collect::<Vec<_>>(),
    )?;
    columns.set_item(
        "label",
        entries
            .iter()
            .map(|e| e.label.as_deref())
            .collect::<Vec<_>>(),
    )?;
    columns.set_item(
        "split",
        entries
            .iter()
            .map(|e| e.split.as_deref())
            .collect::<Vec<_>>(),
    )?;
    columns.set_item(
        "size",
        versions
            .iter()
            .map(|v| v.map(|(size, _, _)| size))
            .collect::<Vec<_>>(),
    )?;
    columns.set_item(
        "mtime_ns",
        versions
            .iter()
            .map(|v| v.map(|(_, mtime, _)| mtime))
            .collect::<Vec<_>>(),
    )?;
    columns.set_item(
        "ctime_ns",
        versions
            .iter()
            .map(|v| v.map(|(_, _, ctime)| ctime))
            .collect::<Vec<_>>(),
    )?;
    columns.set_item(
        "status",
        entries
            .iter()
            .map(|e| refusal(e).map(|r| r.0))
            .collect::<Vec<_>>(),
    )?;
    columns.set_item(
        "error",
        entries
            .iter()
            .map(|e| refusal(e).map(|r| r.1))
            .collect::<Vec<_>>(),
    )?;
    Ok(columns)
}

/// Runs the per-file pipeline on in-memory (name, bytes) pairs: the entry point for object stores
/// and engine workers. Rows come back in input order. `bytes` are read in place, never copied
/// (a `bytearray` is copied once); other objects raise TypeError. The buffer protocol would take
/// `memoryview`s and NumPy arrays in place too, but is not in the stable ABI before Python 3.11.
#[pyfunction]
#[pyo3(signature = (names, blobs, *, threads=None, max_pixels=DEFAULT_MAX_PIXELS, min_decode_side=DEFAULT_MIN_DECODE_SIDE))]
fn scan_bytes<'py>(
    py: Python<'py>,
    names: Vec<String>,
    blobs: Vec<Bound<'py, PyAny>>,
    threads: Option<usize>,
    max_pixels: u64,
    min_decode_side: u32,
) -> PyResult<Bound<'py, PyDict>> {
    if names.len() != blobs.len() {
        return Err(PyValueError::new_err(format!(
            "{} names but {} byte strings",
            names.len(),
            blobs.len()
        )));
    }
    let blobs = blobs
        .iter()
        .zip(&names)
        .map(|(b, n)| {
            b.extract::<PyBackedBytes>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "the blob for {n:?} is {}, not bytes",
                    b.get_type().name().map_or("?".into(), |t| t.to_string())
                ))
            })
        })
        .collect::<PyResult<Vec<_>>>()?;
    let limits = Limits {
        max_pixels,
        min_decode_side,
    };
    let pool = thread_pool(threads)?;
    let rows: Vec<Row> = py.detach(|| {
        pool.install(|| {
            names
                .par_iter()
                .zip(blobs.par_iter())
                .map(|(n, b)| scan::analyze(n, b, &limits))
                .collect()
        })
    });
    rows_to_columns(py, &rows)
}

/// Edges (a, b) as NumPy arrays.
type EdgeColumns<'py> = (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<u32>>);

/// A spanning forest of the matches between two chunks (`neardup::matching::forest_across`): node ids
/// below `len(queries)` are queries, the rest index positions shifted by `len(queries)`.
#[pyfunction]
fn hamming_forest_across<'py>(
    py: Python<'py>,
    queries: PyReadonlyArray1<'py, u64>,
    index: PyReadonlyArray1<'py, u64>,
    radius: u32,
) -> PyResult<EdgeColumns<'py>> {
    check_radius(radius)?;
    let (queries, index) = (queries.as_slice()?, index.as_slice()?);
    let edges = py.detach(|| neardup::matching::forest_across(queries, index, radius));
    let (a, b): (Vec<u32>, Vec<u32>) = edges.into_iter().unzip();
    Ok((PyArray1::from_vec(py, a), PyArray1::from_vec(py, b)))
}

/// A spanning forest of the within-`radius` graph of one set (`neardup::forest_within`): edges
/// (hash, the smallest hash of its group), one per hash that is not the smallest.
#[pyfunction]
fn hamming_forest<'py>(
    py: Python<'py>,
    hashes: PyReadonlyArray1<'py, u64>,
    radius: u32,
) -> PyResult<EdgeColumns<'py>> {
    check_radius(radius)?;
    let hashes = hashes.as_slice()?;
    let edges = py.detach(|| neardup::forest_within(hashes, radius));
    let (a, b): (Vec<u32>, Vec<u32>) = edges.into_iter().unzip();
    Ok((PyArray1::from_vec(py, a), PyArray1::from_vec(py, b)))
}

/// Label and split of each '/'-separated key relative to a root, by the walk's ImageFolder rule
/// (`<split>/<class>/file` with split train/val/valid/test, else `<class>/file`).
#[pyfunction]
fn image_folder_labels(keys: Vec<String>) -> (Vec<Option<String>>, Vec<Option<String>>) {
    keys.iter().map(|k| walk::label_and_split_of_key(k)).unzip()
}

/// The label-error frame's columns worst first (ascending `quality`, ties in input order):
/// index, label, suggested label, quality and flag (`ranking::ranked_rows`).
#[pyfunction]
fn ranked_rows<'py>(
    py: Python<'py>,
    quality: &Bound<'py, PyAny>,
    label: PyReadonlyArray1<'py, u32>,
    suggested: PyReadonlyArray1<'py, u32>,
    flagged: PyReadonlyArray1<'py, bool>,
) -> PyResult<Bound<'py, PyTuple>> {
    let (label, suggested, flagged) = (
        label.as_slice()?,
        suggested.as_slice()?,
        flagged.as_slice()?,
    );
    let n = label.len();
    if suggested.len() != n || flagged.len() != n {
        return Err(PyValueError::new_err(format!(
            "label, suggested and flagged must have one entry per row ({n}, {}, {})",
            suggested.len(),
            flagged.len()
        )));
    }
    if suggested.iter().any(|&s| s >= 1 << 31) {
        return Err(PyValueError::new_err("class ids must stay below 2^31"));
    }
    macro_rules! ranked {
        ($q:expr) => {{
            let q = $q.as_slice()?;
            if q.len() != n {
                return Err(PyValueError::new_err(format!(
                    "quality has {} entries for {n} rows",
                    q.len()
                )));
            }
            let r = py.detach(|| ranking::ranked_rows(q, label, suggested, flagged));
            (
                PyArray1::from_vec(py, r.index),
                PyArray1::from_vec(py, r.label),
                PyArray1::from_vec(py, r.suggested),
                PyArray1::from_vec(py, r.quality).into_any(),
                PyArray1::from_vec(py, r.flagged),
            )
                .into_pyobject(py)
        }};
    }
    if let Ok(q) = quality.extract::<PyReadonlyArray1<'py, f32>>() {
        ranked!(q)
    } else if let Ok(q) = quality.extract::<PyReadonlyArray1<'py, f64>>() {
        ranked!(q)
    } else {
        Err(PyTypeError::new_err(
            "quality must be a contiguous 1-D float32 or float64 NumPy array",
        ))
    }
}

/// A row-major (n, k) probability matrix as f32 or f64, borrowed from NumPy.
enum Probs<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
}

impl<'py> Probs<'py> {
    fn extract(probs: &Bound<'py, PyAny>, codes: usize) -> PyResult<(Probs<'py>, usize)> {
        let (probs, shape) = if let Ok(a) = probs.extract::<PyReadonlyArray2<'py, f32>>() {
            let shape = a.as_array().shape().to_vec();
            (Probs::F32(a), shape)
        } else if let Ok(a) = probs.extract::<PyReadonlyArray2<'py, f64>>() {
            let shape = a.as_array().shape().to_vec();
            (Probs::F64(a), shape)
        } else {
            return Err(PyTypeError::new_err(
                "probs must be a 2-D float32 or float64 NumPy array",
            ));
        };
        if shape[0] != codes {
            return Err(PyValueError::new_err(format!(
                "probs has {} rows for {codes} labels",
                shape[0]
            )));
        }
        Ok((probs, shape[1]))
    }
}

/// Runs `$body` with `$p` bound to the probabilities as a slice of their own float type.
macro_rules! with_probs {
    ($probs:expr, |$p:ident| $body:expr) => {
        match $probs {
            Probs::F32(a) => {
                let $p = a.as_slice()?;
                $body
            }
            Probs::F64(a) => {
                let $p = a.as_slice()?;
                $body
            }
        }
    };
}

fn check_codes(codes: &[u32], k: usize) -> PyResult<()> {
    if k == 0 || codes.iter().any(|&c| c as usize >= k) {
        return Err(PyValueError::new_err(format!("codes must lie in 0..{k}")));
    }
    Ok(())
}

/// The confident joint (k x k, flat) and argmax (n) as NumPy arrays.
type ConfidentColumns<'py> = (Bound<'py, PyArray1<u64>>, Bound<'py, PyArray1<u32>>);

/// Confident learning's counting pass: the confident joint (k x k, flat) and each row's most
/// probable class, for the per-class `thresholds` of `confident_rows`. `probs` is C-contiguous
/// (n, k), f32 or f64.
#[pyfunction]
fn confident_counts<'py>(
    py: Python<'py>,
    probs: &Bound<'py, PyAny>,
    codes: PyReadonlyArray1<'py, u32>,
    thresholds: PyReadonlyArray1<'py, f64>,
) -> PyResult<ConfidentColumns<'py>> {
    let (codes, thresholds) = (codes.as_slice()?, thresholds.as_slice()?);
    let (probs, k) = Probs::extract(probs, codes.len())?;
    check_codes(codes, k)?;
    if thresholds.len() != k {
        return Err(PyValueError::new_err(format!(
            "need {k} thresholds, one per class"
        )));
    }
    let (joint, argmax) = with_probs!(&probs, |p| py
        .detach(|| confident::confident_joint(p, k, codes, thresholds)));
    Ok((
        PyArray1::from_vec(py, joint),
        PyArray1::from_vec(py, argmax),
    ))
}

/// One pass over (n, k) probabilities and their labels: (the row whose sum is furthest from 1,
/// that sum, any NaN or infinite value, any negative value, the per-class thresholds, each row's
/// probability of its label as a NumPy array of the probabilities' type).
#[pyfunction]
fn confident_rows<'py>(
    py: Python<'py>,
    probs: &Bound<'py, PyAny>,
    codes: PyReadonlyArray1<'py, u32>,
) -> PyResult<RowColumns<'py>> {
    let codes = codes.as_slice()?;
    let (probs, k) = Probs::extract(probs, codes.len())?;
    check_codes(codes, k)?;
    let (check, thresholds, own, counts) = match &probs {
        Probs::F32(a) => {
            let p = a.as_slice()?;
            let (check, t, own, counts) =
                py.detach(|| confident::check_and_thresholds(p, k, codes));
            (check, t, PyArray1::from_vec(py, own).into_any(), counts)
        }
        Probs::F64(a) => {
            let p = a.as_slice()?;
            let (check, t, own, counts) =
                py.detach(|| confident::check_and_thresholds(p, k, codes));
            (check, t, PyArray1::from_vec(py, own).into_any(), counts)
        }
    };
    Ok((
        check.worst,
        check.worst_sum,
        check.nonfinite,
        check.negative,
        PyArray1::from_vec(py, thresholds),
        own,
        PyArray1::from_vec(py, counts),
    ))
}

/// What `confident_rows` returns: the row check, the thresholds, each row's own probability and
/// the rows per label.
type RowColumns<'py> = (
    usize,
    f64,
    bool,
    bool,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyAny>,
    Bound<'py, PyArray1<u64>>,
);

/// "Prune by noise rate": rows labelled i with the `wanted[i * k + j]` largest margins p[j] - p[i].
#[pyfunction]
fn confident_prune<'py>(
    py: Python<'py>,
    probs: &Bound<'py, PyAny>,
    codes: PyReadonlyArray1<'py, u32>,
    wanted: PyReadonlyArray1<'py, u64>,
) -> PyResult<Bound<'py, PyArray1<bool>>> {
    let (codes, wanted) = (codes.as_slice()?, wanted.as_slice()?);
    let (probs, k) = Probs::extract(probs, codes.len())?;
    check_codes(codes, k)?;
    if wanted.len() != k * k {
        return Err(PyValueError::new_err(format!(
            "wanted must hold k * k = {} counts",
            k * k
        )));
    }
    let flagged = with_probs!(&probs, |p| py
        .detach(|| confident::prune_by_noise_rate(p, k, codes, wanted)));
    Ok(PyArray1::from_vec(py, flagged))
}

/// Per node, the smallest node of its connected component under `edges` (a, b).
#[pyfunction]
fn hamming_components<'py>(
    py: Python<'py>,
    n: usize,
    a: PyReadonlyArray1<'py, u32>,
    b: PyReadonlyArray1<'py, u32>,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    let (a, b) = (a.as_slice()?, b.as_slice()?);
    if a.len() != b.len() || a.iter().chain(b).any(|&v| v as usize >= n) {
        return Err(PyValueError::new_err(format!(
            "edges must be two arrays of equal length with nodes below {n}"
        )));
    }
    let edges: Vec<(u32, u32)> = a.iter().copied().zip(b.iter().copied()).collect();
    let roots = py.detach(|| neardup::matching::components(n, &edges));
    Ok(PyArray1::from_vec(py, roots))
}

/// The reduce side of a distributed block join: buckets `hashes[offsets[b]..offsets[b + 1]]`
/// (with global `ids`) each searched exactly; a spanning forest of the matches in global ids.
#[pyfunction]
fn hamming_forest_in_buckets<'py>(
    py: Python<'py>,
    hashes: PyReadonlyArray1<'py, u64>,
    ids: PyReadonlyArray1<'py, u32>,
    offsets: PyReadonlyArray1<'py, u64>,
    radius: u32,
) -> PyResult<EdgeColumns<'py>> {
    check_radius(radius)?;
    let (hashes, ids, offsets) = (hashes.as_slice()?, ids.as_slice()?, offsets.as_slice()?);
    let offsets: Vec<usize> = offsets.iter().map(|&o| o as usize).collect();
    if hashes.len() != ids.len()
        || offsets.windows(2).any(|w| w[0] > w[1])
        || offsets.last().is_some_and(|&e| e > hashes.len())
    {
        return Err(PyValueError::new_err(
            "need one id per hash and ascending bucket offsets within the hashes",
        ));
    }
    let edges = py.detach(|| neardup::blockjoin::forest_in_buckets(hashes, ids, &offsets, radius));
    let (a, b): (Vec<u32>, Vec<u32>) = edges.into_iter().unzip();
    Ok((PyArray1::from_vec(py, a), PyArray1::from_vec(py, b)))
}

fn check_radius(radius: u32) -> PyResult<()> {
    if radius > 64 {
        return Err(PyValueError::new_err(format!(
            "radius {radius} is over 64, the number of bits in a hash"
        )));
    }
    Ok(())
}

/// Columns (i, j, distance) as NumPy arrays.
type PairColumns<'py> = (
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<u8>>,
);

fn pair_columns<'py>(py: Python<'py>, pairs: Vec<neardup::Pair>) -> PairColumns<'py> {
    let i = pairs.iter().map(|p| p.0).collect::<Vec<_>>();
    let j = pairs.iter().map(|p| p.1).collect::<Vec<_>>();
    let d = pairs.iter().map(|p| p.2).collect::<Vec<_>>();
    (
        PyArray1::from_vec(py, i),
        PyArray1::from_vec(py, j),
        PyArray1::from_vec(py, d),
    )
}

/// Every pair (i < j) of hashes within `radius` bits, exactly as brute force finds them.
#[pyfunction]
fn hamming_pairs<'py>(
    py: Python<'py>,
    hashes: PyReadonlyArray1<'py, u64>,
    radius: u32,
) -> PyResult<PairColumns<'py>> {
    check_radius(radius)?;
    let hashes = hashes.as_slice()?;
    let pairs = py.detach(|| neardup::pairs_within(hashes, radius));
    Ok(pair_columns(py, pairs))
}

/// Pairs (query index, index index) within `radius` bits between two sets of hashes.
#[pyfunction]
fn hamming_pairs_across<'py>(
    py: Python<'py>,
    queries: PyReadonlyArray1<'py, u64>,
    index: PyReadonlyArray1<'py, u64>,
    radius: u32,
) -> PyResult<PairColumns<'py>> {
    check_radius(radius)?;
    let (queries, index) = (queries.as_slice()?, index.as_slice()?);
    let pairs = py.detach(|| neardup::pairs_across(queries, index, radius));
    Ok(pair_columns(py, pairs))
}

/// Columns (whole hash, mirror hash, every window's hash) of thumbnails.
type HashColumns<'py> = (
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<u64>>,
);

/// Every window's hash of each thumbnail (`windowmatch::hashes`): flat thumbnails (256 values a
/// row), each row's band, the variant table (`per_band` variants a band) and the variants' taps.
#[pyfunction]
fn window_hashes<'py>(
    py: Python<'py>,
    thumbs: PyReadonlyArray1<'py, f32>,
    bands: PyReadonlyArray1<'py, u16>,
    variants: PyReadonlyArray1<'py, u16>,
    per_band: usize,
    tap_cells: PyReadonlyArray1<'py, u16>,
    tap_weights: PyReadonlyArray1<'py, f32>,
) -> PyResult<HashColumns<'py>> {
    let (thumbs, bands, variants) = (thumbs.as_slice()?, bands.as_slice()?, variants.as_slice()?);
    let windows = windowmatch::Windows {
        tap_cells: tap_cells.as_slice()?,
        tap_weights: tap_weights.as_slice()?,
        sign_cells: &[],
    };
    let hashes = py
        .detach(|| windowmatch::hashes(thumbs, bands, variants, per_band, &windows))
        .map_err(PyValueError::new_err)?;
    Ok((
        PyArray1::from_vec(py, hashes.whole),
        PyArray1::from_vec(py, hashes.mirror),
        PyArray1::from_vec(py, hashes.index),
    ))
}

/// Columns (correlation, agreement, chance) of window candidates.
type ScoreColumns<'py> = (
    Bound<'py, PyArray1<f32>>,
    Bound<'py, PyArray1<f32>>,
    Bound<'py, PyArray1<f32>>,
);

/// The near-duplicate rule's two scores per window candidate (`windowmatch`): flat arrays of
/// 256 values a row (both sides' thumbnails, both sides'
/// signs or None), the window variants' taps and sign cells, and the candidates.
#[pyfunction]
#[pyo3(signature = (mine, theirs, mine_signs, theirs_signs, tap_cells, tap_weights, sign_cells, query, mirrored, other, variant))]
#[allow(clippy::too_many_arguments)]
fn window_scores<'py>(
    py: Python<'py>,
    mine: PyReadonlyArray1<'py, f32>,
    theirs: PyReadonlyArray1<'py, f32>,
    mine_signs: Option<PyReadonlyArray1<'py, u8>>,
    theirs_signs: Option<PyReadonlyArray1<'py, u8>>,
    tap_cells: PyReadonlyArray1<'py, u16>,
    tap_weights: PyReadonlyArray1<'py, f32>,
    sign_cells: PyReadonlyArray1<'py, u16>,
    query: PyReadonlyArray1<'py, u32>,
    mirrored: PyReadonlyArray1<'py, bool>,
    other: PyReadonlyArray1<'py, u32>,
    variant: PyReadonlyArray1<'py, u16>,
) -> PyResult<ScoreColumns<'py>> {
    let mine_signs = mine_signs.as_ref().map(|a| a.as_slice()).transpose()?;
    let theirs_signs = theirs_signs.as_ref().map(|a| a.as_slice()).transpose()?;
    let mine = windowmatch::Side {
        values: mine.as_slice()?,
        signs: mine_signs,
    };
    let theirs = windowmatch::Side {
        values: theirs.as_slice()?,
        signs: theirs_signs,
    };
    let windows = windowmatch::Windows {
        tap_cells: tap_cells.as_slice()?,
        tap_weights: tap_weights.as_slice()?,
        sign_cells: sign_cells.as_slice()?,
    };
    let candidates = windowmatch::Candidates {
        query: query.as_slice()?,
        mirrored: mirrored.as_slice()?,
        other: other.as_slice()?,
        variant: variant.as_slice()?,
    };
    windowmatch::check(&mine, &theirs, &windows, &candidates).map_err(PyValueError::new_err)?;
    let scores = py.detach(|| windowmatch::score(&mine, &theirs, &windows, &candidates));
    Ok((
        PyArray1::from_vec(py, scores.correlation),
        PyArray1::from_vec(py, scores.agreement),
        PyArray1::from_vec(py, scores.chance),
    ))
}

/// Connected components of the within-`radius` graph: per hash, the smallest index in its group.
#[pyfunction]
fn hamming_groups<'py>(
    py: Python<'py>,
    hashes: PyReadonlyArray1<'py, u64>,
    radius: u32,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    check_radius(radius)?;
    let hashes = hashes.as_slice()?;
    let groups = py.detach(|| neardup::groups_within(hashes, radius));
    Ok(PyArray1::from_vec(py, groups))
}

/// Groups where a picture also joins pictures within `radius` bits of its mirror image.
#[pyfunction]
fn hamming_groups_with_mirrors<'py>(
    py: Python<'py>,
    hashes: PyReadonlyArray1<'py, u64>,
    mirrors: PyReadonlyArray1<'py, u64>,
    radius: u32,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    check_radius(radius)?;
    let (hashes, mirrors) = (hashes.as_slice()?, mirrors.as_slice()?);
    if hashes.len() != mirrors.len() {
        return Err(PyValueError::new_err(format!(
            "{} hashes but {} mirror hashes",
            hashes.len(),
            mirrors.len()
        )));
    }
    let groups = py.detach(|| neardup::matching::groups_with_mirrors(hashes, mirrors, radius));
    Ok(PyArray1::from_vec(py, groups))
}

/// Columns (query, position, distance, mirrored) and the match count per query.
type NearestColumns<'py> = (
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<u8>>,
    Bound<'py, PyArray1<bool>>,
    Bound<'py, PyArray1<u32>>,
);

/// A multi-index over a fixed set of hashes, built once and queried many times.
#[pyclass(module = "recipe_audit._core", frozen)]
struct HammingIndex {
    inner: neardup::HammingIndex,
}

#[pymethods]
impl HammingIndex {
    #[new]
    #[pyo3(signature = (hashes, radius_max))]
    fn new(py: Python<'_>, hashes: PyReadonlyArray1<'_, u64>, radius_max: u32) -> PyResult<Self> {
        check_radius(radius_max)?;
        let hashes = hashes.as_slice()?;
        Ok(HammingIndex {
            inner: py.detach(|| neardup::HammingIndex::new(hashes, radius_max)),
        })
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    #[getter]
    fn radius_max(&self) -> u32 {
        self.inner.radius_max()
    }

    /// Per query, the `k` nearest indexed hashes within `radius`: columns (query, position,
    /// distance, mirrored) by query, distance, position; then the count of all matches per query.
    /// With `mirrors`, a match to the query's mirror image counts too.
    #[pyo3(signature = (queries, radius, k, mirrors=None))]
    fn nearest<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArray1<'py, u64>,
        radius: u32,
        k: usize,
        mirrors: Option<PyReadonlyArray1<'py, u64>>,
    ) -> PyResult<NearestColumns<'py>> {
        check_radius(radius)?;
        let queries = queries.as_slice()?;
        let mirrors = match &mirrors {
            Some(m) if m.len()? != queries.len() => {
                return Err(PyValueError::new_err(format!(
                    "{} queries but {} mirror hashes",
                    queries.len(),
                    m.len()?
                )));
            }
            Some(m) => Some(m.as_slice()?),
            None => None,
        };
        let found =
            py.detach(|| neardup::matching::nearest(&self.inner, queries, mirrors, radius, k));
        let (i, j, d) = pair_columns(py, found.pairs);
        Ok((
            i,
            j,
            d,
            PyArray1::from_vec(py, found.mirrored),
            PyArray1::from_vec(py, found.counts),
        ))
    }

    fn __repr__(&self) -> String {
        format!(
            "HammingIndex({} hashes, radius_max={})",
            self.inner.len(),
            self.inner.radius_max()
        )
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Load NumPy's C API now, at import: loaded lazily, it runs Python code in the middle of a
    // scan, where a pending Ctrl-C made rust-numpy panic instead of raising KeyboardInterrupt.
    numpy::PyArray1::<u8>::zeros(m.py(), 0, false);
    m.add_function(wrap_pyfunction!(scan_paths, m)?)?;
    m.add_function(wrap_pyfunction!(scan_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(list_files, m)?)?;
    m.add_function(wrap_pyfunction!(scan_listed, m)?)?;
    m.add_function(wrap_pyfunction!(hamming_pairs, m)?)?;
    m.add_function(wrap_pyfunction!(hamming_pairs_across, m)?)?;
    m.add_function(wrap_pyfunction!(window_scores, m)?)?;
    m.add_function(wrap_pyfunction!(window_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(hamming_groups, m)?)?;
    m.add_function(wrap_pyfunction!(hamming_groups_with_mirrors, m)?)?;
    m.add_function(wrap_pyfunction!(hamming_forest_across, m)?)?;
    m.add_function(wrap_pyfunction!(hamming_forest, m)?)?;
    m.add_function(wrap_pyfunction!(image_folder_labels, m)?)?;
    m.add_function(wrap_pyfunction!(ranked_rows, m)?)?;
    m.add_function(wrap_pyfunction!(hamming_components, m)?)?;
    m.add_function(wrap_pyfunction!(hamming_forest_in_buckets, m)?)?;
    m.add_function(wrap_pyfunction!(confident_counts, m)?)?;
    m.add_function(wrap_pyfunction!(confident_prune, m)?)?;
    m.add_function(wrap_pyfunction!(confident_rows, m)?)?;
    m.add_class::<HammingIndex>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MEASURES_REVISION", scan::MEASURES_REVISION)?;
    m.add("SCAN_COLUMNS", SCAN_COLUMNS.to_vec())?;
    let statuses: Vec<&str> = decode::outcome::Status::ALL
        .iter()
        .map(|s| s.name())
        .collect();
    m.add("STATUSES", statuses)?;
    m.add("DEFAULT_MAX_PIXELS", DEFAULT_MAX_PIXELS)?;
    m.add("DEFAULT_MAX_BYTES", DEFAULT_MAX_BYTES)?;
    m.add("DEFAULT_MIN_DECODE_SIDE", DEFAULT_MIN_DECODE_SIDE)?;
    Ok(())
}
