"""Lineage from the source feed to every mart, as a small declarative mapping.

Each node names a dataset (an S3 location or ``database:schema.table``), its layer, how it
is built and from which nodes. The data docs walk this graph upstream from each mart; a
test checks that every table named here exists in the live catalog and that every mart
has an entry, so the mapping cannot silently rot.
"""

from __future__ import annotations

from dataclasses import dataclass

from dwh_pipelines.dwh import STAR_TABLES


@dataclass(frozen=True)
class Node:
    id: str  # "database:schema.table" for tables, a short name otherwise
    layer: str  # one of LAYERS
    label: str
    how: str
    inputs: tuple[str, ...] = ()

    @property
    def is_table(self) -> bool:
        return ":" in self.id

    @property
    def database(self) -> str | None:
        return self.id.split(":", 1)[0] if self.is_table else None

    @property
    def qualified(self) -> str | None:
        return self.id.split(":", 1)[1] if self.is_table else None


#: layers in flow order, with the ops.layer_partitions / ops.lake_batches figure for each
LAYERS: tuple[tuple[str, str], ...] = (
    ("source", "Source feed"),
    ("lake", "Data lake (S3)"),
    ("raw", "raw_db"),
    ("staging", "staging_db"),
    ("semantic", "semantic_db"),
    ("dwh", "dwh_db"),
)

_STG = "staging_db:prod."
_SEM = "semantic_db:prod."

_NODES: list[Node] = [
    Node(
        "feed",
        "source",
        "feed files data/*.json",
        "NDJSON event files from the vehicle platform (vehicle and operating-period events) "
        "in the source bucket (s3://fleet-source/data/ by default).",
    ),
    Node(
        "landing",
        "lake",
        "landing zone",
        "s3://fleet-lake/landing/: the unchanged bytes of new source objects, exactly once per "
        "(key, ETag), 2,000 objects a bundle (manifest ops.lake_objects: bundle and byte range).",
        ("feed",),
    ),
    Node(
        "parquet.vehicle_events",
        "lake",
        "Parquet vehicle_events",
        "s3://fleet-lake/parquet/vehicle_events/: typed Parquet partitioned by event date; "
        "unparseable lines go to the quarantine area (ops.lake_batches).",
        ("landing",),
    ),
    Node(
        "parquet.operating_period_events",
        "lake",
        "Parquet operating_period_events",
        "s3://fleet-lake/parquet/operating_period_events/: typed Parquet partitioned by event "
        "date.",
        ("landing",),
    ),
    Node(
        "raw_db:raw.vehicle_events",
        "raw",
        "raw.vehicle_events",
        "Lake rows as they are, replaced per event date, with load lineage.",
        ("parquet.vehicle_events",),
    ),
    Node(
        "raw_db:raw.operating_period_events",
        "raw",
        "raw.operating_period_events",
        "Lake rows as they are, replaced per event date.",
        ("parquet.operating_period_events",),
    ),
    Node(
        _STG + "stg_vehicle_events",
        "staging",
        "prod.stg_vehicle_events",
        "Accepted values, UTC, exact duplicates and re-delivered lines removed; built in dev, "
        "published to prod when no blocking check fails.",
        ("raw_db:raw.vehicle_events",),
    ),
    Node(
        _STG + "stg_operating_period_events",
        "staging",
        "prod.stg_operating_period_events",
        "Cleaned create/delete events of operating periods, duplicates removed.",
        ("raw_db:raw.operating_period_events",),
    ),
    Node(
        _SEM + "int_vehicle_updates",
        "semantic",
        "prod.int_vehicle_updates",
        "Staged vehicle updates that have coordinates and a position time.",
        (_STG + "stg_vehicle_events",),
    ),
    Node(
        _SEM + "dim_organization",
        "semantic",
        "prod.dim_organization",
        "Every organization seen in any event, first seen time.",
        (_STG + "stg_vehicle_events", _STG + "stg_operating_period_events"),
    ),
    Node(
        _SEM + "dim_vehicle",
        "semantic",
        "prod.dim_vehicle",
        "SCD2 registrations from register/deregister events; inferred members for "
        "vehicles that only sent updates.",
        (_STG + "stg_vehicle_events", _SEM + "int_vehicle_updates"),
    ),
    Node(
        _SEM + "dim_operating_period",
        "semantic",
        "prod.dim_operating_period",
        "Latest create and delete per period; counted = created and not deleted.",
        (_STG + "stg_operating_period_events",),
    ),
    Node(
        _SEM + "dim_date",
        "semantic",
        "prod.dim_date",
        "Every UTC day from the first to the last event, position or period day.",
        (_SEM + "int_vehicle_updates", _SEM + "dim_operating_period"),
    ),
    Node(
        _SEM + "fact_vehicle_location",
        "semantic",
        "prod.fact_vehicle_location",
        "Positioned updates inside each counted period of their organization, GPS jumps "
        "dropped (speed rule), with the haversine step from the previous point.",
        (_SEM + "int_vehicle_updates", _SEM + "dim_operating_period"),
    ),
    Node(
        _SEM + "fact_vehicle_period_distance",
        "semantic",
        "prod.fact_vehicle_period_distance",
        "Sum of the accepted steps per (counted period, vehicle); the vehicle version valid "
        "at the first point.",
        (_SEM + "int_vehicle_updates", _SEM + "dim_operating_period", _SEM + "dim_vehicle"),
    ),
    Node(
        _SEM + "int_vehicle_daily_updates",
        "semantic",
        "prod.int_vehicle_daily_updates",
        "Positioned updates counted per vehicle, position day and event date (additive).",
        (_SEM + "int_vehicle_updates",),
    ),
    Node(
        _SEM + "int_period_daily_distance",
        "semantic",
        "prod.int_period_daily_distance",
        "Accepted steps summed per (period, vehicle, day).",
        (_SEM + "fact_vehicle_location",),
    ),
    Node(
        _SEM + "fact_client_daily_activity",
        "semantic",
        "prod.fact_client_daily_activity",
        "Per organization and UTC day: active vehicles, positioned updates, km inside "
        "counted periods.",
        (_SEM + "int_vehicle_daily_updates", _SEM + "int_period_daily_distance", _SEM + "dim_date"),
    ),
]
_NODES += [
    Node(
        f"dwh_db:star.{t}",
        "dwh",
        f"star.{t}",
        "Copied whole from semantic_db prod on every dwh build (one transaction with the "
        "marts).",
        (_SEM + t,),
    )
    for t in STAR_TABLES
]
_NODES += [
    Node(
        "dwh_db:marts.avg_distance_per_operating_period",
        "dwh",
        "marts.avg_distance_per_operating_period",
        "Per counted period: vehicles, total km and average km per vehicle " "(build_marts.sql).",
        ("dwh_db:star.fact_vehicle_period_distance", "dwh_db:star.dim_operating_period"),
    ),
    Node(
        "dwh_db:marts.avg_distance_overall",
        "dwh",
        "marts.avg_distance_overall",
        "Total km ÷ (period, vehicle) pairs over all counted periods: the BI answer.",
        ("dwh_db:marts.avg_distance_per_operating_period",),
    ),
    Node(
        "dwh_db:marts.kpi_client_daily",
        "dwh",
        "marts.kpi_client_daily",
        "Daily client activity as in the star fact.",
        ("dwh_db:star.fact_client_daily_activity",),
    ),
    Node(
        "dwh_db:marts.kpi_client_monthly",
        "dwh",
        "marts.kpi_client_monthly",
        "Daily KPIs summed per month, max daily active vehicles, change vs previous month.",
        ("dwh_db:marts.kpi_client_daily",),
    ),
    Node(
        "dwh_db:marts.no_updates_per_client",
        "dwh",
        "marts.no_updates_per_client",
        "Positioned updates per client over all days, ranked.",
        ("dwh_db:marts.kpi_client_daily",),
    ),
    Node(
        "dwh_db:marts.latest_updates_on_top1_client",
        "dwh",
        "marts.latest_updates_on_top1_client",
        "Top client by updates, its latest hour, its most active vehicle's points "
        "(latest_path_source.sql runs on semantic_db prod).",
        (_SEM + "fact_client_daily_activity", _SEM + "int_vehicle_updates"),
    ),
]

NODES: dict[str, Node] = {n.id: n for n in _NODES}
#: the marts the lineage is drawn for (every table of dwh_db's marts schema)
MARTS: tuple[str, ...] = tuple(n.id for n in _NODES if n.id.startswith("dwh_db:marts."))


def upstream(node_id: str) -> list[Node]:
    """The node and everything it is built from, sources first (a topological order)."""
    seen: dict[str, Node] = {}

    def visit(nid: str) -> None:
        if nid in seen:
            return
        node = NODES[nid]
        for parent in node.inputs:
            visit(parent)
        seen[nid] = node

    visit(node_id)
    return list(seen.values())


def by_layer(nodes: list[Node]) -> list[tuple[str, str, list[Node]]]:
    """Nodes grouped by layer in flow order: (layer, layer label, nodes)."""
    return [
        (layer, label, [n for n in nodes if n.layer == layer])
        for layer, label in LAYERS
        if any(n.layer == layer for n in nodes)
    ]


def mermaid() -> str:
    """The whole lineage graph as a Mermaid flowchart, one subgraph per layer."""
    lines = ["flowchart LR"]
    for layer, label in LAYERS:
        lines.append(f'    subgraph {layer}["{label}"]')
        for n in _NODES:
            if n.layer == layer:
                lines.append(f'        {_mid(n.id)}["{n.label}"]')
        lines.append("    end")
    for n in _NODES:
        for parent in n.inputs:
            lines.append(f"    {_mid(parent)} --> {_mid(n.id)}")
    return "\n".join(lines) + "\n"


def _mid(node_id: str) -> str:
    return node_id.replace(":", "__").replace(".", "_")
