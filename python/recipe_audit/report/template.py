"""The report's HTML: one Jinja2 template, autoescaped, no script, no external resource."""

from __future__ import annotations

from typing import Any

from recipe_audit._optional import require

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>recipe-audit report: {{ title }}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d1d1f; background: #fafafa; }
header { background: #1f2937; color: #f9fafb; padding: 14px 28px; }
header h1 { font-size: 20px; margin: 0 0 4px; }
header .sub { color: #cbd5e1; font-size: 13px; word-break: break-all; }
nav { padding: 8px 28px; background: #e5e7eb; font-size: 13px; position: sticky; top: 0; }
nav a { margin-right: 14px; color: #1f2937; text-decoration: none; }
nav a .n { background: #b91c1c; color: white; border-radius: 8px; padding: 0 6px; margin-left: 3px; font-size: 11px; }
main { padding: 6px 28px 40px; max-width: 1400px; }
section { background: white; border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 18px 14px; margin: 14px 0; }
h2 { font-size: 17px; margin: 6px 0 8px; }
h3 { font-size: 14px; margin: 12px 0 6px; }
pre.summary { background: #f3f4f6; padding: 10px 12px; border-radius: 6px; white-space: pre-wrap; word-break: break-all; font-size: 13px; }
table { border-collapse: collapse; font-size: 12.5px; margin: 4px 0 8px; }
th, td { border-bottom: 1px solid #e5e7eb; padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
th { color: #4b5563; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.path { word-break: break-all; max-width: 640px; }
.bad { color: #b91c1c; font-weight: 600; }
.ok { color: #15803d; }
.muted { color: #6b7280; font-size: 12px; }
.gallery { display: flex; flex-wrap: wrap; gap: 10px; }
.group { display: flex; flex-wrap: wrap; gap: 6px; border: 1px solid #e5e7eb; border-radius: 6px; padding: 6px; background: #fcfcfd; }
.group .tag { width: 100%; font-size: 12px; color: #374151; }
figure { margin: 0; width: 124px; }
figure .thumb { width: 120px; height: 120px; display: flex; align-items: center; justify-content: center; background: #f3f4f6; border-radius: 4px; overflow: hidden; }
figure img { max-width: 120px; max-height: 120px; }
figure .none { font-size: 11px; color: #9ca3af; text-align: center; padding: 4px; }
figcaption { font-size: 11px; line-height: 1.25; word-break: break-all; margin-top: 2px; }
figcaption b { font-weight: 600; }
figure.rep .thumb { outline: 2px solid #15803d; }
figure.twin .thumb { outline: 2px solid #b91c1c; }
img.plot { max-width: 100%; height: auto; }
.plots { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
</style>
</head>
<body>
<header>
<h1>recipe-audit report</h1>
<div class="sub">{{ title }} &middot; {{ n_files }} files &middot; recipe_audit {{ version }}</div>
</header>
<nav>{% for id, name, n in nav %}<a href="#{{ id }}">{{ name }}{% if n %}<span class="n">{{ n }}</span>{% endif %}</a>{% endfor %}</nav>
<main>
{% macro figure(item, cls="") -%}
<figure class="{{ cls }}" title="{{ item.path }}"><div class="thumb">{% if item.thumb %}<img src="{{ item.thumb }}" alt="{{ item.name }}">{% else %}<div class="none">no preview</div>{% endif %}</div>
<figcaption>{{ item.name }}{% if item.note %}<br><b>{{ item.note }}</b>{% endif %}</figcaption></figure>
{%- endmacro %}
{% macro more(n, what) %}{% if n > 0 %}<p class="muted">&hellip; and {{ n }} more {{ what }} (all of them are in the Parquet frames: <code>Audit.write</code>).</p>{% endif %}{% endmacro %}

<section id="summary">
<h2>Summary</h2>
<pre class="summary">{{ summary }}</pre>
{% if problems %}<table><tr><th>problem</th><th class="num">count</th></tr>
{% for name, count in problems %}<tr><td>{{ name }}</td><td class="num bad">{{ count }}</td></tr>{% endfor %}
</table>{% endif %}
<p class="muted">Not found: {{ clean | join(", ") }}.</p>
</section>

<section id="broken">
<h2>Broken files</h2>
{% if broken.rows %}<table><tr><th>file</th><th>status</th><th>reason</th></tr>
{% for r in broken.rows %}<tr><td class="path" title="{{ r.path }}">{{ r.name }}</td><td class="bad">{{ r.status }}</td><td>{{ r.error }}</td></tr>{% endfor %}
</table>{{ more(broken.more, "broken files") }}{% else %}<p class="ok">Every file decoded.</p>{% endif %}
</section>

<section id="leaks">
<h2>Leaks: val/test files with a copy in train</h2>
{% if leaks.cards %}<div class="gallery">{% for leak in leaks.cards %}<div class="group"><div class="tag">{{ leak.kind }}, {{ leak.distance }} bits{% if leak.count > 1 %}, {{ leak.count }} train copies{% endif %}</div>
{{ figure(leak.file, "twin") }}{{ figure(leak.twin) }}</div>{% endfor %}</div>{{ more(leaks.more, "leaks") }}
{% else %}<p class="ok">No file outside train has a copy in train.</p>{% endif %}
</section>

<section id="conflicts">
<h2>Label conflicts: copies with different labels</h2>
{% if conflicts.cards %}<div class="gallery">{% for g in conflicts.cards %}<div class="group"><div class="tag">labels: {{ g.labels }}</div>
{% for m in g.members %}{{ figure(m) }}{% endfor %}</div>{% endfor %}</div>{{ more(conflicts.more, "groups") }}
{% else %}<p class="ok">No copies carry different labels.</p>{% endif %}
</section>

{% if label_errors %}<section id="label-errors">
<h2>Label errors: pictures whose label the model (or a copy) disputes</h2>
<p class="muted">Confident learning on the out-of-sample probabilities given to the audit: each caption is the given label, the model's suggestion, the probability of the given label (lower is worse) and the evidence.</p>
<table><tr><th>class</th><th class="num">files</th><th class="num">estimated noise</th><th>mostly truly</th></tr>
{% for r in label_errors.noise %}<tr><td>{{ r.label }}</td><td class="num">{{ r.count }}</td><td class="num">{{ r.rate }}</td><td>{{ r.with }}</td></tr>{% endfor %}</table>
{% if label_errors.cards %}<div class="gallery">{% for m in label_errors.cards %}{{ figure(m) }}{% endfor %}</div>{{ more(label_errors.more, "files") }}
{% else %}<p class="ok">No label is disputed.</p>{% endif %}
</section>
{% endif %}
<section id="duplicates">
<h2>Duplicate groups</h2>
{% if duplicates.cards %}<p class="muted">Green outline: the file to keep (most pixels). Each caption gives the kind and the distance in pHash bits to it.</p>
<div class="gallery">{% for g in duplicates.cards %}<div class="group"><div class="tag">group {{ g.group }}: {{ g.size }} files</div>
{% for m in g.members %}{{ figure(m, "rep" if m.rep else "") }}{% endfor %}{% if g.hidden %}<div class="muted">+{{ g.hidden }} more</div>{% endif %}</div>{% endfor %}</div>{{ more(duplicates.more, "groups") }}
{% else %}<p class="ok">No duplicates.</p>{% endif %}
</section>

<section id="labels">
<h2>Labels</h2>
{% if labels.plot %}<img class="plot" src="{{ labels.plot }}" alt="class histogram per split">{% endif %}
{% if labels.splits %}<table><tr><th>split</th><th class="num">files</th><th class="num">classes</th><th class="num">imbalance</th><th class="num">entropy</th><th>vs</th><th class="num">JS divergence</th><th class="num">chi&sup2; p</th></tr>
{% for s in labels.splits %}<tr><td>{{ s.split }}</td><td class="num">{{ s.count }}</td><td class="num">{{ s.classes }}</td><td class="num {{ 'bad' if s.imbalanced }}">{{ s.imbalance }}</td><td class="num">{{ s.entropy }}</td><td>{{ s.reference }}</td><td class="num {{ 'bad' if s.shifted }}">{{ s.js }}</td><td class="num {{ 'bad' if s.shifted }}">{{ s.p }}</td></tr>{% endfor %}
</table>{% else %}<p class="muted">No labels: the folder layout gives none and no manifest was passed.</p>{% endif %}
{% if labels.missing %}<h3>Classes missing from a split</h3><p>{% for s, l in labels.missing %}<span class="bad">{{ l }}</span> in {{ s }}{% if not loop.last %}, {% endif %}{% endfor %}</p>{{ more(labels.missing_more, "") }}{% endif %}
{% if labels.rare %}<h3>Rare classes</h3><p>{% for s, l, share in labels.rare %}{{ l }} in {{ s }} ({{ share }}){% if not loop.last %}, {% endif %}{% endfor %}</p>{{ more(labels.rare_more, "") }}{% endif %}
{% if labels.table %}<h3>Counts</h3><table><tr><th>class</th>{% for s in labels.columns %}<th class="num">{{ s }}</th>{% endfor %}</tr>
{% for row in labels.table %}<tr><td>{{ row.label }}</td>{% for c in row.counts %}<td class="num {{ 'bad' if c == 0 }}">{{ c }}</td>{% endfor %}</tr>{% endfor %}</table>{{ more(labels.table_more, "classes") }}{% endif %}
</section>

<section id="pixels">
<h2>Sizes and pixels</h2>
<div class="plots">{% if plots.scatter %}<img class="plot" src="{{ plots.scatter }}" alt="width against height">{% endif %}
{% if plots.measures %}<img class="plot" src="{{ plots.measures }}" alt="histograms of brightness, sharpness, colorfulness and entropy">{% endif %}</div>
</section>

<section id="outliers">
<h2>Outliers</h2>
{% for f in outliers.flags %}<h3>{{ f.flag }} <span class="{{ 'bad' if f.count else 'ok' }}">({{ f.count }})</span></h3>
<p class="muted">{{ f.rule }}</p>
{% if f.cards %}<div class="gallery">{% for m in f.cards %}{{ figure(m) }}{% endfor %}</div>{% endif %}{% endfor %}
<h3>Highest scores</h3><p class="muted">The images furthest from the rest on any measure (robust z, overall or within the class): the order in which to look.</p>
<div class="gallery">{% for m in outliers.top %}{{ figure(m) }}{% endfor %}</div>
</section>

<section id="biases">
<h2>Biases: image properties by split and by class</h2>
<p class="muted">A property is <b>shifted</b> when a split differs from {{ biases.shift[0].reference if biases.shift else 'train' }}, and <b>associated</b> with a class when it tells that class from the rest: a shortcut a network can learn (expected when it is the content itself). Shifted: {{ biases.rule }}.</p>
{% if biases.plot %}<img class="plot" src="{{ biases.plot }}" alt="distributions of the shifted and associated properties">{% endif %}
{% if biases.shift %}<h3>Shift against the reference split</h3><table><tr><th>property</th><th>split</th><th>vs</th><th class="num">effect</th><th class="num">p</th><th>detail</th></tr>
{% for r in biases.shift %}<tr><td>{{ r.property }}</td><td>{{ r.split }}</td><td>{{ r.reference }}</td><td class="num {{ 'bad' if r.bad }}">{{ r.effect }}</td><td class="num {{ 'bad' if r.bad }}">{{ r.p }}</td><td>{{ r.detail }}</td></tr>{% endfor %}</table>{% else %}<p class="muted">No split to compare.</p>{% endif %}
{% if biases.association %}<h3>Properties that tell a class from the rest</h3><table><tr><th>property</th><th>class</th><th class="num">score</th><th class="num">p</th><th>detail</th></tr>
{% for r in biases.association %}<tr><td>{{ r.property }}</td><td>{{ r.label }}</td><td class="num {{ 'bad' if r.bad }}">{{ r.score }}</td><td class="num {{ 'bad' if r.bad }}">{{ r.p }}</td><td>{{ r.detail }}</td></tr>{% endfor %}</table>{% else %}<p class="muted">No labels to compare.</p>{% endif %}
</section>

{% if issues.rows or boxes %}<section id="annotations">
<h2>Annotations</h2>
{% if boxes %}<p>{{ boxes.per_image }}</p>{% if boxes.plot %}<img class="plot" src="{{ boxes.plot }}" alt="box area and aspect histograms">{% endif %}
<table><tr><th>class</th><th class="num">boxes</th><th class="num">images</th><th class="num">median area</th><th class="num">median aspect</th><th class="num">small</th></tr>
{% for r in boxes.rows %}<tr><td>{{ r.label }}</td><td class="num">{{ r.boxes }}</td><td class="num">{{ r.images }}</td><td class="num">{{ r.area }}</td><td class="num">{{ r.aspect }}</td><td class="num">{{ r.small }}</td></tr>{% endfor %}</table>{{ more(boxes.more, "classes") }}{% endif %}
{% if issues.rows %}<h3>Where files and annotations disagree</h3><table><tr><th>file</th><th>issue</th><th>detail</th></tr>
{% for r in issues.rows %}<tr><td class="path" title="{{ r.path }}">{{ r.name }}</td><td class="bad">{{ r.issue }}</td><td>{{ r.detail }}</td></tr>{% endfor %}</table>{{ more(issues.more, "issues") }}{% endif %}
</section>{% endif %}

<p class="muted">Galleries and tables are capped ({{ caps }}) so the page stays small for any dataset; the Parquet frames hold everything. Steps: {{ timing }}.</p>
</main>
</body>
</html>
"""


def render(context: dict[str, Any]) -> str:
    """Fill the template; every value is escaped (text and attributes) by Jinja2's autoescape."""
    jinja2 = require("jinja2", extra="report", feature="the HTML report")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False)
    page: str = env.from_string(TEMPLATE).render(**context)
    return page


__all__ = ["render", "TEMPLATE"]
