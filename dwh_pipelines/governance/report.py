"""The README's access table, generated from the policy so documentation cannot drift."""

from __future__ import annotations

from dwh_pipelines.governance.policy import GOVERNANCE_SCHEMA, Access, Policy, SchemaRule
from pipeline_core.classification import MASKED_CLASSES, REGISTRY


def _masking(policy: Policy) -> str:
    """What juniors get instead of the sensitive columns (classes from the registry)."""
    m = policy.masking
    groups: dict[str, list[str]] = {}
    for column, (cls, _) in REGISTRY.items():
        if cls not in MASKED_CLASSES:
            continue
        if column.endswith(("_lat", "_lng")):
            treatment = f"{m.coordinate_decimals} decimals"
        elif column.endswith("_at"):
            treatment = m.timestamp_unit
        else:
            treatment = "withheld"
        groups.setdefault(treatment, []).append(f"`{column}`")
    parts = [f"{', '.join(cols)} → {treatment}" for treatment, cols in groups.items()]
    return f"{'; '.join(parts)}, via `<schema>{m.schema_suffix}`; precise columns denied"


def _privs(policy: Policy, role: str, access: Access) -> str | None:
    if role in access.write:
        return ", ".join(["SELECT", *policy.write_privileges])
    if role in access.read:
        return "SELECT"
    return None


def _schema_cell(policy: Policy, role: str, db: str, schema: SchemaRule) -> list[str]:
    out = []
    base = _privs(policy, role, schema.access)
    restricted = policy.roles[role].restricted and db == policy.rls.database
    if base:
        note = " (client-filtered relations only)" if restricted else ""
        out.append(f"`{schema.name}`: {base}{note}")
    for table, access in schema.tables.items():
        privs = _privs(policy, role, access)
        if privs == base:
            continue
        name = f"`{schema.name}.{table}`"
        if privs is None:
            out.append(f"{name}: denied")
        else:
            own = ""
            if table == policy.rls.assignments_table and not (base or role in access.write):
                own = " (own rows)"
            out.append(f"{name}: {privs}{own}")
    return out


def access_table(policy: Policy) -> str:
    """Markdown: role x database x privileges x RLS x masking, plus the rules behind it."""
    rls = policy.rls
    ps = policy.pseudonymisation
    lines = [
        "| Role | Database | Schemas / tables: privileges | Row-level security | Masking |",
        "|---|---|---|---|---|",
    ]
    for role, spec in policy.roles.items():
        for db, rule in policy.databases.items():
            if role not in rule.connect:
                continue
            cells = [c for s in rule.schemas.values() for c in _schema_cell(policy, role, db, s)]
            if db != rls.database:
                row_sec = "none in this database"
            elif spec.restricted:
                row_sec = (
                    f"assigned organizations only (`{GOVERNANCE_SCHEMA}.{rls.assignments_table}`)"
                )
            elif role in rls.all_rows:
                row_sec = "all organizations"
            else:
                row_sec = "no rows of client tables"
            masking = _masking(policy) if spec.masked else "full precision"
            lines.append(
                f"| `{role}` | `{db}` | {'<br>'.join(cells) or 'CONNECT only'} | {row_sec} "
                f"| {masking} |"
            )
    databases = ", ".join(f"`{d}`" for d in policy.databases)
    lines += [
        "",
        f"- CONNECT is revoked from PUBLIC on {databases}; a role not listed for a database "
        "cannot connect to it. Only schemas and tables listed above are granted.",
        f"- `{policy.pipeline_role}` (NOLOGIN, member of no role) owns every warehouse schema, "
        "table, view and function; the pipeline's login is a member of it. Nobody else writes "
        f"{', '.join(f'`{s}`' for s in sorted(policy.read_only_schemas))}.",
        f"- RLS is enabled and forced on every table of "
        f"{', '.join(f'`{s}`' for s in rls.schemas)} in `{rls.database}` with `{rls.column}`; "
        "analytics views are `security_invoker`, masked views filter through the same "
        "policies (they test `current_user`).",
        f"- `{ps.column}` in {', '.join(f'`{s}`' for s in ps.schemas)} is replaced by "
        f"`{ps.prefix}…` pseudonyms (HMAC-SHA256, key from `{ps.key_env}`); the mapping "
        f"`{GOVERNANCE_SCHEMA}.{ps.mapping_table}` is readable by engineers only.",
    ]
    return "\n".join(lines)
