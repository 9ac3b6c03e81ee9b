"""The one registry of sensitive fields.

Later layers reuse it for column comments, masking and the data dictionary, so
a column is classified once, here, by its name in the lake and warehouse.
"""

from __future__ import annotations

import json
from enum import StrEnum


class Sensitivity(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    PSEUDONYMOUS_IDENTIFIER = "pseudonymous_identifier"
    PERSONAL_LOCATION = "personal_location"
    QUASI_IDENTIFIER = "quasi_identifier"


#: column name -> (class, why)
REGISTRY: dict[str, tuple[Sensitivity, str]] = {
    "vehicle_id": (
        Sensitivity.PSEUDONYMOUS_IDENTIFIER,
        "a vehicle is driven by a person; its id links their trips",
    ),
    "location_lat": (
        Sensitivity.PERSONAL_LOCATION,
        "GPS position of a vehicle, so of its driver and passengers",
    ),
    "location_lng": (
        Sensitivity.PERSONAL_LOCATION,
        "GPS position of a vehicle, so of its driver and passengers",
    ),
    "location_at": (
        Sensitivity.QUASI_IDENTIFIER,
        "precise time of a position; with the position it re-identifies trips",
    ),
    "organization_id": (Sensitivity.INTERNAL, "a client of the platform; business confidential"),
    "period_id": (Sensitivity.INTERNAL, "operating period of a client"),
    "source_key": (Sensitivity.INTERNAL, "lineage: object key in the source feed"),
    "raw_line": (
        Sensitivity.PERSONAL_LOCATION,
        "quarantined input line as received; may hold any field of the event",
    ),
}

#: masking rules that apply per class for junior roles (see the governance policy)
MASKED_CLASSES = frozenset({Sensitivity.PERSONAL_LOCATION, Sensitivity.QUASI_IDENTIFIER})


def classify(column: str) -> Sensitivity:
    """Class of a column; anything not registered is public (event types, counts, km)."""
    entry = REGISTRY.get(column)
    return entry[0] if entry else Sensitivity.PUBLIC


def classification_for(columns: list[str]) -> dict[str, str]:
    """Non-public columns among ``columns`` with their class (for logs and metadata)."""
    return {c: classify(c).value for c in columns if classify(c) is not Sensitivity.PUBLIC}


def parquet_metadata(columns: list[str]) -> dict[bytes, bytes]:
    """Key/value metadata written into every Parquet file of the lake."""
    return {b"fleet.classification": json.dumps(classification_for(columns)).encode()}
