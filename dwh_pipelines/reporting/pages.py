"""The report pages: each reads a few small, aggregated results from dwh_db and draws them.

Everything heavy (averages, percentiles, histogram bins, latest check per layer) is computed
in PostgreSQL by the files in ``sql/``; Python only shapes a handful of rows into charts.
A relation that does not exist yet (platform never run) reads as no rows, and every page
then says so instead of drawing an empty chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import psycopg
from markupsafe import Markup, escape
from plotly.subplots import make_subplots

from dwh_pipelines.reporting import geo
from dwh_pipelines.reporting.site import (
    NAV,
    TEMPLATE,
    Page,
    Section,
    badge,
    figure_html,
    fmt_float,
    fmt_int,
    fmt_pct,
    table_html,
)
from pipeline_core.classification import MASKED_CLASSES, classify
from pipeline_core.db import read_sql

SQL_DIR = Path(__file__).parent / "sql"

#: How many items a chart shows at most; the note says when there are more.
MAX_PERIODS = 40
MAX_CLIENTS = 15
MAX_KPI_CLIENTS = 8
KPI_DAYS = 92
KPI_MONTHS = 13
MAX_RUNS = 20

STATUS_COLORS = {
    "pass": "#15803d",  # nosec B105  # a colour, not a password
    "success": "#15803d",
    "warn": "#d97706",
    "fail": "#b91c1c",
    "failed": "#b91c1c",
    "running": "#2563eb",
}
LAYER_ORDER = ["lake", "raw", "staging", "semantic", "dwh"]


def no_data(what: str) -> str:
    return (
        f"No data yet: {what} is empty. Run the pipeline (make run), then rebuild the "
        "reports (python -m dwh_pipelines.reporting)."
    )


class Reader:
    """Runs the report SQL files on dwh_db; a relation that does not exist reads as no rows."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self._exists: dict[str, bool] = {}

    def exists(self, *relations: str) -> bool:
        for rel in relations:
            if rel not in self._exists:
                row = self.conn.execute("SELECT to_regclass(%s) IS NOT NULL", (rel,)).fetchone()
                self._exists[rel] = bool(row and row[0])
        return all(self._exists[r] for r in relations)

    def frame(
        self, name: str, params: dict | None = None, *, requires: Sequence[str] = ()
    ) -> pd.DataFrame:
        """Result of ``sql/<name>.sql`` as a DataFrame (small results only)."""
        if not self.exists(*requires):
            return pd.DataFrame()
        cur = self.conn.execute(read_sql(SQL_DIR / f"{name}.sql"), params or {})
        columns = [d.name for d in cur.description or []]
        return pd.DataFrame(cur.fetchall(), columns=columns)


@dataclass
class Context:
    """What every page may use: the reader, the run summary and who built the pages."""

    reader: Reader
    summary: dict
    run_id: str
    generated_at: datetime
    last_run: dict | None


# ----------------------------------------------------------------------------- helpers


def _client_colors(clients: Sequence[str]) -> dict[str, str]:
    """One colour per client, stable across the charts of a page (order = given order)."""
    palette = list(TEMPLATE.layout.colorway)
    return {c: palette[i % len(palette)] for i, c in enumerate(clients)}


def _duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return "–"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _stat(label: str, value: Markup | str, sub: str = "", cls: str = "") -> Markup:
    return Markup(
        f'<div class="stat {escape(cls)}"><div class="label">{escape(label)}</div>'
        f'<div class="value">{escape(value)}</div><div class="sub">{escape(sub)}</div></div>'
    )


def _stats(*stats: Markup) -> Markup:
    return Markup('<div class="stats">') + Markup("").join(stats) + Markup("</div>")


def _utc(ts: object, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A timestamp as UTC text ('–' when missing)."""
    t = pd.Timestamp(ts) if ts is not None else pd.NaT
    if pd.isna(t):
        return "–"
    if t.tzinfo is not None:
        t = t.tz_convert("UTC")
    return t.strftime(fmt)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _reference_line(
    fig: go.Figure, value: float, name: str, dash: str, color: str, *, vertical: bool
) -> None:
    """A dashed reference line whose label goes in the legend (never over the bars)."""
    if vertical:
        fig.add_vline(x=value, line_dash=dash, line_color=color, line_width=2)
    else:
        fig.add_hline(y=value, line_dash=dash, line_color=color, line_width=2)
    fig.add_scatter(
        x=[None],
        y=[None],
        mode="lines",
        line={"dash": dash, "color": color, "width": 2},
        name=name,
        showlegend=True,
        hoverinfo="skip",
    )


def _nice_width(span: float, bins: int = 25) -> float:
    """A round bin width (1, 2, 2.5 or 5 x 10^k) giving about ``bins`` bins over ``span``."""
    if not span or span <= 0:
        return 1.0
    raw = span / bins
    exp = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * exp:
            return m * exp
    return 10 * exp


# ----------------------------------------------------------------------------- index


def index_page(ctx: Context) -> Page:
    """The portal: the answer, volumes, quality and the last run, and links to every page."""
    s = ctx.summary
    ans, dq, layers = s["answer"], s["data_quality"], s["layers"]
    avg = ans["avg_km_per_vehicle_period"]
    answer = _stat(
        "Average km per vehicle per operating period",
        Markup(f"{avg:,.2f} <small>km</small>") if avg is not None else "–",
        (
            f"over {ans['vehicle_periods']:,} vehicle-periods in {len(ans['periods']):,} "
            "counted operating periods"
            if avg is not None
            else "no distance computed yet"
        ),
    )
    staging = layers.get("staging", {})
    events = _stat(
        "Events processed",
        fmt_int(s["source"]["lines"]) if s["source"]["lines"] else "0",
        f"feed lines from {s['source']['objects']:,} objects · "
        f"{staging.get('rows_out', 0):,} distinct events kept · "
        f"{s['lake']['quarantined_lines']:,} quarantined · "
        f"{staging.get('duplicates_removed', 0):,} duplicates removed",
    )
    checks = dq["checks"]
    counts = {k: sum(c["status"] == k for c in checks) for k in ("pass", "warn", "fail")}
    quality = _stat(
        "Data quality",
        dq["status"].upper() if checks else "no checks yet",
        f"latest result of {len(checks)} checks: {counts['pass']} pass, "
        f"{counts['warn']} warn, {counts['fail']} fail",
        dq["status"] if checks else "",
    )
    lr = ctx.last_run
    run = _stat(
        "Last run",
        _duration(lr["wall_seconds"]) if lr else "–",
        (
            f"run {lr['run_id']} · finished {_utc(lr['finished_at'])} UTC · "
            f"{lr['tasks']} tasks, {lr['failed_tasks']} failed"
            if lr
            else "no pipeline run recorded yet"
        ),
        ("fail" if lr["failed_tasks"] else "pass") if lr else "",
    )
    links = Markup('<div class="links">') + Markup("").join(
        Markup(f'<a href="{link.file}"><strong>{escape(link.label)}</strong>')
        + Markup(f"<span>{escape(link.blurb)}</span></a>")
        for link in NAV[1:]
    )
    links += Markup("</div>")

    if layers:
        rows = []
        for name in sorted(layers, key=lambda n: (LAYER_ORDER + [n]).index(n)):
            lay = layers[name]
            rows_in, rows_out, rejected = lay["rows_in"], lay["rows_out"], lay["rejected"]
            if name == "lake":  # the lake counts lines per batch, not per partition
                lake = s["lake"]
                rows_in, rows_out = s["source"]["lines"], lake["parquet_rows"]
                rejected = lake["quarantined_lines"]
            shown = [fmt_int(rows_in), fmt_int(rows_out), fmt_int(lay["duplicates_removed"])]
            if name == "dwh":  # the star is copied whole: no rows per event date
                shown = ["–", "–", "–"]
            rows.append(
                [
                    name,
                    fmt_int(lay["event_dates"]),
                    *shown,
                    "–" if name == "dwh" else fmt_int(rejected),
                    _utc(pd.Timestamp(lay["last_loaded_at"])),
                ]
            )
        table = table_html(
            [
                "Layer",
                "Event dates",
                "Rows in",
                "Rows out",
                "Duplicates removed",
                "Rejected / quarantined",
                "Last loaded (UTC)",
            ],
            rows,
            numeric=range(1, 6),
        )
        layer_section = Section("Rows held per layer", table, note=_LAYER_NOTE)
    else:
        layer_section = Section(
            "Rows held per layer", empty=no_data("ops.layer_partitions"), note=_LAYER_NOTE
        )
    return Page(
        file="index.html",
        title="Fleet telemetry: overview",
        intro=(
            "How far vehicles drive in an operating period, how much data the platform "
            "processed and whether it passed its checks. Every figure is read from dwh_db "
            "(marts, star and ops schemas) when the pages are built."
        ),
        lead=_stats(answer, events, quality, run) + links,
        sections=[
            layer_section,
            Section(
                "About the figures",
                Markup(
                    "<p>The <b>average km per vehicle per operating period</b> is total km "
                    "÷ (operating period, vehicle) pairs over all counted periods "
                    "(<code>marts.avg_distance_overall</code>). <b>Events processed</b> counts "
                    "the lines ever read from the source feed (<code>ops.lake_batches</code>); "
                    "the figures under it are of the data held, less what retention expired. "
                    "<b>Data quality</b> is the worst latest status of every check "
                    "(<code>ops.dq_results</code>). <b>Last run</b> is the wall time from the "
                    "first task start to the last task end of the most recent run that reached "
                    "the dwh layer (<code>ops.task_runs</code>, report steps excluded).</p>"
                ),
            ),
        ],
        uses_plotly=False,
    )


_LAYER_NOTE = (
    "ops.layer_partitions keeps the last build of every event-date partition per layer; "
    "the rows are summed over the partitions held (dates retention expired left out). The "
    "lake's row is from ops.lake_batches (feed lines read, Parquet rows written, lines "
    "quarantined; batches retention expired left out); dwh copies the star whole "
    "on every build, so it has no rows per event date."
)


# ----------------------------------------------------------------------------- distance


def distance_page(ctx: Context) -> Page:
    """The BI answer per operating period and how the distance spreads over vehicles."""
    r = ctx.reader
    overall = r.frame("distance_overall", requires=["marts.avg_distance_overall"])
    periods = r.frame(
        "distance_periods",
        {"limit": MAX_PERIODS},
        requires=["marts.avg_distance_per_operating_period"],
    )
    star = ["star.fact_vehicle_period_distance", "star.dim_operating_period"]
    stats = r.frame("distance_stats", requires=star)
    overall_avg = None
    if not overall.empty and overall["avg_km_per_vehicle_period"].notna().all():
        overall_avg = float(overall["avg_km_per_vehicle_period"].iloc[0])
    n_periods = int(overall["periods"].iloc[0]) if not overall.empty else 0

    sections = [_periods_section(periods, overall_avg, n_periods)]
    if stats.empty:
        sections.append(
            Section(
                "Distribution over vehicles",
                empty=no_data("star.fact_vehicle_period_distance"),
                note=_HIST_NOTE.format(width="?"),
            )
        )
        sections.append(
            Section("Spread per client", empty=no_data("star.fact_vehicle_period_distance"))
        )
    else:
        total = stats[stats["organization_id"].isna()].iloc[0]
        width = _nice_width(float(total["max_km"]))
        hist = r.frame("distance_histogram", {"width": width}, requires=star)
        sections.append(_histogram_section(hist, total, width, overall_avg))
        sections.append(_box_section(stats[stats["organization_id"].notna()], overall_avg))
    return Page(
        file="distance.html",
        title="Distance per vehicle and operating period",
        intro=(
            "How many km a vehicle drives within one operating period of its client. A period "
            "counts when it was created and not deleted; each vehicle seen in it contributes "
            "the sum of haversine steps between its consecutive accepted GPS points."
        ),
        sections=sections,
    )


def _period_label(row: pd.Series) -> str:
    start, finish = row["period_start"], row["period_finish"]
    end = (
        finish.strftime("%H:%M")
        if finish.date() == start.date()
        else finish.strftime("%d %b %H:%M")
    )
    return f"{row['organization_id']} · {start.strftime('%d %b %Y %H:%M')}–{end}"


def _periods_section(periods: pd.DataFrame, overall_avg: float | None, n: int) -> Section:
    title = "Average km per vehicle, per operating period"
    note = (
        "avg_km = total km of the vehicles seen in the period ÷ number of those vehicles "
        "(marts.avg_distance_per_operating_period; counted periods with at least one "
        "vehicle; a vehicle with one point counts 0 km). The dashed line is the overall "
        "average over all (period, vehicle) pairs (marts.avg_distance_overall), so a period "
        "with more vehicles weighs more than in a plain mean of the bars."
    )
    if periods.empty:
        return Section(title, empty=no_data("marts.avg_distance_per_operating_period"), note=note)
    if n > len(periods):
        note += f" Showing the {len(periods)} most recent of {n:,} periods."
    periods = periods.sort_values(["period_start", "organization_id", "operating_period_id"])
    periods["label"] = periods.apply(_period_label, axis=1)
    dup = periods["label"].duplicated(keep=False)
    periods.loc[dup, "label"] += " · " + periods.loc[dup, "operating_period_id"].str[:8]
    clients = list(dict.fromkeys(periods.sort_values("organization_id")["organization_id"]))
    colors = _client_colors(clients)
    fig = go.Figure()
    for client in clients:
        part = periods[periods["organization_id"] == client]
        fig.add_bar(
            y=part["label"],
            x=part["avg_km"],
            orientation="h",
            name=client,
            marker_color=colors[client],
            text=[
                f"{a:,.1f} km · {_plural(int(v), 'vehicle')}"
                for a, v in zip(part["avg_km"], part["vehicles"], strict=True)
            ],
            textposition="inside",
            insidetextanchor="start",
            customdata=part[["operating_period_id", "vehicles", "total_km"]].to_numpy(),
            hovertemplate=(
                "%{y}<br>period %{customdata[0]}<br>average %{x:,.2f} km per vehicle<br>"
                "%{customdata[1]} vehicles, %{customdata[2]:,.1f} km in total<extra></extra>"
            ),
        )
    if overall_avg is not None:
        _reference_line(
            fig,
            overall_avg,
            f"overall average<br>{overall_avg:,.2f} km",
            "dash",
            "#111827",
            vertical=True,
        )
    fig.update_layout(
        barmode="group",
        bargap=0.25,
        xaxis_title="Average km per vehicle in the period",
        yaxis={
            "categoryorder": "array",
            "categoryarray": list(periods["label"]),
            "autorange": "reversed",
            "automargin": True,
            "title": None,
        },
        legend_title_text="Client",
        margin={"t": 20},
    )
    height = max(320, 34 * len(periods) + 110)
    return Section(title, figure_html(fig, "fig-periods", height), note=note)


_HIST_NOTE = (
    "Each (counted operating period, vehicle) pair of star.fact_vehicle_period_distance is "
    "one observation: the km that vehicle drove in that period. Pairs are counted per "
    "{width} km bin in the warehouse; the dashed line is the overall average (the BI "
    "answer), the dotted line the median."
)


def _histogram_section(
    hist: pd.DataFrame, total: pd.Series, width: float, overall_avg: float | None
) -> Section:
    title = "Distribution over vehicles"
    note = _HIST_NOTE.format(width=f"{width:g}")
    fig = go.Figure(
        go.Bar(
            x=(hist["bin"] + 0.5) * width,
            y=hist["pairs"],
            width=width * 0.95,
            marker_color="#2563eb",
            customdata=pd.DataFrame(
                {"lo": hist["bin"] * width, "hi": (hist["bin"] + 1) * width}
            ).to_numpy(),
            hovertemplate=(
                "%{customdata[0]:,.4g}–%{customdata[1]:,.4g} km: "
                "%{y:,} vehicle-periods<extra></extra>"
            ),
            name="vehicle-periods",
            showlegend=False,
        )
    )
    mean = overall_avg if overall_avg is not None else float(total["mean_km"])
    _reference_line(fig, mean, f"average {mean:,.2f} km", "dash", "#111827", vertical=True)
    median = float(total["median_km"])
    _reference_line(fig, median, f"median {median:,.2f} km", "dot", "#b91c1c", vertical=True)
    fig.update_layout(
        xaxis={"title": "km driven by one vehicle in one operating period", "rangemode": "tozero"},
        yaxis_title="Vehicle-periods",
        # legend above the plot, below the mode bar (which sits in the top 30 px)
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "xanchor": "left"},
        margin={"t": 64},
    )
    note += (
        f" {int(total['pairs']):,} pairs; min {float(total['min_km']):,.2f} km, "
        f"max {float(total['max_km']):,.2f} km."
    )
    return Section(title, figure_html(fig, "fig-distance-hist", 400), note=note, wide=False)


def _box_section(stats: pd.DataFrame, overall_avg: float | None) -> Section:
    title = "Spread per client"
    note = (
        "Per client: box = 25th to 75th percentile of km per (period, vehicle) pair, line = "
        "median, dashed line in the box = mean, whiskers = smallest and largest pair "
        "(percentile_cont over star.fact_vehicle_period_distance, counted periods)."
    )
    if stats.empty:
        return Section(title, empty=no_data("star.fact_vehicle_period_distance"), note=note)
    shown = stats.head(MAX_CLIENTS)
    if len(stats) > len(shown):
        note += f" Showing the {len(shown)} clients with the most pairs of {len(stats)}."
    labels = [f"{c} ({n:,})" for c, n in zip(shown["organization_id"], shown["pairs"], strict=True)]
    fig = go.Figure(
        go.Box(
            x=labels,
            q1=shown["q1_km"],
            median=shown["median_km"],
            q3=shown["q3_km"],
            lowerfence=shown["min_km"],
            upperfence=shown["max_km"],
            mean=shown["mean_km"],
            boxpoints=False,
            marker_color="#2563eb",
            name="km per vehicle-period",
            showlegend=False,
        )
    )
    if overall_avg is not None:
        _reference_line(
            fig,
            overall_avg,
            f"overall average {overall_avg:,.2f} km",
            "dash",
            "#111827",
            vertical=False,
        )
    fig.update_layout(
        xaxis_title="Client (vehicle-periods)",
        yaxis_title="km per vehicle and period",
        # legend above the plot, below the mode bar (which sits in the top 30 px)
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "xanchor": "left"},
        margin={"t": 64},
    )
    return Section(title, figure_html(fig, "fig-distance-box", 400), note=note, wide=False)


# ----------------------------------------------------------------------------- clients


def clients_page(ctx: Context) -> Page:
    """Who sends the most positioned updates."""
    df = ctx.reader.frame("clients", {"limit": 25}, requires=["marts.no_updates_per_client"])
    note = (
        "Positioned vehicle updates (updates with coordinates and a position time) per client "
        "over all loaded days, ranked by marts.no_updates_per_client; share = the client's "
        "updates ÷ all clients' updates."
    )
    if df.empty:
        sections = [Section("Top clients by updates", empty=no_data("marts.no_updates_per_client"))]
    else:
        clients = int(df["clients"].iloc[0])
        top = df.head(MAX_CLIENTS)
        fig = go.Figure(
            go.Bar(
                y=top["organization_id"],
                x=top["updates"],
                orientation="h",
                marker_color="#2563eb",
                text=[
                    f"{u:,} ({s * 100:.1f} %)"
                    for u, s in zip(top["updates"], top["share"], strict=True)
                ],
                textposition="auto",
                customdata=top[["rank", "first_day", "last_day"]].astype(str).to_numpy(),
                hovertemplate=(
                    "#%{customdata[0]} %{y}<br>%{x:,} updates<br>"
                    "%{customdata[1]} to %{customdata[2]}<extra></extra>"
                ),
            )
        )
        fig.update_layout(
            xaxis_title="Positioned updates",
            yaxis={"autorange": "reversed", "automargin": True, "title": None},
            showlegend=False,
        )
        chart_note = note + (
            f" Showing the top {len(top)} of {clients:,} clients." if clients > len(top) else ""
        )
        rows = [
            [
                int(r.rank),
                r.organization_id,
                fmt_int(r.updates),
                fmt_pct(r.share),
                str(r.first_day),
                str(r.last_day),
            ]
            for r in df.itertuples()
        ]
        table = table_html(
            ["Rank", "Client", "Updates", "Share", "First day (UTC)", "Last day (UTC)"],
            rows,
            numeric=[0, 2, 3],
        )
        sections = [
            Section(
                "Top clients by updates",
                figure_html(fig, "fig-clients", max(300, 40 * len(top) + 110)),
                note=chart_note,
            ),
            Section(
                "Client ranking",
                table,
                note=f"The {len(df)} highest-ranked of {clients:,} clients, from "
                "marts.no_updates_per_client.",
            ),
        ]
    return Page(
        file="clients.html",
        title="Clients by vehicle updates",
        intro="Which clients' fleets send the most position updates.",
        sections=sections,
    )


# ----------------------------------------------------------------------------- latest path


def latest_path_page(ctx: Context) -> Page:
    """The top client's most active vehicle in its latest hour, drawn without map tiles."""
    df = ctx.reader.frame("latest_path", requires=["marts.latest_updates_on_top1_client"])
    intro = (
        "The path of the vehicle with the most updates of the top client (most updates "
        "overall) during that client's latest hour of data, coloured by time. The map is "
        "drawn offline: longitude and latitude on equal-distance axes, with the S-Bahn ring "
        "and a few landmarks for orientation (no map tiles)."
    )
    if df.empty:
        return Page(
            file="latest_path.html",
            title="Latest path of the top client",
            intro=intro,
            sections=[
                Section(
                    "Path on the map of Berlin",
                    empty=no_data("marts.latest_updates_on_top1_client"),
                )
            ],
        )
    first, last = df["location_at"].iloc[0], df["location_at"].iloc[-1]
    min_lat, min_lng, max_lat, max_lng = geo.BERLIN_BBOX
    inside = df["location_lat"].between(min_lat, max_lat) & df["location_lng"].between(
        min_lng, max_lng
    )
    lead = _stats(
        _stat("Client", str(df["organization_id"].iloc[0]), "rank 1 by positioned updates"),
        _stat(
            "Vehicle",
            _short(df["vehicle_id"].iloc[0], 9),
            f"{df['vehicle_id'].iloc[0]}: most updates in the hour",
        ),
        _stat("Points", fmt_int(len(df)), f"{int((~inside).sum()):,} outside Berlin"),
        _stat(
            "Time (UTC)",
            f"{_utc(first, '%H:%M')}–{_utc(last, '%H:%M')}",
            f"{_utc(first, '%Y-%m-%d')} · {float(df['minutes'].iloc[-1]):.0f} minutes",
        ),
    )
    note = (
        "Points of marts.latest_updates_on_top1_client in path order (seq); colour = minutes "
        f"after the first point ({_utc(first, '%H:%M:%S')} UTC). Positions are as received, "
        "so a GPS jump shows as a long straight segment (the distance facts drop them). The "
        "y axis is stretched by 1/cos(latitude) so that a km is as long north-south as "
        "east-west."
    )
    berlin = _path_figure(df, (min_lat, min_lng, max_lat, max_lng), context=True)
    pad_lat = max((df["location_lat"].max() - df["location_lat"].min()) * 0.08, 0.004)
    pad_lng = max((df["location_lng"].max() - df["location_lng"].min()) * 0.08, 0.006)
    close = _path_figure(
        df,
        (
            df["location_lat"].min() - pad_lat,
            df["location_lng"].min() - pad_lng,
            df["location_lat"].max() + pad_lat,
            df["location_lng"].max() + pad_lng,
        ),
        context=True,
    )
    outside = int((~inside).sum())
    sections = [
        Section(
            "Path on the map of Berlin",
            figure_html(berlin, "fig-path-berlin", 620),
            note=note
            + (
                f" {outside:,} points lie outside the city and off this map; the close-up "
                "shows all points."
                if outside
                else ""
            ),
        ),
        Section(
            "Close-up of the path",
            figure_html(close, "fig-path-close", 620),
            note="Same points, axes fitted to the path (8 % margin). Hover a point for its "
            "time and position.",
        ),
    ]
    return Page(
        file="latest_path.html",
        title="Latest path of the top client",
        intro=intro,
        lead=lead,
        sections=sections,
    )


def _path_figure(
    df: pd.DataFrame, bbox: tuple[float, float, float, float], *, context: bool
) -> go.Figure:
    min_lat, min_lng, max_lat, max_lng = bbox
    mid_lat = (min_lat + max_lat) / 2
    fig = go.Figure()
    if context:
        ring = list(geo.RINGBAHN) + [geo.RINGBAHN[0]]
        fig.add_scatter(
            x=[p[2] for p in ring],
            y=[p[1] for p in ring],
            mode="lines",
            line={"color": "#9ca3af", "width": 2, "dash": "dot"},
            name="S-Bahn ring (approx.)",
            text=[p[0] for p in ring],
            hovertemplate="%{text} (S-Bahn ring)<extra></extra>",
        )
        b = geo.BERLIN_BBOX
        fig.add_scatter(
            x=[b[1], b[3], b[3], b[1], b[1]],
            y=[b[0], b[0], b[2], b[2], b[0]],
            mode="lines",
            line={"color": "#cbd5e1", "width": 1},
            name="Berlin extent",
            hoverinfo="skip",
        )
        marks = [
            m for m in geo.LANDMARKS if min_lat <= m[1] <= max_lat and min_lng <= m[2] <= max_lng
        ]
        if marks:
            fig.add_scatter(
                x=[m[2] for m in marks],
                y=[m[1] for m in marks],
                mode="markers+text",
                marker={"symbol": "diamond", "size": 7, "color": "#6b7280"},
                text=[m[0] for m in marks],
                textposition=[m[3] for m in marks],
                textfont={"size": 11, "color": "#4b5563"},
                name="Landmarks",
                hovertemplate="%{text}<extra></extra>",
            )
    fig.add_scatter(
        x=df["location_lng"],
        y=df["location_lat"],
        mode="lines",
        line={"color": "rgba(55,65,81,0.35)", "width": 1},
        hoverinfo="skip",
        showlegend=False,
    )
    fig.add_scatter(
        x=df["location_lng"],
        y=df["location_lat"],
        mode="markers",
        marker={
            "size": 5,
            "color": df["minutes"],
            "colorscale": "Viridis",
            "colorbar": {"title": {"text": "minutes after<br>first point"}, "thickness": 14},
            "showscale": True,
        },
        name="Vehicle positions",
        customdata=pd.DataFrame(
            {"t": df["location_at"].dt.strftime("%H:%M:%S"), "seq": df["seq"]}
        ).to_numpy(),
        hovertemplate=(
            "#%{customdata[1]} at %{customdata[0]} UTC<br>%{y:.5f} N, %{x:.5f} E<extra></extra>"
        ),
    )
    ends = df.iloc[[0, -1]]
    fig.add_scatter(
        x=ends["location_lng"],
        y=ends["location_lat"],
        mode="markers+text",
        marker={
            "size": 13,
            "symbol": ["circle", "square"],
            "color": ["#15803d", "#b91c1c"],
            "line": {"color": "#fff", "width": 1.5},
        },
        text=["start", "end"],
        textposition="bottom center",
        textfont={"size": 12, "color": "#111827"},
        name="Start / end",
        hoverinfo="skip",
    )
    # a scale bar in the lower left corner: a round number of km about 1/5 of the width
    width_km = (max_lng - min_lng) * geo.km_per_deg_lng(mid_lat)
    bar_km = _nice_width(width_km / 5, bins=1)
    x0 = min_lng + (max_lng - min_lng) * 0.04
    y0 = min_lat + (max_lat - min_lat) * 0.04
    x1 = x0 + bar_km / geo.km_per_deg_lng(mid_lat)
    fig.add_shape(type="line", x0=x0, x1=x1, y0=y0, y1=y0, line={"color": "#111827", "width": 3})
    fig.add_annotation(x=(x0 + x1) / 2, y=y0, text=f"{bar_km:g} km", showarrow=False, yshift=10)
    fig.update_layout(
        xaxis={"title": "Longitude (° E)", "range": [min_lng, max_lng], "showgrid": True},
        yaxis={
            "title": "Latitude (° N)",
            "range": [min_lat, max_lat],
            "scaleanchor": "x",
            "scaleratio": geo.aspect_ratio(mid_lat),
        },
        plot_bgcolor="#f8fafc",
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"t": 40},
    )
    return fig


# ----------------------------------------------------------------------------- KPIs


def kpis_page(ctx: Context) -> Page:
    """Daily and monthly activity per client, with month-over-month change."""
    r = ctx.reader
    daily = r.frame(
        "kpi_daily",
        {"clients": MAX_KPI_CLIENTS, "days": KPI_DAYS},
        requires=["marts.kpi_client_daily"],
    )
    monthly = r.frame(
        "kpi_monthly",
        {"clients": MAX_KPI_CLIENTS, "months": KPI_MONTHS},
        requires=["marts.kpi_client_monthly"],
    )
    order = (
        list(daily.groupby("organization_id")["updates"].sum().sort_values(ascending=False).index)
        if not daily.empty
        else []
    )
    for c in monthly.get("organization_id", []):
        if c not in order:
            order.append(c)
    colors = _client_colors(order)
    sections = [_daily_section(daily, order, colors)]
    sections += _monthly_sections(monthly, order, colors)
    return Page(
        file="kpis.html",
        title="KPIs per client",
        intro=(
            f"Activity of the {MAX_KPI_CLIENTS} clients with the most updates: vehicles "
            "sending positions, positioned updates and km driven inside counted operating "
            "periods, per day and per month (UTC)."
        ),
        sections=sections,
    )


def _daily_section(daily: pd.DataFrame, order: list[str], colors: dict[str, str]) -> Section:
    title = "Daily KPIs per client"
    note = (
        f"marts.kpi_client_daily, last {KPI_DAYS} days of data. Active vehicles = vehicles "
        "with at least one positioned update that day; km = accepted steps inside counted "
        "operating periods (a step in two overlapping periods counts in both). A gap in a "
        "line is a day without data for that client."
    )
    if daily.empty:
        return Section(title, empty=no_data("marts.kpi_client_daily"), note=note)
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.07,
        subplot_titles=("Positioned updates per day", "Active vehicles per day", "km per day"),
    )
    single_day = daily["date"].nunique() == 1
    days = pd.date_range(daily["date"].min(), daily["date"].max(), freq="D").date
    for client in order:
        part = daily[daily["organization_id"] == client]
        if part.empty:
            continue
        # one row per calendar day: a day without data breaks the line instead of bridging it
        part = part.set_index("date").reindex(days).rename_axis("date").reset_index()
        for row, col in enumerate(("updates", "active_vehicles", "km"), start=1):
            kind = go.Bar if single_day else go.Scatter
            extra = {} if single_day else {"mode": "lines+markers", "connectgaps": False}
            fig.add_trace(
                kind(
                    x=part["date"],
                    y=part[col],
                    name=client,
                    legendgroup=client,
                    showlegend=row == 1,
                    marker_color=colors[client],
                    hovertemplate=f"{client}<br>%{{x|%Y-%m-%d}}: %{{y:,.4~g}}<extra></extra>",
                    **extra,
                ),
                row=row,
                col=1,
            )
    fig.update_yaxes(title_text="updates", row=1, col=1)
    fig.update_yaxes(title_text="vehicles", row=2, col=1)
    fig.update_yaxes(title_text="km", row=3, col=1)
    fig.update_xaxes(title_text="Day (UTC)", row=3, col=1)
    # days, never hours, on the axis; one tick per day while that stays readable
    fig.update_xaxes(tickformat="%d %b %Y", **({"dtick": 86400000} if len(days) <= 14 else {}))
    if single_day:
        note += " Only one day of data so far: bars instead of lines."
    fig.update_layout(barmode="group", legend_title_text="Client", margin={"t": 70})
    return Section(title, figure_html(fig, "fig-kpi-daily", 680), note=note)


def _monthly_sections(
    monthly: pd.DataFrame, order: list[str], colors: dict[str, str]
) -> list[Section]:
    title = "Monthly KPIs and month-over-month change"
    note = (
        "marts.kpi_client_monthly: updates and km summed over the month, active vehicles = "
        "the largest daily count in the month. The label on each bar is the change against "
        "the client's previous month (updates_mom_change, km_mom_change); 'new' = no "
        "previous month."
    )
    if monthly.empty:
        return [Section(title, empty=no_data("marts.kpi_client_monthly"), note=note)]
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.1,
        subplot_titles=("Positioned updates per month", "km per month"),
    )
    months = sorted(monthly["month"].unique())
    labels = {m: pd.Timestamp(m).strftime("%b %Y") for m in months}
    for client in order:
        part = monthly[monthly["organization_id"] == client]
        if part.empty:
            continue
        x = [labels[m] for m in part["month"]]
        for col, (value, change) in enumerate(
            (("updates", "updates_mom_change"), ("km", "km_mom_change")), start=1
        ):
            text = [
                "new" if c is None or c != c else fmt_pct(c, 0, signed=True) for c in part[change]
            ]
            fig.add_bar(
                x=x,
                y=part[value],
                name=client,
                legendgroup=client,
                showlegend=col == 1,
                marker_color=colors[client],
                text=text,
                textposition="outside",
                cliponaxis=False,
                hovertemplate=(
                    f"{client}<br>%{{x}}: %{{y:,.4~g}} {value}<br>"
                    "change vs previous month: %{text}<extra></extra>"
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(
        title_text="Month (UTC)", categoryorder="array", categoryarray=list(labels.values())
    )
    fig.update_yaxes(title_text="updates", row=1, col=1)
    fig.update_yaxes(title_text="km", row=1, col=2)
    fig.update_layout(barmode="group", legend_title_text="Client", margin={"t": 70})
    clients = int(monthly["clients"].iloc[0])
    rows = [
        [
            labels[r.month],
            r.organization_id,
            fmt_int(r.active_vehicles),
            fmt_int(r.updates),
            fmt_pct(r.updates_mom_change, signed=True),
            fmt_float(r.km, 1),
            fmt_pct(r.km_mom_change, signed=True),
        ]
        for r in monthly.sort_values(["month", "updates"], ascending=[False, False]).itertuples()
    ]
    table = table_html(
        [
            "Month",
            "Client",
            "Active vehicles (max/day)",
            "Updates",
            "Updates MoM",
            "km",
            "km MoM",
        ],
        rows,
        numeric=range(2, 7),
    )
    return [
        Section(title, figure_html(fig, "fig-kpi-monthly", 440), note=note),
        Section(
            "Monthly KPIs table",
            table,
            note=f"Latest month first; {len(order)} of {clients:,} clients, last "
            f"{KPI_MONTHS} months. n/a = no previous month to compare with.",
        ),
    ]


# ----------------------------------------------------------------------------- quality


def quality_page(ctx: Context) -> Page:
    """Checks, row accounting through the layers, profiling and run history."""
    r = ctx.reader
    checks = r.frame("dq_latest", requires=["ops.dq_results"])
    funnel = r.frame("funnel", requires=["ops.lake_batches", "ops.layer_partitions"])
    counted = r.frame(
        "counted_points",
        requires=["star.fact_vehicle_period_distance", "star.dim_operating_period"],
    )
    profiles = r.frame("profiles", requires=["ops.column_profiles"])
    history = r.frame("run_history", {"runs": MAX_RUNS}, requires=["ops.task_runs"])

    f = funnel.iloc[0] if not funnel.empty else None
    status_counts = checks["status"].value_counts() if not checks.empty else pd.Series()
    overall = ctx.summary["data_quality"]["status"] if not checks.empty else ""
    lead = _stats(
        _stat(
            "Data-quality status",
            overall.upper() if overall else "no checks yet",
            f"{int(status_counts.get('pass', 0))} pass · {int(status_counts.get('warn', 0))} "
            f"warn · {int(status_counts.get('fail', 0))} fail (latest result per check)",
            overall,
        ),
        _stat(
            "Quarantined lines",
            fmt_int(f["quarantined"]) if f is not None else "–",
            "unparseable feed lines kept aside in the lake",
        ),
        _stat(
            "Duplicates removed",
            fmt_int(f["duplicates_removed"]) if f is not None else "–",
            "exact duplicates and re-delivered lines (staging)",
        ),
        _stat(
            "Rejected rows",
            fmt_int(f["rejected"]) if f is not None else "–",
            "rows breaking a data-quality rule (staging)",
        ),
    )
    sections = [
        _checks_section(checks),
        _funnel_section(f, counted),
        *_profile_sections(profiles),
        *_history_sections(history),
    ]
    return Page(
        file="quality.html",
        title="Data quality and operations",
        intro=(
            "Whether the data can be trusted: the latest result of every check, how many rows "
            "each layer kept and why others left, what the lake's columns look like and how "
            "the recent runs went."
        ),
        lead=lead,
        sections=sections,
    )


def _checks_section(checks: pd.DataFrame) -> Section:
    title = "Data-quality checks (latest result per check)"
    note = (
        "ops.dq_results, the latest result of each check per layer. A failed blocking check "
        "stops publication of the layer; a warning is recorded only. Bar length = rows "
        "breaking the rule."
    )
    if checks.empty:
        return Section(title, empty=no_data("ops.dq_results"), note=note)
    layer_rank = {name: i for i, name in enumerate(LAYER_ORDER)}
    checks = checks.assign(
        _l=checks["layer"].map(lambda x: layer_rank.get(x, 99)),
        label=checks["layer"] + " · " + checks["check_name"],
    ).sort_values(["_l", "check_name"])
    fig = go.Figure()
    for status in ("pass", "warn", "fail"):
        part = checks[checks["status"] == status]
        if part.empty:
            continue
        fig.add_bar(
            y=part["label"],
            x=part["rows_affected"],
            orientation="h",
            name=status,
            marker_color=STATUS_COLORS[status],
            text=[f"{status} · {n:,} rows" for n in part["rows_affected"]],
            textposition="outside",
            cliponaxis=False,
            customdata=part[["severity", "description"]].to_numpy(),
            hovertemplate=(
                "%{y}<br>%{customdata[1]}<br>severity %{customdata[0]}, "
                "%{x:,} rows affected<extra></extra>"
            ),
        )
    top = float(checks["rows_affected"].max() or 0)
    fig.update_layout(
        barmode="overlay",
        xaxis={"title": "Rows affected", "range": [0, max(top * 1.25, 10)]},
        yaxis={
            "categoryorder": "array",
            "categoryarray": list(checks["label"]),
            "autorange": "reversed",
            "automargin": True,
            "title": None,
        },
        legend_title_text="Status",
        margin={"t": 50},
    )
    rows = [
        [
            r.layer,
            r.check_name,
            r.severity,
            badge(r.status),
            fmt_int(r.rows_affected),
            r.description,
            _utc(r.checked_at),
        ]
        for r in checks.itertuples()
    ]
    table = table_html(
        ["Layer", "Check", "Severity", "Status", "Rows", "Asserts", "Checked (UTC)"],
        rows,
        numeric=[4],
    )
    body = figure_html(fig, "fig-dq-checks", max(320, 26 * len(checks) + 120)) + table
    return Section(title, body, note=note)


def _funnel_section(f: pd.Series | None, counted: pd.DataFrame) -> Section:
    title = "Rows through the layers"
    note = (
        "Source lines, lake rows and quarantined lines from ops.lake_batches (every converted "
        "batch with an event date held); raw, staging and semantic rows from "
        "ops.layer_partitions (last build of every event date held: dates retention expired "
        "are left out, and a batch spanning the cutoff stays counted whole). Positioned "
        "updates = staged vehicle events with coordinates and a position time. GPS jumps "
        "dropped from the distance come from star.fact_vehicle_period_distance."
    )
    if f is None or int(f["source_lines"]) == 0:
        return Section(title, empty=no_data("ops.lake_batches"), note=note)
    stages = [
        ("Source feed lines", int(f["source_lines"])),
        ("Lake Parquet rows", int(f["lake_rows"])),
        ("Raw rows", int(f["raw_rows"])),
        ("Staged events", int(f["staged_rows"])),
        ("Positioned vehicle updates", int(f["positioned_updates"])),
    ]
    fig = go.Figure(
        go.Funnel(
            y=[s[0] for s in stages],
            x=[s[1] for s in stages],
            texttemplate="%{value:,} (%{percentInitial:.1%})",
            textposition="inside",
            marker={"color": ["#1e3a8a", "#1d4ed8", "#2563eb", "#3b82f6", "#60a5fa"]},
            connector={"line": {"color": "#cbd5e1"}, "fillcolor": "#e5e7eb"},
            hovertemplate="%{y}: %{x:,} rows (%{percentInitial:.1%} of the source lines)"
            "<extra></extra>",
        )
    )
    fig.update_layout(yaxis={"automargin": True}, margin={"t": 20, "l": 40})
    losses = [
        ["Lake", "quarantined: not a valid event line", fmt_int(f["quarantined"])],
        ["Staging", "exact duplicates and re-delivered lines", fmt_int(f["duplicates_removed"])],
        ["Staging", "rejected by a data-quality rule", fmt_int(f["rejected"])],
        [
            "Semantic",
            "operating-period events, register/deregister and updates without a position",
            fmt_int(int(f["staged_rows"]) - int(f["positioned_updates"])),
        ],
    ]
    if not counted.empty:
        losses.append(
            [
                "Semantic",
                "GPS jumps dropped from the distance (implied speed too high)",
                fmt_int(counted["gps_jumps_dropped"].iloc[0]),
            ]
        )
    table = table_html(["Layer", "Rows that left the flow", "Rows"], losses, numeric=[2])
    if not counted.empty:
        table += Markup(
            '<p class="note">The distance is computed from '
            f"{int(counted['counted_points'].iloc[0]):,} points inside counted operating "
            "periods; a point inside several overlapping periods of its client counts once "
            "per period, so this can exceed the positioned updates.</p>"
        )
    return Section(title, figure_html(fig, "fig-funnel", 380) + table, note=note)


def _profile_sections(profiles: pd.DataFrame) -> list[Section]:
    title = "Profiling of the lake datasets"
    note = (
        "ops.column_profiles summed over every profiled conversion chunk: null % = nulls ÷ "
        "rows. Distinct values are counted per chunk, so the largest chunk count is shown (a "
        "lower bound). Min and max of columns classified personal_location or "
        "quasi_identifier are masked."
    )
    if profiles.empty:
        return [Section(title, empty=no_data("ops.column_profiles"), note=note)]
    profiles = profiles.assign(
        null_pct=profiles["nulls"] / profiles["rows"].where(profiles["rows"] > 0) * 100
    )
    fig = go.Figure()
    for dataset in sorted(profiles["dataset"].unique()):
        part = profiles[profiles["dataset"] == dataset]
        fig.add_bar(
            x=part["column_name"],
            y=part["null_pct"],
            name=dataset,
            customdata=part[["nulls", "rows"]].to_numpy(),
            hovertemplate=(
                f"{dataset}.%{{x}}<br>%{{y:.3f}} % null (%{{customdata[0]:,}} of "
                "%{customdata[1]:,} rows)<extra></extra>"
            ),
        )
    fig.update_layout(
        barmode="group",
        xaxis={"title": "Column", "tickangle": -35, "automargin": True},
        yaxis={"title": "Null values (% of rows)", "rangemode": "tozero"},
        legend_title_text="Dataset",
        margin={"t": 50},
    )
    rows = []
    for r in profiles.itertuples():
        masked = classify(r.column_name) in MASKED_CLASSES
        rows.append(
            [
                r.dataset,
                r.column_name,
                fmt_int(r.rows),
                fmt_int(r.nulls),
                fmt_float(r.null_pct, 3),
                fmt_int(r.distinct_max),
                "masked" if masked else _short(r.min_value),
                "masked" if masked else _short(r.max_value),
            ]
        )
    table = table_html(
        ["Dataset", "Column", "Rows", "Nulls", "Null %", "Distinct (max/chunk)", "Min", "Max"],
        rows,
        numeric=range(2, 6),
    )
    return [
        Section(title, figure_html(fig, "fig-profiles", 420), note=note),
        Section("Column profiles", table, note=f"{profiles['batches'].max()} batch(es) profiled."),
    ]


def _short(value: object, n: int = 40) -> str:
    if value is None or value != value:
        return "–"
    text = str(value)
    return text if len(text) <= n else text[: n - 1] + "…"


def _history_sections(history: pd.DataFrame) -> list[Section]:
    title = "Run history"
    note = (
        f"ops.task_runs of the {MAX_RUNS} most recent runs: duration of each stage, stacked "
        "per run (oldest left). A red outline marks a failed task."
    )
    if history.empty:
        return [Section(title, empty=no_data("ops.task_runs"), note=note)]
    runs = history.drop_duplicates("run_id")[["run_id", "run_start"]]
    labels = {
        r.run_id: f"{_utc(r.run_start, '%m-%d %H:%M')}<br>{_short(r.run_id, 24)}"
        for r in runs.itertuples()
    }
    history = history.assign(run_label=history["run_id"].map(labels))
    fig = go.Figure()
    stages = list(dict.fromkeys(history.sort_values("started_at")["stage"]))
    for stage in stages:
        part = history[history["stage"] == stage]
        fig.add_bar(
            x=part["run_label"],
            y=part["duration_s"],
            name=stage,
            marker_line_color=[
                STATUS_COLORS["failed"] if s == "failed" else "rgba(0,0,0,0)"
                for s in part["status"]
            ],
            marker_line_width=2,
            customdata=part[["status", "run_id"]].to_numpy(),
            hovertemplate=(
                f"{stage}<br>run %{{customdata[1]}}<br>%{{y:,.1f}} s, %{{customdata[0]}}"
                "<extra></extra>"
            ),
        )
    fig.update_layout(
        barmode="stack",
        xaxis={
            "title": "Run (start UTC, run id)",
            "categoryorder": "array",
            "categoryarray": [labels[r] for r in runs["run_id"]],
        },
        yaxis_title="Task duration (s)",
        legend_title_text="Stage",
        margin={"t": 60},
    )
    summary = (
        history.groupby("run_id", sort=False)
        .agg(
            run_start=("run_start", "first"),
            finished=("finished_at", "max"),
            tasks=("stage", "count"),
            failed=("status", lambda s: int((s == "failed").sum())),
            task_seconds=("duration_s", "sum"),
        )
        .reset_index()
        .sort_values("run_start", ascending=False)
    )
    rows = [
        [
            r.run_id,
            _utc(r.run_start),
            _duration((r.finished - r.run_start).total_seconds() if r.finished else None),
            fmt_int(r.tasks),
            badge("failed" if r.failed else "success"),
            fmt_int(r.failed),
        ]
        for r in summary.head(10).itertuples()
    ]
    errors = history[history["status"] == "failed"]
    err_rows = [
        [r.run_id, r.stage, _utc(r.started_at), _short(r.error, 160)]
        for r in errors.sort_values("started_at", ascending=False).head(10).itertuples()
    ]
    table = table_html(
        ["Run", "Started (UTC)", "Wall time", "Tasks", "Status", "Failed tasks"],
        rows,
        numeric=[3, 5],
    )
    if err_rows:
        table += Markup("<h3>Latest failures</h3>") + table_html(
            ["Run", "Stage", "Started (UTC)", "Error"], err_rows
        )
    return [
        Section(title, figure_html(fig, "fig-runs", 440), note=note),
        Section(
            "Recent runs",
            table,
            note="Wall time = first task start to last task end of the run (report steps "
            "included).",
        ),
    ]


ALL_PAGES = (
    index_page,
    distance_page,
    clients_page,
    latest_path_page,
    kpis_page,
    quality_page,
)
