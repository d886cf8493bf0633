"""The config loader: the spec's example, every error case, batches, and fuzzing."""

from __future__ import annotations

import atexit
import copy
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blotquant.config import ConfigError, load_config, parse_config
from blotquant.errors import BlotquantError
from blotquant.models import DEFAULT_BACKGROUND, AnalysisSettings

EXAMPLE = Path(__file__).parent / "data" / "configs" / "example-config.yaml"
BATCH_FILES = [f"rep{m}_{a}.tif" for m in (3, 4) for a in ("pIGF1R", "IGF1R", "pAKT", "AKT")]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The spec's example config in a folder with its batch exports (empty files)."""
    config = tmp_path / "example.yaml"
    shutil.copy(EXAMPLE, config)
    (tmp_path / "exports").mkdir()
    for name in BATCH_FILES:
        (tmp_path / "exports" / name).touch()
    return config


def base() -> dict[str, Any]:
    """A small valid config: one membrane, two images, one pair."""
    return {
        "experiment": "test",
        "pairs": [{"phospho": "p-AKT", "total": "AKT"}],
        "control": {"treatment": "DMSO"},
        "membranes": [
            {
                "name": "rep1",
                "lanes": [{"treatment": "DMSO"}, {"treatment": "drug"}, {"role": "ladder"}],
                "images": [
                    {"file": "a.tif", "antibody": "p-AKT"},
                    {"file": "b.tif", "antibody": "AKT"},
                ],
            }
        ],
    }


def parse(data: Any, folder: Path, **kwargs: Any):
    return parse_config(data, config_path=folder / "c.yaml", **kwargs)


def problems(data: Any, folder: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(data, folder)
    return info.value


def assert_problem(error: ConfigError, key: str, *words: str) -> None:
    """The error has a problem at ``key`` whose message holds every word."""
    for p in error.problems:
        if p.key == key and all(w.lower() in p.message.lower() for w in words):
            line = next(x for x in str(error).splitlines() if p.message in x)
            assert line.startswith("  - c.yaml") and (key in line)
            return
    raise AssertionError(f"no problem at {key!r} with {words}:\n{error}")


# --- the spec's example ------------------------------------------------------------------


def test_example_parses(example: Path):
    exp = load_config(example)
    assert exp.config_path == example
    assert exp.experiment.startswith("IGF-1R inhibitor resistance")
    assert exp.output == example.parent / "results"
    # rep1: 2 images x 2 regions; rep2: 4 images; batch: 2 membranes x 4 files
    assert len(exp.measurements) == 16
    assert [m.name for m in exp.membranes] == ["rep1", "rep2", "rep3", "rep4"]
    assert [p.name for p in exp.pairs] == ["p-IGF-1R/IGF-1R", "p-AKT/AKT"]
    assert exp.control == {"treatment": "DMSO"}
    assert exp.normalize_within == ("cell_line",)
    assert exp.summary_by == ("cell_line", "treatment", "dose_nM")
    assert exp.warnings == ()
    assert exp.analysis == AnalysisSettings(
        polarity="auto", background="rolling-ball", rolling_ball_radius=50.0, lane_width=None
    )


def test_example_lanes(example: Path):
    exp = load_config(example)
    rep1, rep2, rep3 = exp.membrane("rep1"), exp.membrane("rep2"), exp.membrane("rep3")
    assert [lane.role for lane in rep1.lanes] == ["ladder"] + ["sample"] * 6
    assert [lane.number for lane in rep1.lanes] == list(range(1, 8))
    assert rep1.lanes[1].metadata == {
        "treatment": "DMSO",
        "dose_nM": 0,
        "cell_line": "parental",
        "sample": "rep1-L2",
    }
    assert rep2.lanes[0].metadata["sample"] == "P-D"  # given, not defaulted
    assert rep2.lanes[2].role == "empty"
    assert len(rep3.lanes) == 3 and rep3.lanes[1].metadata["treatment"] == "NVP-AEW541"
    assert rep3.lanes[2].metadata["sample"] == "rep3-L3"


def test_example_measurements_have_merged_settings(example: Path):
    exp = load_config(example)
    by_source = {m.source: m for m in exp.measurements}
    igf = by_source["membranes[0] (rep1) > images[1] (rep1_total.tif) > regions[0]"]
    assert (igf.antibody, igf.rows, igf.band_rows) == ("IGF-1R", (0, 380), (150, 230))
    assert igf.path == example.parent / "rep1_total.tif" and igf.image == "rep1_total.tif"
    assert igf.analysis.background == "rolling-ball"
    akt = by_source["membranes[0] (rep1) > images[1] (rep1_total.tif) > regions[1]"]
    assert akt.band_rows is None and akt.rows == (380, 760)
    total = by_source["membranes[1] (rep2) > images[2] (rep2_AKT_2ch.tif)"]
    assert (total.channel, total.antibody, total.analysis.polarity) == (0, "AKT", "light-bands")
    assert total.lane_centers is None and total.analysis.lane_width is None
    phospho = by_source["membranes[1] (rep2) > images[3] (rep2_AKT_2ch.tif)"]
    assert (phospho.channel, phospho.antibody) == (1, "p-AKT")
    assert phospho.lane_centers == (60.0, 120.0, 180.0, 240.0, 300.0)
    assert phospho.analysis.lane_width == 44.0
    assert phospho.analysis.polarity == "light-bands"
    assert phospho.analysis.rolling_ball_radius == 50.0  # from `analysis`


def test_example_batch_uses_aliases(example: Path):
    exp = load_config(example)
    batch = [m for m in exp.measurements if m.source.startswith("batches[0]")]
    assert len(batch) == 8
    assert {(m.membrane, m.antibody) for m in batch} == {
        (m, a) for m in ("rep3", "rep4") for a in ("p-IGF-1R", "IGF-1R", "p-AKT", "AKT")
    }
    pakt = next(m for m in batch if m.image == "exports/rep3_pAKT.tif")
    assert pakt.antibody == "p-AKT" and pakt.membrane == "rep3"
    assert pakt.path == example.parent / "exports" / "rep3_pAKT.tif"
    assert pakt.source == "batches[0] (exports/*.tif) > exports/rep3_pAKT.tif"


def test_resolved_has_every_default_and_is_json(example: Path):
    exp = load_config(example)
    resolved = json.loads(json.dumps(exp.resolved))  # JSON-serialisable as it is
    assert resolved["analysis"] == {
        "polarity": "auto",
        "background": "rolling-ball",
        "rolling_ball_radius": 50.0,
        "lane_width": "auto",
        "saturation_level": "auto",
        "background_margin": "auto",
    }
    assert resolved["output"] == str(example.parent / "results")
    lane = resolved["membranes"][0]["lanes"][2]
    assert lane["role"] == "sample" and lane["sample"] == "rep1-L3"
    assert resolved["membranes"][1]["images"][0]["channel"] == 0
    assert resolved["batches"][0]["antibody_aliases"]["pAKT"] == "p-AKT"


def test_defaults_when_keys_are_left_out(tmp_path: Path):
    exp = parse(base() | {"control": None}, tmp_path)
    assert exp.analysis == AnalysisSettings()
    assert exp.analysis.background == DEFAULT_BACKGROUND
    assert exp.output == tmp_path / "blotquant-results"
    assert exp.control == {"treatment": "DMSO"}
    assert exp.normalize_within == () and exp.summary_by == ("treatment",)
    assert exp.resolved["summary_by"] == ["treatment"]
    assert exp.resolved["analysis"]["background"] == DEFAULT_BACKGROUND
    cfg = base()
    del cfg["experiment"]
    assert parse(cfg, tmp_path).experiment == "c"  # the config file's name


def test_resolved_reads_back_to_the_same_experiment(example: Path):
    exp = load_config(example)
    again = parse_config(exp.resolved, config_path=example)
    assert again.measurements == exp.measurements
    assert again.membranes == exp.membranes
    assert again.resolved == exp.resolved


def test_output_argument_wins(example: Path, tmp_path: Path):
    assert load_config(example, output=tmp_path / "out").output == tmp_path / "out"
    assert parse(base() | {"output": "res"}, tmp_path).output == tmp_path / "res"


def test_overrides_merge_analysis_then_image_then_region(tmp_path: Path):
    cfg = base()
    cfg["analysis"] = {"polarity": "dark-bands", "rolling_ball_radius": 30, "lane_width": 20}
    cfg["membranes"][0]["images"] = [
        {
            "file": "s.tif",
            "channel": 2,
            "background": "lane-edges",
            "lane_width": "auto",
            "band_rows": [10, 20],
            "regions": [
                {"antibody": "p-AKT", "rows": [0, 50]},
                {
                    "antibody": "AKT",
                    "rows": [50, 100],
                    "band_rows": [60, 70],
                    "channel": 0,
                    "polarity": "light-bands",
                    "background_margin": 5,
                    "saturation_level": 60000,
                },
            ],
        }
    ]
    p, t = parse(cfg, tmp_path).measurements
    assert (p.channel, p.band_rows, p.rows) == (2, (10, 20), (0, 50))
    assert p.analysis == AnalysisSettings(
        polarity="dark-bands", background="lane-edges", rolling_ball_radius=30.0, lane_width=None
    )
    assert (t.channel, t.band_rows) == (0, (60, 70))
    assert t.analysis == AnalysisSettings(
        polarity="light-bands",
        background="lane-edges",
        rolling_ball_radius=30.0,
        lane_width=None,
        saturation_level=60000.0,
        background_margin=5,
    )
    assert t.source == "membranes[0] (rep1) > images[0] (s.tif) > regions[1]"


def test_blank_values_mean_default(tmp_path: Path):
    cfg = base()
    cfg["analysis"] = {"polarity": None, "lane_width": None}
    cfg["normalize_within"] = None
    cfg["membranes"][0]["images"][0]["channel"] = None
    exp = parse(cfg, tmp_path)
    assert exp.measurements[0].channel == 0 and exp.analysis.polarity == "auto"


def test_single_lane_key_may_be_written_without_brackets(tmp_path: Path):
    cfg = base() | {"summary_by": "treatment"}
    assert parse(cfg, tmp_path).summary_by == ("treatment",)


# --- error cases --------------------------------------------------------------------------


def _set(path: list[Any], value: Any):
    def change(cfg: dict[str, Any]) -> None:
        node = cfg
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


def _delete(path: list[Any]):
    def change(cfg: dict[str, Any]) -> None:
        node = cfg
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return change


IMG0 = ["membranes", 0, "images", 0]
LANES = ["membranes", 0, "lanes"]

CASES = [
    (
        "unknown key",
        _set(IMG0 + ["band_row"], [1, 5]),
        "membranes[0].images[0].band_row",
        ["did you mean `band_rows`?"],
    ),
    (
        "unknown top key",
        _set(["sumary_by"], ["treatment"]),
        "sumary_by",
        ["did you mean `summary_by`?"],
    ),
    ("key in the wrong place", _set(["polarity"], "auto"), "polarity", ["analysis"]),
    (
        "wrong type: whole number",
        _set(IMG0 + ["channel"], "abc"),
        "membranes[0].images[0].channel",
        ["whole number", "'abc'"],
    ),
    (
        "wrong type: fraction",
        _set(IMG0 + ["channel"], 1.5),
        "membranes[0].images[0].channel",
        ["whole number", "1.5"],
    ),
    ("wrong type: text", _set(["experiment"], ["a", "b"]), "experiment", ["expected text", "list"]),
    (
        "wrong type: list",
        _set(LANES, "DMSO, drug"),
        "membranes[0].lanes",
        ["expected a list", "DMSO, drug"],
    ),
    (
        "wrong type: mapping",
        _set(["membranes", 0], "rep1"),
        "membranes[0]",
        ["expected a mapping", "'rep1'"],
    ),
    (
        "pair written as text",
        _set(["pairs", 0], "p-AKT/AKT"),
        "pairs[0]",
        ["{phospho: p-AKT, total: AKT}"],
    ),
    (
        "bad polarity",
        _set(["analysis"], {"polarity": "dark"}),
        "analysis.polarity",
        ["auto, dark-bands, light-bands", "did you mean `dark-bands`?"],
    ),
    (
        "bad background",
        _set(["analysis"], {"background": "rolling_ball"}),
        "analysis.background",
        ["rolling-ball, lane-edges, profile-baseline, none"],
    ),
    (
        "bad role",
        _set(LANES + [2, "role"], "marker"),
        "membranes[0].lanes[2].role",
        ["sample, ladder, empty", "'marker'"],
    ),
    (
        "radius not positive",
        _set(["analysis"], {"rolling_ball_radius": 0}),
        "analysis.rolling_ball_radius",
        ["above 0"],
    ),
    (
        "lane width negative",
        _set(IMG0 + ["lane_width"], -4),
        "membranes[0].images[0].lane_width",
        ["`auto`", "-4"],
    ),
    ("missing pairs", _delete(["pairs"]), "pairs", ["missing", "phospho"]),
    ("empty pairs", _set(["pairs"], []), "pairs", ["empty"]),
    ("missing membranes and batches", _delete(["membranes"]), "", ["no `membranes`"]),
    ("missing file", _delete(IMG0 + ["file"]), "membranes[0].images[0].file", ["missing"]),
    ("missing lanes", _delete(LANES), "membranes[0].lanes", ["missing"]),
    (
        "file with no value",
        _set(IMG0 + ["file"], None),
        "membranes[0].images[0].file",
        ["`file` has no value", "name the image file"],
    ),
    (
        "sample lane without treatment",
        _set(LANES + [1], {"dose": 5}),
        "membranes[0].lanes[1]",
        ["needs a `treatment`", "role: ladder"],
    ),
    (
        "misspelt treatment",
        _set(LANES + [1], {"treatmnt": "drug"}),
        "membranes[0].lanes[1]",
        ["`treatmnt`"],
    ),
    (
        "lane written as a role",
        _set(LANES + [2], "ladder"),
        "membranes[0].lanes[2]",
        ["{role: ladder}"],
    ),
    (
        "lane key that is an output column",
        _set(LANES + [0, "antibody"], "x"),
        "membranes[0].lanes[0].antibody",
        ["rename"],
    ),
    (
        "lane value that is a list",
        _set(LANES + [0, "dose"], [1, 2]),
        "membranes[0].lanes[0].dose",
        ["single value"],
    ),
    (
        "both antibody and regions",
        _set(IMG0 + ["regions"], [{"antibody": "x", "rows": [0, 10]}]),
        "membranes[0].images[0]",
        ["both `antibody` and `regions`"],
    ),
    (
        "neither antibody nor regions",
        _delete(IMG0 + ["antibody"]),
        "membranes[0].images[0]",
        ["needs `antibody`", "`regions`"],
    ),
    (
        "band_rows upside down",
        _set(IMG0 + ["band_rows"], [470, 410]),
        "membranes[0].images[0].band_rows",
        ["upside down", "[410, 470]"],
    ),
    (
        "band_rows negative",
        _set(IMG0 + ["band_rows"], [-5, 10]),
        "membranes[0].images[0].band_rows",
        ["negative"],
    ),
    (
        "band_rows of three",
        _set(IMG0 + ["band_rows"], [1, 2, 3]),
        "membranes[0].images[0].band_rows",
        ["exactly two"],
    ),
    (
        "lane_centers count",
        _set(IMG0 + ["lane_centers"], [10, 20]),
        "membranes[0].images[0].lane_centers",
        ["2 lane centres", "3 lanes"],
    ),
    (
        "lane_centers not increasing",
        _set(IMG0 + ["lane_centers"], [30, 20, 10]),
        "membranes[0].images[0].lane_centers",
        ["left to right"],
    ),
    (
        "pair names an unmeasured antibody",
        _set(["pairs", 0, "total"], "Akt"),
        "pairs[0].total",
        ["no image or batch measures `Akt`", "Did you mean `AKT`?"],
    ),
    ("pair of one antibody", _set(["pairs", 0, "total"], "p-AKT"), "pairs[0]", ["both `p-AKT`"]),
    (
        "same antibody twice",
        _set(IMG0 + ["antibody"], "AKT"),
        "membranes[0].images[1]",
        ["`AKT`", "membranes[0].images[0] (a.tif)"],
    ),
    (
        "control matches no lane",
        _set(["control"], {"treatment": "dmso"}),
        "control",
        ["no sample lane is a control lane", "Did you mean `DMSO`?"],
    ),
    (
        "control key no lane has",
        _set(["control"], {"treatmnt": "DMSO"}),
        "control.treatmnt",
        ["no sample lane has the key", "Did you mean `treatment`?"],
    ),
    (
        "default control matches no lane",
        lambda cfg: (_set(LANES + [0, "treatment"], "vehicle")(cfg), _delete(["control"])(cfg)),
        "control",
        ["`control` is not given"],
    ),
    ("control empty", _set(["control"], {}), "control", ["empty"]),
    (
        "control value a list",
        _set(["control"], {"treatment": ["DMSO"]}),
        "control.treatment",
        ["single value"],
    ),
    (
        "normalize_within unknown key",
        _set(["normalize_within"], ["cell_line"]),
        "normalize_within[0]",
        ["no sample lane has the key `cell_line`"],
    ),
    (
        "summary_by unknown key",
        _set(["summary_by"], ["treatmnt"]),
        "summary_by[0]",
        ["Did you mean `treatment`?"],
    ),
]


@pytest.mark.parametrize(
    ("change", "key", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_error_names_key_and_says_what_to_do(tmp_path: Path, change, key, words):
    cfg = base()
    change(cfg)
    error = problems(cfg, tmp_path)
    assert isinstance(error, BlotquantError)
    assert str(error).startswith(f"Config {tmp_path / 'c.yaml'} has ")
    assert_problem(error, key, *words)


def test_duplicate_membrane_names(tmp_path: Path):
    cfg = base()
    cfg["membranes"].append(copy.deepcopy(cfg["membranes"][0]))
    assert_problem(problems(cfg, tmp_path), "membranes[1].name", "`rep1`", "membranes[0]")


def test_region_rows_and_band_rows_checked(tmp_path: Path):
    cfg = base()
    cfg["membranes"][0]["images"][0] = {
        "file": "s.tif",
        "regions": [
            {"antibody": "p-AKT", "rows": [300, 0]},
            {"antibody": "x", "rows": [0, 300], "band_rows": [400, 450]},
            {"rows": [0, 300]},
        ],
    }
    error = problems(cfg, tmp_path)
    assert_problem(error, "membranes[0].images[0].regions[0].rows", "upside down")
    assert_problem(error, "membranes[0].images[0].regions[1].band_rows", "outside", "[0, 300]")
    assert_problem(error, "membranes[0].images[0].regions[2].antibody", "missing")


def test_several_problems_reported_together(tmp_path: Path):
    cfg = base()
    cfg["analysis"] = {"polarity": "dark"}
    cfg["membranes"][0]["images"][0]["band_row"] = [1, 2]
    cfg["membranes"][0]["images"][1]["channel"] = -1
    cfg["pairs"].append({"phospho": "p-ERK", "total": "ERK"})
    cfg["membranes"][0]["lanes"][1] = {"dose": 1}
    error = problems(cfg, tmp_path)
    keys = {p.key for p in error.problems}
    assert {
        "analysis.polarity",
        "membranes[0].images[0].band_row",
        "membranes[0].images[1].channel",
        "membranes[0].lanes[1]",
    } <= keys
    # the pair check still runs: the images' antibodies are known
    assert {"pairs[1].phospho", "pairs[1].total"} <= keys
    lines = str(error).splitlines()
    assert lines[0] == f"Config {tmp_path / 'c.yaml'} has {len(error.problems)} problems:"
    assert len(lines) == len(error.problems) + 1
    assert all(line.startswith("  - c.yaml, ") for line in lines[1:])


def test_dependent_checks_wait_for_their_inputs(tmp_path: Path):
    """A broken image hides no other problem, but causes no false 'not measured'."""
    cfg = base()
    cfg["membranes"][0]["images"][1]["antibdy"] = cfg["membranes"][0]["images"][1].pop("antibody")
    error = problems(cfg, tmp_path)
    assert not any(p.key.startswith("pairs") for p in error.problems)
    assert_problem(error, "membranes[0].images[1].antibdy", "did you mean `antibody`?")


def test_not_a_mapping_at_top(tmp_path: Path):
    for data in ([1, 2], "text", 5, True):
        assert_problem(problems(data, tmp_path), "", "top level must be a mapping")
    assert_problem(problems(None, tmp_path), "", "empty")


def test_non_text_keys(tmp_path: Path):
    cfg = base()
    cfg["membranes"][0]["lanes"][0][True] = 1  # `yes: 1` in YAML
    assert_problem(problems(cfg, tmp_path), "membranes[0].lanes[0]", "not a name", "quotes")


def test_warning_for_group_without_control(tmp_path: Path):
    cfg = base() | {"normalize_within": ["cell_line"]}
    cfg["membranes"][0]["lanes"] = [
        {"treatment": "DMSO", "cell_line": "a"},
        {"treatment": "drug", "cell_line": "a"},
        {"treatment": "drug", "cell_line": "b"},
    ]
    exp = parse(cfg, tmp_path)
    assert len(exp.warnings) == 1
    assert "rep1, cell_line=b" in exp.warnings[0] and "lanes 3" in exp.warnings[0]


def test_warning_for_pair_half_missing_on_a_membrane(tmp_path: Path):
    cfg = base()
    second = copy.deepcopy(cfg["membranes"][0]) | {"name": "rep2"}
    second["images"] = second["images"][:1]
    cfg["membranes"].append(second)
    exp = parse(cfg, tmp_path)
    assert any("rep2 has p-AKT but no AKT" in w for w in exp.warnings)


# --- YAML files ---------------------------------------------------------------------------


def write(folder: Path, text: str) -> Path:
    path = folder / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


def test_yaml_syntax_error_gives_line(tmp_path: Path):
    error = load_error(write(tmp_path, "experiment: x\npairs: [{phospho: a, total: b}\n"))
    assert error.problems[0].line == 3 and "not valid YAML" in str(error)
    assert "line 3" in str(error) and "not closed" in str(error)
    error = load_error(write(tmp_path, "experiment: x\nanalysis:\n\tpolarity: auto\n"))
    assert "line 3" in str(error) and "tabs" in str(error)


def test_empty_yaml_file(tmp_path: Path):
    for text in ("", "  \n", "# nothing yet\n"):
        assert "empty" in str(load_error(write(tmp_path, text)))


def test_yaml_top_level_list(tmp_path: Path):
    assert "top level must be a mapping" in str(load_error(write(tmp_path, "- a\n- b\n")))


def test_missing_config_file_names_resolved_path(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    error = load_error(Path("nope.yaml"))
    assert str(tmp_path / "nope.yaml") in str(error) and "does not exist" in str(error)
    (tmp_path / "exp.yaml").write_text("x: 1")
    assert "Did you mean exp.yaml?" in str(load_error(Path("exp")))


def test_binary_file(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    assert "UTF-8" in str(load_error(path))


def test_yaml_problems_carry_lines_and_duplicate_keys(tmp_path: Path):
    text = (
        EXAMPLE.read_text(encoding="utf-8")
        .replace("        band_rows: [410, 470]", "        band_row: [410, 470]")
        .replace("  - {phospho: p-AKT, total: AKT}", "  - {phospho: p-AKT, total: AKT, x: 1}")
        .replace(
            "normalize_within: [cell_line]", "normalize_within: [cell_line]\nnormalize_within: []"
        )
    )
    for name in BATCH_FILES:
        (tmp_path / "exports").mkdir(exist_ok=True)
        (tmp_path / "exports" / name).touch()
    error = load_error(write(tmp_path, text))
    by_key = {p.key: p for p in error.problems}
    assert by_key["pairs[1].x"].line == 13
    assert "written twice" in by_key["normalize_within"].message
    assert f"c.yaml, line {by_key['pairs[1].x'].line}, pairs[1].x: unknown key" in str(error)


def test_dates_stay_text(tmp_path: Path):
    text = (
        "pairs: [{phospho: p, total: t}]\nmembranes:\n  - name: 2024-05-01\n"
        "    lanes: [{treatment: DMSO, date: 2024-05-01}]\n"
        "    images: [{file: a.tif, antibody: p}, {file: b.tif, antibody: t}]\n"
    )
    exp = load_config(write(tmp_path, text))
    assert exp.membranes[0].name == "2024-05-01"
    assert exp.membranes[0].lanes[0].metadata["date"] == "2024-05-01"
    json.dumps(exp.resolved)


def test_self_referring_anchor(tmp_path: Path):
    error = load_error(write(tmp_path, "pairs: &a [*a]\n"))
    assert "nested too deeply" in str(error)


def test_anchors_may_share_lanes(tmp_path: Path):
    text = """
pairs: [{phospho: p, total: t}]
membranes:
  - name: rep1
    lanes: &layout [{treatment: DMSO}, {treatment: drug}]
    images: [{file: a.tif, antibody: p}, {file: b.tif, antibody: t}]
  - name: rep2
    lanes: *layout
    images: [{file: c.tif, antibody: p}, {file: d.tif, antibody: t}]
"""
    exp = load_config(write(tmp_path, text))
    assert exp.membrane("rep2").lanes[1].metadata == {"treatment": "drug", "sample": "rep2-L2"}


# --- batches -------------------------------------------------------------------------------


def batch_config(folder: Path, names: list[str], **batch: Any) -> dict[str, Any]:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).touch()
    cfg = base()
    del cfg["membranes"]
    cfg["batches"] = [
        {
            "files": "exports/*.tif",
            "pattern": "{membrane}_{antibody}.tif",
            "lanes": [{"treatment": "DMSO"}, {"treatment": "drug"}],
        }
        | batch
    ]
    return cfg


def test_batch_aliases_and_lanes(tmp_path: Path):
    cfg = batch_config(
        tmp_path,
        ["exports/r1_pAKT.tif", "exports/r1_AKT.tif", "exports/r2_pAKT.tif", "exports/r2_AKT.tif"],
        antibody_aliases={"pAKT": "p-AKT"},
        polarity="light-bands",
        channel=1,
    )
    exp = parse(cfg, tmp_path)
    assert [m.name for m in exp.membranes] == ["r1", "r2"]
    assert exp.membrane("r2").lanes[0].metadata == {"treatment": "DMSO", "sample": "r2-L1"}
    assert [(m.membrane, m.antibody, m.image) for m in exp.measurements] == [
        ("r1", "AKT", "exports/r1_AKT.tif"),
        ("r1", "p-AKT", "exports/r1_pAKT.tif"),
        ("r2", "AKT", "exports/r2_AKT.tif"),
        ("r2", "p-AKT", "exports/r2_pAKT.tif"),
    ]
    assert all(m.channel == 1 and m.analysis.polarity == "light-bands" for m in exp.measurements)


def test_batch_file_not_matching_pattern_is_an_error(tmp_path: Path):
    cfg = batch_config(
        tmp_path, ["exports/r1_p-AKT.tif", "exports/r1_AKT.tif", "exports/notes.tif"]
    )
    error = problems(cfg, tmp_path)
    assert_problem(error, "batches[0].pattern", "exports/notes.tif", "{membrane}_{antibody}.tif")


def test_batch_glob_matching_nothing_is_an_error(tmp_path: Path):
    cfg = batch_config(tmp_path, [], files="exprots/*.tif")
    (tmp_path / "exports").mkdir()
    assert_problem(
        problems(cfg, tmp_path), "batches[0].files", "matches no file", "exprots", "does not exist"
    )


def test_batch_same_membrane_and_antibody_twice(tmp_path: Path):
    cfg = batch_config(
        tmp_path,
        ["exports/r1_pAKT.tif", "exports/r1_p-AKT.tif", "exports/r1_AKT.tif"],
        antibody_aliases={"pAKT": "p-AKT"},
    )
    assert_problem(
        problems(cfg, tmp_path),
        "batches[0].files",
        "exports/r1_p-AKT.tif",
        "exports/r1_pAKT.tif",
        "`p-AKT`",
    )


def test_batch_pairs_checked_after_aliases(tmp_path: Path):
    cfg = batch_config(tmp_path, ["exports/r1_pAKT.tif", "exports/r1_AKT.tif"])
    assert_problem(
        problems(cfg, tmp_path),
        "pairs[0].phospho",
        "no image or batch measures `p-AKT`",
        "antibody_aliases: {pAKT: p-AKT}",
    )


def test_batch_pattern_fields(tmp_path: Path):
    cfg = batch_config(
        tmp_path,
        ["exports/2024-05-01_r1_p-AKT_x.tif", "exports/2024-05-01_r1_AKT_x.tif"],
        pattern="{date}_{membrane}_{antibody}_x.tif",
    )
    exp = parse(cfg, tmp_path)
    assert {(m.membrane, m.antibody) for m in exp.measurements} == {("r1", "p-AKT"), ("r1", "AKT")}
    cfg = batch_config(tmp_path, [], pattern="{membrane}.tif")
    assert_problem(problems(cfg, tmp_path), "batches[0].pattern", "no {antibody} field")
    cfg = batch_config(tmp_path, [], pattern="{membrane}_{antibody.tif")
    assert_problem(problems(cfg, tmp_path), "batches[0].pattern", "not a valid pattern")


def test_batch_pattern_with_folders(tmp_path: Path):
    cfg = batch_config(
        tmp_path,
        [
            "exports/r1/p-AKT.tif",
            "exports/r1/AKT.tif",
            "exports/r2/p-AKT.tif",
            "exports/r2/AKT.tif",
        ],
        files="exports/*/*.tif",
        pattern="{membrane}/{antibody}.tif",
    )
    exp = parse(cfg, tmp_path)
    assert [m.name for m in exp.membranes] == ["r1", "r2"]
    assert exp.measurements[0].image == "exports/r1/AKT.tif"


def test_batch_lane_centers_and_membrane_clash(tmp_path: Path):
    cfg = batch_config(
        tmp_path, ["exports/rep1_p-AKT.tif", "exports/rep1_AKT.tif"], lane_centers=[10, 20, 30]
    )
    cfg["membranes"] = base()["membranes"]
    error = problems(cfg, tmp_path)
    assert_problem(error, "batches[0].lane_centers", "3 lane centres", "2 lanes")
    assert_problem(error, "batches[0].files", "membrane `rep1`", "membranes[0]")


def test_batch_needs_its_keys(tmp_path: Path):
    cfg = batch_config(tmp_path, [])
    cfg["batches"][0] = {"file": "x.tif", "antibody": "AKT"}
    error = problems(cfg, tmp_path)
    for key in ("files", "pattern", "lanes"):
        assert_problem(error, f"batches[0].{key}", "missing")
    assert_problem(error, "batches[0].file", "did you mean `files`?")
    assert_problem(error, "batches[0].antibody", "not a key of a batch", "from the file name")


# --- fuzzing: bad input never raises anything but BlotquantError -------------------------

_WORDS = [
    "experiment",
    "output",
    "analysis",
    "pairs",
    "phospho",
    "total",
    "control",
    "treatment",
    "normalize_within",
    "summary_by",
    "membranes",
    "name",
    "lanes",
    "role",
    "images",
    "file",
    "antibody",
    "regions",
    "rows",
    "band_rows",
    "channel",
    "lane_centers",
    "lane_width",
    "polarity",
    "background",
    "rolling_ball_radius",
    "saturation_level",
    "background_margin",
    "batches",
    "files",
    "pattern",
    "antibody_aliases",
    "sample",
    "ladder",
    "empty",
    "auto",
    "DMSO",
    "AKT",
    "p-AKT",
    "{membrane}_{antibody}.tif",
    "*.tif",
    "rolling-ball",
    "light-bands",
]
_text = st.text(alphabet=st.characters(blacklist_characters="/\\~", codec="utf-8"), max_size=8)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 10**6)
    | st.floats()
    | _text
    | st.sampled_from(_WORDS)
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(_WORDS) | _text | st.integers(), inner, max_size=5)
    ),
    max_leaves=25,
)
_FOLDER = Path(tempfile.mkdtemp(prefix="blotquant-config-fuzz-"))
atexit.register(shutil.rmtree, _FOLDER, True)
for _name in BATCH_FILES:
    (_FOLDER / "exports").mkdir(exist_ok=True)
    (_FOLDER / "exports" / _name).touch()


def _only_blotquant_errors(call) -> None:
    try:
        call()
    except BlotquantError as exc:
        assert "bug in blotquant" not in str(exc), str(exc)
        assert str(exc).startswith("Config ")


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_values)
def test_random_data_raises_only_blotquant_errors(data):
    _only_blotquant_errors(lambda: parse_config(data, config_path=_FOLDER / "c.yaml"))


def _example_data() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_example_raises_only_blotquant_errors(data):
    """The valid example with random parts replaced, removed or added."""
    cfg = _example_data()
    for _ in range(data.draw(st.integers(1, 4))):
        node: Any = cfg
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = data.draw(st.sampled_from(keys))
            child = node[key]
            if isinstance(child, dict | list) and child and data.draw(st.booleans()):
                node = child
                continue
            action = data.draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                node[key] = data.draw(_values)
            elif action == "delete":
                del node[key]
            elif isinstance(node, dict):
                node[data.draw(st.sampled_from(_WORDS))] = data.draw(_values)
            else:
                node.append(data.draw(_values))
            break
    _only_blotquant_errors(lambda: parse_config(cfg, config_path=_FOLDER / "c.yaml"))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [
                "a:",
                " ",
                "  ",
                "\n",
                "- ",
                "[",
                "]",
                "{",
                "}",
                ",",
                "'",
                '"',
                "&x ",
                "*x",
                "!!int ",
                "#",
                "\t",
                ": ",
                "---\n",
                "|",
                "pairs",
                "membranes",
                "1",
                "-1.5",
                "yes",
                "~",
                "?",
                "%",
            ]
        )
        | st.text(max_size=3),
        max_size=30,
    ).map("".join)
)
@pytest.mark.slow
def test_random_yaml_text_raises_only_blotquant_errors(text):
    path = _FOLDER / "fuzz.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    _only_blotquant_errors(lambda: load_config(path))


def test_crop_and_rotate_are_read_onto_the_measurement(tmp_path: Path):
    data = base()
    data["membranes"][0]["images"][0].update(crop=[10, 20, 300, 200], rotate=90)
    data["membranes"][0]["images"][1].update(rotate=-1.5)
    exp = parse(data, tmp_path)
    first, second = exp.measurements
    assert first.crop == (10, 20, 300, 200) and first.rotate == 90.0
    assert second.crop is None and second.rotate == -1.5
    # no crop: look for a frame; a box given, or `full`: do not
    assert second.find_membrane and not first.find_membrane


def test_crop_full_measures_the_whole_image(tmp_path: Path):
    data = base()
    data["membranes"][0]["images"][0]["crop"] = "Full"
    first = parse(data, tmp_path).measurements[0]
    assert first.crop is None and not first.find_membrane


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("crop", [300, 20, 10, 200], ("empty or upside down", "left < right")),
        ("crop", [1, 2, 3], ("expected a box", "[left, top, right, bottom]", "`full`")),
        ("rotate", 45, ("90, 180 or 270", "at most 10 degrees")),
        ("rotate", "sideways", ("90, 180 or 270",)),
    ],
)
def test_bad_crop_and_rotate_say_what_to_write(tmp_path: Path, key, value, words):
    data = base()
    data["membranes"][0]["images"][0][key] = value
    assert_problem(problems(data, tmp_path), f"membranes[0].images[0].{key}", *words)


def test_a_batch_glob_never_takes_the_runs_own_results_as_input(tmp_path: Path):
    names = ["exports/r1_pAKT.png", "exports/r1_AKT.png"]
    cfg = batch_config(
        tmp_path,
        names,
        files="**/*.png",
        pattern="{membrane}_{antibody}.png",
        antibody_aliases={"pAKT": "p-AKT"},
    )
    cfg["output"] = "exports/results"
    # a previous run's pictures and a run's staging folder, inside the output folder
    for leftover in ("exports/results/qc/r1_AKT.png", "exports/results/.blotquant-staging-x/a.png"):
        (tmp_path / leftover).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / leftover).touch()
    exp = parse(cfg, tmp_path)
    assert sorted(m.image for m in exp.measurements) == sorted(names)


def test_a_batch_glob_reads_each_real_file_once(tmp_path: Path):
    names = ["exports/r1_pAKT.tif", "exports/r1_AKT.tif"]
    cfg = batch_config(tmp_path, names, files="**/*.tif", antibody_aliases={"pAKT": "p-AKT"})
    # a symlink loop: every file is also exports/loop/..., exports/loop/loop/...
    (tmp_path / "exports" / "loop").symlink_to(tmp_path / "exports")
    exp = parse(cfg, tmp_path)
    assert sorted(m.image for m in exp.measurements) == sorted(names)


def test_a_dose_that_is_text_is_an_error_naming_the_lane(tmp_path: Path):
    cfg = base()
    cfg["membranes"][0]["lanes"][0]["dose_nM"] = 0
    cfg["membranes"][0]["lanes"][1]["dose_nM"] = "10 nM"
    for image in cfg["membranes"][0]["images"]:
        (tmp_path / image["file"]).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / image["file"]).touch()
    assert_problem(problems(cfg, tmp_path), "membranes[0].lanes[1].dose_nM", "`10 nM`", "Write 10")


def test_an_antibody_in_no_pair_gets_one_note(tmp_path: Path):
    cfg = base()
    images = cfg["membranes"][0]["images"]
    images.append({"file": "gapdh.tif", "antibody": "GAPDH"})
    for image in images:
        (tmp_path / image["file"]).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / image["file"]).touch()
    notes = [w for w in parse(cfg, tmp_path).warnings if "in no pair" in w]
    assert len(notes) == 1 and notes[0].startswith("GAPDH is measured")


def test_a_batch_glob_passes_by_the_pictures_inspect_writes(tmp_path: Path):
    names = ["exports/r1_pAKT.png", "exports/r1_AKT.png"]
    cfg = batch_config(
        tmp_path,
        names,
        files="exports/*.png",
        pattern="{membrane}_{antibody}.png",
        antibody_aliases={"pAKT": "p-AKT"},
    )
    (tmp_path / "exports" / "r1_AKT_inspect.png").touch()
    exp = parse(cfg, tmp_path)
    assert sorted(m.image for m in exp.measurements) == sorted(names)


def _with_images(cfg: dict[str, Any], tmp_path: Path, antibodies: list[str]) -> dict[str, Any]:
    cfg["membranes"][0]["images"] = [{"file": f"{a}.tif", "antibody": a} for a in antibodies]
    for a in antibodies:
        (tmp_path / f"{a}.tif").touch()
    return cfg


def test_a_target_over_loading_controls_is_a_pair(tmp_path: Path):
    cfg = _with_images(base(), tmp_path, ["p-AKT", "AKT", "AXL", "GAPDH", "actin"])
    cfg["pairs"] += [
        {"target": "AXL", "loading": "GAPDH"},
        {"target": "AXL", "loading": ["GAPDH", "actin"]},
    ]
    exp = parse(cfg, tmp_path)
    names = [(p.name, p.kind, p.denominators) for p in exp.pairs]
    assert names[1] == ("AXL/GAPDH", "target/loading", ("GAPDH",))
    assert names[2] == ("AXL/GAPDH+actin", "target/loading", ("GAPDH", "actin"))
    assert exp.resolved["pairs"][2] == {"target": "AXL", "loading": ["GAPDH", "actin"]}
    notes = [w for w in exp.warnings if "housekeeping" in w]
    assert len(notes) == 1 and notes[0].startswith("AXL/GAPDH:")


def test_a_loading_control_nothing_measures_is_named_where_it_is(tmp_path: Path):
    cfg = _with_images(base(), tmp_path, ["p-AKT", "AKT", "AXL", "GAPDH"])
    cfg["pairs"] = [{"target": "AXL", "loading": ["GAPDH", "actn"]}]
    assert_problem(problems(cfg, tmp_path), "pairs[0].loading[1]", "`actn`")
    cfg["pairs"] = [{"target": "AXL"}]
    assert_problem(problems(cfg, tmp_path), "pairs[0].loading", "")


def test_normalising_to_a_calibrator_needs_one_on_every_membrane(tmp_path: Path):
    cfg = _with_images(base(), tmp_path, ["p-AKT", "AKT"])
    cfg["normalize_to"] = "calibrator"
    assert_problem(problems(cfg, tmp_path), "normalize_to", "rep1", "{role: calibrator}")
    cfg["membranes"][0]["lanes"].append({"role": "calibrator"})  # (no treatment needed)
    exp = parse(cfg, tmp_path)
    assert exp.normalize_to == "calibrator" and exp.resolved["normalize_to"] == "calibrator"
    assert exp.membranes[0].lanes[-1].role == "calibrator"


def test_a_pair_may_have_its_own_control_grouping_and_reference(tmp_path: Path):
    cfg = _with_images(base(), tmp_path, ["p-AKT", "AKT", "AXL", "TP"])
    cfg["membranes"][0]["lanes"][0]["cell_line"] = "parental"
    cfg["membranes"][0]["images"][-1]["stain"] = "total-protein"
    pair = {"target": "AXL", "loading": "TP", "control": {"cell_line": "parental"}}
    cfg["pairs"].append({**pair, "normalize_within": [], "normalize_to": "calibrator"})
    # only the membranes of the pair that asks for it need a calibrator
    assert_problem(problems(cfg, tmp_path), "pairs[1].normalize_to", "rep1", "{role: calibrator}")
    cfg["membranes"][0]["lanes"].append({"role": "calibrator"})
    exp = parse(cfg, tmp_path)
    axl = exp.pairs[1]
    assert dict(axl.control) == {"cell_line": "parental"} and axl.normalize_within == ()
    assert axl.normalize_to == "calibrator" and exp.normalize_to == "control"
    assert exp.pairs[0].control is None
    assert next(m for m in exp.measurements if m.antibody == "TP").stain == "total-protein"
    # a stain is no housekeeping band: no note
    assert not any("housekeeping" in w for w in exp.warnings)
    cfg["pairs"][1]["control"] = {"cell_lin": "parental"}
    assert_problem(problems(cfg, tmp_path), "pairs[1].control.cell_lin", "`cell_line`")
    cfg["pairs"][1]["control"] = {"cell_line": "resistant"}
    assert_problem(problems(cfg, tmp_path), "pairs[1].control", "no sample lane")


def test_a_stain_is_named_from_its_choices(tmp_path: Path):
    cfg = _with_images(base(), tmp_path, ["p-AKT", "AKT"])
    cfg["membranes"][0]["images"][1]["stain"] = "ponceau"
    assert_problem(problems(cfg, tmp_path), "membranes[0].images[1].stain", "total-protein")


def test_a_phospho_pair_may_correct_each_band_for_loading(tmp_path: Path):
    cfg = _with_images(base(), tmp_path, ["p-AKT", "AKT", "TP1", "TP2"])
    cfg["pairs"] = [{"phospho": "p-AKT", "total": "AKT", "loading": "TP1"}]
    pair = parse(cfg, tmp_path).pairs[0]
    assert pair.kind == "phospho/total" and pair.phospho_loading == pair.total_loading == ("TP1",)
    assert pair.antibodies == ("p-AKT", "AKT", "TP1")
    cfg["pairs"] = [
        {"phospho": "p-AKT", "total": "AKT", "phospho_loading": "TP1", "total_loading": "TP2"}
    ]
    exp = parse(cfg, tmp_path)
    assert exp.pairs[0].total_loading == ("TP2",)
    assert exp.resolved["pairs"][0]["total_loading"] == ["TP2"]
    cfg["pairs"] = [{"phospho": "p-AKT", "total": "AKT", "phospho_loading": "TP1"}]
    assert_problem(problems(cfg, tmp_path), "pairs[0].phospho_loading", "add total_loading")
    cfg["pairs"] = [{"phospho": "p-AKT", "total": "AKT", "loading": "TP9"}]
    assert_problem(problems(cfg, tmp_path), "pairs[0].loading", "`TP9`")


def test_compare_names_lane_keys(tmp_path: Path):
    cfg = _with_images(base(), tmp_path, ["p-AKT", "AKT"])
    cfg["membranes"][0]["lanes"][0]["cell_line"] = "parental"
    cfg["compare"] = ["cell_line"]
    assert parse(cfg, tmp_path).compare == ("cell_line",)
    cfg["compare"] = ["cell_lines"]
    assert_problem(problems(cfg, tmp_path), "compare[0]", "`cell_line`")
