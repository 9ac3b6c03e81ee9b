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


def test_list_lookback_defaults_to_three_hours_and_all_means_every_key(monkeypatch):
    from pipeline_core.settings import load_settings

    monkeypatch.delenv("FLEET_LIST_LOOKBACK_HOURS", raising=False)
    assert load_settings().list_lookback_hours == 3
    monkeypatch.setenv("FLEET_LIST_LOOKBACK_HOURS", "24")
    assert load_settings().list_lookback_hours == 24
    monkeypatch.setenv("FLEET_LIST_LOOKBACK_HOURS", "all")
    assert load_settings().list_lookback_hours is None


@pytest.mark.parametrize(
    "value, message",
    [("-1", "FLEET_LIST_LOOKBACK_HOURS must be 0 or more, or all"), ("a day", "not an integer")],
)
def test_list_lookback_refuses_what_cannot_be_a_listing(monkeypatch, value, message):
    from pipeline_core.settings import load_settings

    monkeypatch.setenv("FLEET_LIST_LOOKBACK_HOURS", value)
    with pytest.raises(ValueError, match=message):
        load_settings()


def test_list_sweep_defaults_to_a_week_and_all_means_every_key(monkeypatch):
    from pipeline_core.settings import load_settings

    monkeypatch.delenv("FLEET_LIST_SWEEP_DAYS", raising=False)
    assert load_settings().list_sweep_days == 7
    monkeypatch.setenv("FLEET_LIST_SWEEP_DAYS", "2")
    assert load_settings().list_sweep_days == 2
    monkeypatch.setenv("FLEET_LIST_SWEEP_DAYS", "all")
    assert load_settings().list_sweep_days is None
    monkeypatch.setenv("FLEET_LIST_SWEEP_DAYS", "0")
    with pytest.raises(ValueError, match="FLEET_LIST_SWEEP_DAYS must be 1 or more, or all"):
        load_settings()
