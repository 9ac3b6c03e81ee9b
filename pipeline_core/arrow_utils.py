"""Small Arrow helpers shared by the lake and the warehouse loads."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def constant(value: object, type_: pa.DataType, length: int) -> pa.Array:
    """An array of ``length`` copies of ``value``, built without a Python loop."""
    return pc.fill_null(pa.nulls(length, type_), pa.scalar(value, type_))
