"""The static site shared by the report pages and the data docs: template, CSS, assets.

Pages must open from a file share, the lake or a laptop without network, so nothing is
fetched from a CDN: plotly.js is written once beside the pages and every page links it
and one shared stylesheet. Files are replaced atomically so a reader never sees half a page.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
from jinja2 import DictLoader, Environment, select_autoescape
from markupsafe import Markup, escape

PLOTLY_JS = "plotly.min.js"
CSS_FILE = "report.css"


@dataclass(frozen=True)
class NavLink:
    file: str
    label: str
    blurb: str


#: Every page of the site, in menu order; the portal links them all.
NAV: tuple[NavLink, ...] = (
    NavLink("index.html", "Overview", "Headline figures of the last run."),
    NavLink(
        "distance.html",
        "Distance",
        "Average km per vehicle per operating period, and its distribution over vehicles.",
    ),
    NavLink("clients.html", "Clients", "Clients ranked by positioned vehicle updates."),
    NavLink(
        "latest_path.html",
        "Latest path",
        "Latest hour of the top client's most active vehicle, on a map of Berlin.",
    ),
    NavLink("kpis.html", "KPIs", "Daily and monthly KPIs per client, month-over-month change."),
    NavLink(
        "quality.html",
        "Data quality",
        "Check results, rows through each layer, profiling and run history.",
    ),
    NavLink(
        "data_docs.html",
        "Data docs",
        "Data dictionary, ERD and lineage generated from the live catalog.",
    ),
)


@dataclass
class Section:
    """One card on a page: a title, a chart or table (or an empty-state message), a note."""

    title: str
    body: Markup | str = ""
    note: str = ""
    empty: str | None = None
    wide: bool = True
    anchor: str | None = None


@dataclass
class Page:
    file: str
    title: str
    intro: str = ""
    sections: list[Section] = field(default_factory=list)
    lead: Markup = Markup("")  # headline figures or link tiles above the cards
    head: Markup = Markup("")
    uses_plotly: bool = True


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ page.title }} · Fleet telemetry</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{ css }}">
{% if page.uses_plotly %}<script src="{{ plotly_js }}" charset="utf-8"></script>
{% endif %}{{ page.head }}
</head>
<body>
<header class="top">
  <a class="brand" href="index.html">Fleet telemetry</a>
  <nav>
  {%- for link in nav %}
    <a href="{{ link.file }}"{% if link.file == page.file %} aria-current="page"{% endif %}>
      {{- link.label }}</a>
  {%- endfor %}
  </nav>
</header>
<main>
<h1>{{ page.title }}</h1>
{% if page.intro %}<p class="intro">{{ page.intro }}</p>{% endif %}
{{ page.lead }}
{% for s in page.sections %}
<section class="card{% if not s.wide %} half{% endif %}"
  {%- if s.anchor %} id="{{ s.anchor }}"{% endif %}>
  <h2>{{ s.title }}</h2>
  {% if s.empty %}<p class="empty">{{ s.empty }}</p>{% else %}{{ s.body }}{% endif %}
  {% if s.note %}<p class="note"><span>How this is computed:</span> {{ s.note }}</p>{% endif %}
</section>
{% endfor %}
</main>
<footer>{{ footer }}</footer>
</body>
</html>
"""

CSS = """:root {
  --ink: #1d2733; --muted: #5b6673; --line: #dde2e8; --bg: #f5f6f8; --card: #fff;
  --accent: #2563eb; --pass: #15803d; --warn: #b45309; --fail: #b91c1c;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif; }
header.top { background: #1f2a37; color: #fff; display: flex; align-items: center;
  flex-wrap: wrap; gap: .25rem 1.5rem; padding: .6rem 1.5rem; }
header.top a { color: #d6deea; text-decoration: none; }
header.top .brand { color: #fff; font-weight: 600; font-size: 1.05rem; }
header.top nav { display: flex; flex-wrap: wrap; gap: .1rem .9rem; }
header.top nav a { padding: .15rem .1rem; border-bottom: 2px solid transparent; }
header.top nav a:hover { color: #fff; }
header.top nav a[aria-current="page"] { color: #fff; border-bottom-color: #60a5fa; }
main { max-width: 1240px; margin: 0 auto; padding: 1.2rem 1.5rem 2rem;
  display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 1rem; }
main > h1, main > .intro, main > .card, main > .stats, main > .links { grid-column: 1 / -1; }
main > .card.half { grid-column: auto; }
h1 { font-size: 1.55rem; margin: .2rem 0 0; }
h2 { font-size: 1.1rem; margin: 0 0 .5rem; }
h3 { font-size: 1rem; margin: 1rem 0 .4rem; }
.intro { color: var(--muted); margin: 0; max-width: 62rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 1rem 1.2rem; min-width: 0; }
.note { color: var(--muted); font-size: .85rem; margin: .6rem 0 0; max-width: 70rem; }
.note span { font-weight: 600; }
.empty { border: 1px dashed #b8c1cc; border-radius: 6px; padding: 1.5rem; text-align: center;
  color: var(--muted); background: #fafbfc; margin: 0; }
.chart { width: 100%; }
.scroll { overflow-x: auto; }
table.data { border-collapse: collapse; width: 100%; font-size: .87rem; }
table.data th, table.data td { padding: .3rem .55rem; border-bottom: 1px solid var(--line);
  text-align: left; vertical-align: top; }
table.data th { background: #f0f2f5; font-weight: 600; position: sticky; top: 0; }
table.data tr:nth-child(even) td { background: #fafbfc; }
table.data td.num, table.data th.num { text-align: right; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
table.data code, .card code { font-size: .84rem; background: #f0f2f5; padding: 0 .25rem;
  border-radius: 3px; }
.missing { color: var(--fail); font-style: italic; }
table.data td { overflow-wrap: break-word; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .78rem;
  font-weight: 600; color: #fff; background: #6b7280; white-space: nowrap; }
.badge.pass, .badge.success, .badge.public { background: var(--pass); }
.badge.warn, .badge.internal { background: var(--warn); }
.badge.fail, .badge.failed, .badge.personal_location { background: var(--fail); }
.badge.running { background: var(--accent); }
.badge.quasi_identifier, .badge.pseudonymous_identifier { background: #7c3aed; }
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(210px, 1fr)); gap: 1rem; }
.stat { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: .9rem 1.1rem; border-top: 4px solid var(--accent); }
.stat.pass { border-top-color: var(--pass); } .stat.warn { border-top-color: var(--warn); }
.stat.fail { border-top-color: var(--fail); }
.stat .label { color: var(--muted); font-size: .85rem; }
.stat .value { font-size: 1.75rem; font-weight: 650; line-height: 1.25; margin: .15rem 0;
  font-variant-numeric: tabular-nums; }
.stat .value small { font-size: .95rem; font-weight: 500; color: var(--muted); }
.stat .sub { color: var(--muted); font-size: .8rem; }
.links { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 1rem; }
.links a { display: block; background: var(--card); border: 1px solid var(--line);
  border-radius: 8px; padding: .8rem 1rem; color: var(--ink); text-decoration: none; }
.links a:hover { border-color: var(--accent); }
.links a strong { color: var(--accent); display: block; }
.links a span { color: var(--muted); font-size: .88rem; }
.toc { columns: 3 16rem; font-size: .88rem; margin: .3rem 0 0; padding-left: 1.1rem; }
.filter { width: 100%; max-width: 28rem; padding: .35rem .6rem; border: 1px solid #b8c1cc;
  border-radius: 6px; font: inherit; margin-bottom: .6rem; }
.flow { display: flex; flex-wrap: wrap; align-items: stretch; gap: .35rem; margin: .3rem 0 .9rem; }
.flow .step { border: 1px solid var(--line); border-radius: 6px; padding: .35rem .6rem;
  background: #f8fafc; font-size: .82rem; min-width: 9rem; max-width: 17rem; }
.flow .step b { display: block; font-size: .72rem; text-transform: uppercase;
  letter-spacing: .04em; color: var(--muted); }
ol.chain { margin: 0; padding-left: 1.3rem; font-size: .84rem; }
ol.chain li { margin: .05rem 0; }
ol.chain b { font-size: .74rem; text-transform: uppercase; letter-spacing: .03em;
  color: var(--muted); margin-right: .3rem; }
.flow .arrow { align-self: center; color: var(--muted); font-size: 1.1rem; }
.erd { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; background: #fcfcfd; }
.erd svg { display: block; }
footer { max-width: 1240px; margin: 0 auto; padding: 0 1.5rem 2rem; color: var(--muted);
  font-size: .8rem; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
"""

_ENV = Environment(
    loader=DictLoader({"page.html": _TEMPLATE}),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

#: plotly config for every chart: no plotly logo, resize with the card, PNG export named.
PLOTLY_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["lasso2d", "select2d"],
}

_FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif'
#: One look for every chart (colour order, font, margins); the cards carry the titles.
TEMPLATE = go.layout.Template(pio.templates["plotly_white"])
TEMPLATE.layout.update(
    font={"family": _FONT, "size": 13, "color": "#1d2733"},
    margin={"l": 70, "r": 24, "t": 24, "b": 60},
    colorway=[
        "#2563eb",
        "#f59e0b",
        "#10b981",
        "#ef4444",
        "#8b5cf6",
        "#06b6d4",
        "#ec4899",
        "#84cc16",
        "#64748b",
        "#a16207",
    ],
    hoverlabel={"font": {"family": _FONT}},
    legend={"orientation": "v", "yanchor": "top", "y": 1, "x": 1.02, "xanchor": "left"},
)


def figure_html(fig: go.Figure, div_id: str, height: int = 420) -> Markup:
    """A chart as a div + script; plotly.js itself comes from the page head, not a CDN."""
    fig.update_layout(template=TEMPLATE, height=height, autosize=True)
    html = pio.to_html(
        fig,
        config=PLOTLY_CONFIG,
        include_plotlyjs=False,
        full_html=False,
        default_width="100%",
        default_height=f"{height}px",
        div_id=div_id,
    )
    return Markup(f'<div class="chart">{html}</div>')


def table_html(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    numeric: Iterable[int] = (),
    css_id: str | None = None,
    widths: Sequence[str] = (),
) -> Markup:
    """A small HTML table; cells are escaped unless they are Markup (badges, links)."""
    num = set(numeric)
    fixed = ' style="table-layout:fixed"' if widths else ""
    out = [f'<div class="scroll"><table class="data"{_id(css_id)}{fixed}>']
    if widths:
        out.append("<colgroup>")
        out += [f'<col style="width:{escape(w)}">' for w in widths]
        out.append("</colgroup>")
    out.append("<thead><tr>")
    for i, h in enumerate(headers):
        out.append(f'<th{" class=num" if i in num else ""}>{escape(h)}</th>')
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            out.append(f'<td{" class=num" if i in num else ""}>{escape(cell)}</td>')
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return Markup("".join(out))


def _id(css_id: str | None) -> str:
    return f' id="{escape(css_id)}"' if css_id else ""


def badge(status: object) -> Markup:
    text = str(status)
    return Markup(f'<span class="badge {escape(text)}">{escape(text)}</span>')


def fmt_int(value: object) -> str:
    if value is None or value != value:  # None or NaN
        return "–"
    return f"{int(value):,}"


def fmt_float(value: object, digits: int = 2) -> str:
    if value is None or value != value:
        return "–"
    return f"{float(value):,.{digits}f}"


def fmt_pct(value: object, digits: int = 1, signed: bool = False) -> str:
    """0.123 -> '12.3 %' ('+12.3 %' when signed); None -> 'n/a'."""
    if value is None or value != value:
        return "n/a"
    return f"{float(value) * 100:{'+' if signed else ''},.{digits}f} %"


def render(page: Page, footer: str) -> str:
    """The page's HTML with the shared navigation and stylesheet."""
    return _ENV.get_template("page.html").render(
        page=page, nav=NAV, css=CSS_FILE, plotly_js=PLOTLY_JS, footer=footer
    )


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Replace ``path`` in one rename so a browser or the lake copy never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    else:
        tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def write_assets(out_dir: Path) -> list[Path]:
    """The stylesheet and plotly.js beside the pages (plotly.js rewritten only if it changed)."""
    from plotly.offline import get_plotlyjs

    css = write_atomic(out_dir / CSS_FILE, CSS)
    js_path = out_dir / PLOTLY_JS
    js = get_plotlyjs().encode("utf-8")
    if not js_path.exists() or _digest(js_path.read_bytes()) != _digest(js):
        write_atomic(js_path, js)
    return [css, js_path]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
