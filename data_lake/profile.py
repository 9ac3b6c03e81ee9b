"""Column profiles of each converted chunk: rows, nulls, distinct, min, max."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def profile_table(table: pa.Table) -> list[dict]:
    """One profile row per column; binary columns get counts only."""
    profiles = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        entry = {
            "column_name": name,
            "rows": table.num_rows,
            "nulls": column.null_count,
            "distinct_count": None,
            "min_value": None,
            "max_value": None,
        }
        if not pa.types.is_binary(column.type) and table.num_rows:
            entry["distinct_count"] = pc.count_distinct(column, mode="only_valid").as_py()
            if column.null_count < table.num_rows:
                mm = pc.min_max(column)
                entry["min_value"] = str(mm["min"].as_py())
                entry["max_value"] = str(mm["max"].as_py())
        profiles.append(entry)
    return profiles
