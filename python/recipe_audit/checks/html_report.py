"""The training checks as one self-contained HTML page: the verdicts and the plots to look at.

Like the data audit's report: every value escaped, images embedded as data: URIs, and a
Content-Security-Policy that allows no script and no network, so the file is inert wherever it
is opened. The plots are the recipe's "visualize" steps on the user's own set-up: the batch that
enters the net, the baseline's loss curve, the prediction dynamics on a fixed batch and the first
layer's weights.
"""

from __future__ import annotations

import base64
import contextlib
import html
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import polars as pl

from recipe_audit.checks import plots
from recipe_audit.checks._setup import Setup, preserved_rng

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
"""No script, no fetch, no frame; images only from data: URIs; the inline stylesheet."""

_COLORS = {"pass": "#2e7d32", "fail": "#c62828", "warn": "#ef6c00", "skip": "#757575"}
_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4em;vertical-align:top;
text-align:left;font-size:.9em}.status{font-weight:bold;color:#fff;padding:.1em .5em;border-radius:.3em}
figure{display:inline-block;margin:1em}img{max-width:34em;border:1px solid #eee}.hint{color:#555}"""


def _png(draw: Callable[[str], object]) -> str | None:
    """A plot written by `draw(path)` as a data: URI, or None when it cannot be drawn for this set-up."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "plot.png")
        try:
            draw(path)
        except (ValueError, TypeError, RuntimeError, IndexError):
            return None
        if not os.path.exists(path):
            return None
        return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def recipe_figures(setup: Setup) -> dict[str, str]:
    """The plots of the recipe's 'visualize' steps for a set-up, as data: URIs by caption."""
    figures: dict[str, str | None] = {}
    with preserved_rng():
        run = setup.baseline()
        raw = setup.data.raw
        figures["what enters the net (first batch, after augment and preprocess)"] = _png(
            lambda p: plots.show_batch(raw, p, n=16, augment=setup.augment, preprocess=setup.preprocess)
        )
        figures[f"baseline training loss ({len(run.losses)} steps)"] = _png(lambda p: plots.loss_curve(run.losses, p))
        figures["prediction dynamics on a fixed batch"] = _png(
            lambda p: plots.prediction_dynamics(
                setup.model_fn,
                raw,
                setup.loss_fn,
                p,
                steps=setup.budget.steps,
                optimizer_fn=setup.optimizer_fn,
                train_step=setup.train_step,
                predict=setup.predict,
                augment=setup.augment,
                preprocess=setup.preprocess,
                seed=setup.budget.seed,
            )
        )
        figures["first layer after the baseline run"] = _png(lambda p: plots.first_layer_weights(run.model, p))
    return {caption: uri for caption, uri in figures.items() if uri is not None}


def render_html(report: pl.DataFrame, figures: dict[str, str] | None = None, *, title: str = "Training checks") -> str:
    """The page: a summary line, one table row per check (status, value, expected, message, hint), the figures."""
    counts = report.group_by("status").len()
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.iter_rows()))
    rows = []
    for r in report.iter_rows(named=True):
        value = "" if r["value"] is None else f"{r['value']:.4g}"
        color = _COLORS.get(r["status"], "#757575")
        rows.append(
            f"<tr><td>{html.escape(r['check'])}</td><td><span class='status' style='background:{color}'>"
            f"{html.escape(r['status'])}</span></td><td>{html.escape(value)}</td>"
            f"<td>{html.escape(r['expected'] or '')}</td><td>{html.escape(r['message'] or '')}"
            f"<div class='hint'>{html.escape(r['hint'] or '')}</div></td></tr>"
        )
    figs = []
    for caption, uri in (figures or {}).items():
        if not uri.startswith("data:image/png;base64,"):
            raise ValueError("figures must be data:image/png;base64 URIs")
        figs.append(
            f"<figure><img src='{html.escape(uri, quote=True)}' alt='{html.escape(caption, quote=True)}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='Content-Security-Policy' "
        f'content="{CSP}"><title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>'
        f"<h1>{html.escape(title)}</h1><p>{html.escape(summary)}</p><table><tr><th>check</th><th>status</th>"
        f"<th>value</th><th>expected</th><th>message and hint</th></tr>{''.join(rows)}</table>"
        f"<h2>Plots</h2>{''.join(figs) or '<p>none</p>'}</body></html>"
    )


def write_html(
    report: pl.DataFrame,
    path: str | os.PathLike[str],
    figures: dict[str, str] | None = None,
    *,
    title: str = "Training checks",
) -> str:
    """Write `render_html` to `path` (UTF-8); returns the path.

    Example:
        >>> checks.write_html(checks.run_recipe(model_fn, (X, y), F.cross_entropy), "checks.html")  # doctest: +SKIP
    """
    Path(path).write_text(render_html(report, figures, title=title), encoding="utf-8")
    return os.fspath(path)


def write_recipe_html(report: pl.DataFrame, setup: Setup, path: str | os.PathLike[str]) -> str:
    """`write_html` with the set-up's recipe figures (matplotlib missing: the table alone)."""
    figures: dict[str, str] = {}
    with contextlib.suppress(ImportError):
        figures = recipe_figures(setup)
    return write_html(report, path, figures)
