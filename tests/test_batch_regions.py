"""Batches whose files are strips of several antibodies (`regions` in a batch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from blotquant.config import parse_config
from blotquant.errors import BlotquantError

LANES = [{"treatment": "DMSO"}, {"treatment": "x"}]


def _config(folder: Path, pattern: str = "{membrane}.tif") -> dict:
    (folder / "exports").mkdir(exist_ok=True)
    for name in ("m1.tif", "m2.tif"):
        (folder / "exports" / name).write_bytes(b"")
    return {
        "pairs": [{"phospho": "p-AKT", "total": "AKT"}],
        "control": {"treatment": "DMSO"},
        "batches": [
            {
                "files": "exports/*.tif",
                "pattern": pattern,
                "lanes": LANES,
                "regions": [
                    {"antibody": "p-AKT", "rows": [0, 300]},
                    {"antibody": "AKT", "rows": [300, 600], "band_rows": [400, 450]},
                ],
            }
        ],
    }


def test_each_file_gives_one_measurement_per_strip(tmp_path):
    experiment = parse_config(_config(tmp_path), config_path=tmp_path / "c.yaml")
    got = sorted((m.membrane, m.antibody, m.rows, m.band_rows) for m in experiment.measurements)
    assert got == [
        ("m1", "AKT", (300, 600), (400, 450)),
        ("m1", "p-AKT", (0, 300), None),
        ("m2", "AKT", (300, 600), (400, 450)),
        ("m2", "p-AKT", (0, 300), None),
    ]
    assert [m.name for m in experiment.membranes] == ["m1", "m2"]
    assert experiment.resolved["batches"][0]["regions"][1]["antibody"] == "AKT"


def test_pattern_with_an_antibody_field_is_refused_with_regions(tmp_path):
    with pytest.raises(BlotquantError, match="drop \\{antibody\\} from the pattern"):
        parse_config(
            _config(tmp_path, "{membrane}_{antibody}.tif"), config_path=tmp_path / "c.yaml"
        )


def test_regions_need_antibody_and_rows(tmp_path):
    config = _config(tmp_path)
    config["batches"][0]["regions"][0] = {"rows": [0, 300]}
    with pytest.raises(BlotquantError, match="regions\\[0\\]"):
        parse_config(config, config_path=tmp_path / "c.yaml")
