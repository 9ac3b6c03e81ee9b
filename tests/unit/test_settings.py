"""Settings read from the environment: defaults, overrides, and values refused with a name."""

import pytest

from pipeline_core.settings import map_parallelism


def test_map_parallelism_defaults_to_two_and_reads_the_environment(monkeypatch):
    monkeypatch.delenv("FLEET_MAP_PARALLELISM", raising=False)
    assert map_parallelism() == 2
    monkeypatch.setenv("FLEET_MAP_PARALLELISM", "4")
    assert map_parallelism() == 4


@pytest.mark.parametrize(
    "value, message",
    [("0", "FLEET_MAP_PARALLELISM must be 1 or more"), ("two", "is not an integer")],
)
def test_map_parallelism_refuses_what_cannot_run(monkeypatch, value, message):
    monkeypatch.setenv("FLEET_MAP_PARALLELISM", value)
    with pytest.raises(ValueError, match=message):
        map_parallelism()
