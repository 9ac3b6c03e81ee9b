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


@pytest.mark.parametrize(
    "variable, field, default, example",
    [
        ("FLEET_LIST_LOOKBACK_HOURS", "list_lookback_hours", 3, 24),
        ("FLEET_LIST_SWEEP_DAYS", "list_sweep_days", 7, 2),
    ],
)
def test_list_windows_have_defaults_and_all_means_every_key(
    monkeypatch, variable, field, default, example
):
    """How far back extract lists: every run (hours) and each day's first run (days)."""
    from pipeline_core.settings import load_settings

    monkeypatch.delenv(variable, raising=False)
    assert getattr(load_settings(), field) == default
    monkeypatch.setenv(variable, str(example))
    assert getattr(load_settings(), field) == example
    monkeypatch.setenv(variable, "all")
    assert getattr(load_settings(), field) is None


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("FLEET_LIST_LOOKBACK_HOURS", "-1", "FLEET_LIST_LOOKBACK_HOURS must be 0 or more, or all"),
        ("FLEET_LIST_LOOKBACK_HOURS", "a day", "not an integer"),
        ("FLEET_LIST_SWEEP_DAYS", "0", "FLEET_LIST_SWEEP_DAYS must be 1 or more, or all"),
    ],
)
def test_list_windows_refuse_what_cannot_be_a_listing(monkeypatch, variable, value, message):
    from pipeline_core.settings import load_settings

    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=message):
        load_settings()
