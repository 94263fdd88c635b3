from __future__ import annotations

import pytest

from airflow_provider_criteo.exceptions import CriteoConfigurationError
from airflow_provider_criteo.sync.modes import SYNC_MODES, SyncPolicy, check_sync_mode


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"on_missing_state": "mirror"}, r"on_missing_state must be one of \('replace', 'add_only'\)"),
        ({"on_drift": "ignore"}, r"on_drift must be one of \('warn', 'replace'\)"),
        ({"batch_size": 0}, "batch_size must be between 1 and 50,000"),
        ({"max_removal_fraction": -0.1}, "max_removal_fraction must be between 0 and 1"),
    ],
)
def test_a_policy_out_of_range_is_refused_when_it_is_made(settings, message):
    with pytest.raises(ValueError, match=message):
        SyncPolicy(**settings)


def test_a_policy_at_its_bounds_is_taken():
    policy = SyncPolicy(batch_size=50_000, max_removal_fraction=1.0, on_drift="replace")
    assert (policy.batch_size, policy.max_removal_fraction, policy.on_drift) == (50_000, 1.0, "replace")


@pytest.mark.parametrize("mode", SYNC_MODES)
def test_every_sync_mode_passes_the_check(mode):
    check_sync_mode(mode)


@pytest.mark.parametrize("value", ["Mirror", "", None, "{{ params.mode }}"])
def test_anything_else_is_refused_naming_the_modes(value):
    with pytest.raises(CriteoConfigurationError, match="sync_mode must be one of mirror, add_only, replace"):
        check_sync_mode(value)
