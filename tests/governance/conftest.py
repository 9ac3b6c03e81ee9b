"""One governed platform for the whole package: filled once, because the pipeline run is the
slow part (~10 s) and the suite must stay under two minutes.

Modules run in file order. Each leaves the platform converged as it found it (its tests
assert that a final ``apply_governance`` changes nothing), except ``test_retention.py``,
which deletes old events and therefore comes last among the modules that use the database
(``test_policy.py`` and ``test_safe_sql.py`` need none). Each module creates its own users.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest

from dwh_pipelines.governance import apply_governance, pseudonymise_vehicle_ids
from tests.governance.support import rows
from tests.helpers import reset_platform, run_pipeline, seed_simulated

#: The feed straddles midnight, so retention has an old day (2019-06-01) and a new one.
FEED_START = datetime(2019, 6, 1, 23, 57, tzinfo=UTC)


@dataclass
class Governed:
    settings: object
    key: str  # FLEET_PSEUDONYM_KEY of the run
    first_apply: dict  # what apply_governance did on the fresh platform
    #: marts.latest_updates_on_top1_client with the real vehicle ids (through the mapping):
    #: (seq, vehicle_id, location_at, lat, lng, organization_id)
    real_path: list[tuple]
    top: str  # the client of that path (most updates)
    other: str


@pytest.fixture(scope="package")
def governed(stack):
    # small landing bundles, so that retention finds bundles whose events all expired
    stack = replace(stack, landing_bundle_objects=20)
    reset_platform(stack)
    seed_simulated(stack, vehicles=3, hours=0.1, organizations=2, seed=1, start=FEED_START)
    key = secrets.token_hex(16)
    mp = pytest.MonkeyPatch()
    mp.setenv("FLEET_PSEUDONYM_KEY", key)
    run_pipeline(stack, "governance")  # the dwh build pseudonymises the marts' vehicle ids
    real_path = rows(
        stack,
        "dwh_db",
        "SELECT t.seq, m.vehicle_id, t.location_at, t.location_lat, t.location_lng,"
        "       t.organization_id"
        "  FROM marts.latest_updates_on_top1_client t"
        "  JOIN governance.vehicle_pseudonyms m ON m.pseudonym = t.vehicle_id ORDER BY t.seq",
    )
    orgs = sorted(
        r[0] for r in rows(stack, "dwh_db", "SELECT organization_id FROM " "star.dim_organization")
    )
    assert len(orgs) == 2 and real_path
    top = real_path[0][5]
    first = apply_governance(stack)
    pseudonymise_vehicle_ids(stack)
    yield Governed(stack, key, first, real_path, top, next(o for o in orgs if o != top))
    mp.undo()
