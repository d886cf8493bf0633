"""The table contract: one list of columns per table, and lane keys that cannot collide."""

from __future__ import annotations

from pathlib import Path

import pytest

from blotquant.config import ConfigError, parse_config
from blotquant.tables import (
    BANDS_LEADING,
    BANDS_MEASURED,
    RATIOS_LEADING,
    RATIOS_MEASURED,
    RESERVED_LANE_KEYS,
    SUMMARY_MEASURED,
    merge_flags,
    same_value,
)


@pytest.mark.parametrize(
    "columns",
    [BANDS_LEADING + BANDS_MEASURED, RATIOS_LEADING + RATIOS_MEASURED, SUMMARY_MEASURED],
    ids=["bands", "ratios", "summary"],
)
def test_every_written_column_is_a_reserved_lane_key(columns):
    assert set(columns) <= RESERVED_LANE_KEYS


@pytest.mark.parametrize("key", ["kda", "net_volume", "snr"])
def test_a_lane_key_named_like_a_column_is_refused(tmp_path: Path, key: str):
    config = {
        "experiment": "t",
        "pairs": [{"phospho": "p-AKT", "total": "AKT"}],
        "membranes": [
            {
                "name": "rep1",
                "lanes": [{"treatment": "DMSO", key: 3}, {"treatment": "drug"}],
                "images": [
                    {"file": "a.tif", "antibody": "p-AKT"},
                    {"file": "b.tif", "antibody": "AKT"},
                ],
            }
        ],
    }
    with pytest.raises(ConfigError) as info:
        parse_config(config, config_path=tmp_path / "c.yaml")
    assert f"membranes[0].lanes[0].{key}: `{key}` is a column blotquant writes itself" in str(
        info.value
    )


def test_same_value_across_yaml_types():
    assert same_value(0, 0.0) and same_value("10", 10) and same_value("DMSO", "DMSO")
    assert not same_value("DMSO", "dmso") and not same_value(10**400, 1.0)


def test_merge_flags_keeps_each_word_once_in_order():
    assert merge_flags("saturated;dust", "", "dust;no-band") == "saturated;dust;no-band"
