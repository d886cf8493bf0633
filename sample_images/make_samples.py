"""Regenerate the demo blots, their ground truth and configs/demo.yaml.

    python sample_images/make_samples.py

The demo is a small version of the study blotquant serves: parental and
IGF-1R-inhibitor-resistant cells treated with DMSO, linsitinib (10, 100,
1000 nM), BMS-754807, NVP-AEW541 or figitumumab, probed for p-IGF-1R,
IGF-1R, p-AKT and AKT on three replicate membranes:

* rep1: strips imaged together (phospho strips in one image, the totals after
  stripping and reprobing in another), 16-bit chemiluminescence, ladder in
  lane 1, tilted 0.8 degrees, smiling, uneven background, dust.
* rep2: p-IGF-1R and IGF-1R as 16-bit chemiluminescence; p-AKT and AKT as one
  two-channel fluorescence TIFF (AKT at 700 nm in channel 0, p-AKT at 800 nm in
  channel 1); an empty lane between the cell lines; a nonspecific band under
  IGF-1R (so its config gives band_rows).
* rep3: dark bands on a light background (film scanned at 16 bits), tilted
  -1 degree, with smear; p-AKT and AKT exported as 16-bit PNG.

Resistant cells keep AKT phosphorylated under IGF-1R inhibitors (bypass
signalling); parental cells do not. One band (rep1, AKT, parental BMS-754807)
is over-exposed on purpose, so the saturation flag can be seen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
from PIL import Image

from blotquant.synth import BlotSpec, StripSpec, render_blot, truth_table

HERE = Path(__file__).resolve().parent
CONFIG = HERE.parent / "configs" / "demo.yaml"
SEED = 7

TREATMENTS = [  # (treatment, dose_nM)
    ("DMSO", 0),
    ("linsitinib", 10),
    ("linsitinib", 100),
    ("linsitinib", 1000),
    ("BMS-754807", 100),
    ("NVP-AEW541", 500),
    ("figitumumab", 50),
]
# true phospho/total fold change vs DMSO, per cell line
P_IGF1R = {
    "linsitinib": {10: 0.55, 100: 0.22, 1000: 0.08},
    "BMS-754807": 0.10,
    "NVP-AEW541": 0.20,
    "figitumumab": 0.30,
}
P_AKT = {
    "parental": {
        "linsitinib": {10: 0.70, 100: 0.35, 1000: 0.12},
        "BMS-754807": 0.15,
        "NVP-AEW541": 0.30,
        "figitumumab": 0.40,
    },
    "resistant": {
        "linsitinib": {10: 1.00, 100: 0.96, 1000: 0.92},
        "BMS-754807": 0.90,
        "NVP-AEW541": 1.00,
        "figitumumab": 1.04,
    },
}


def _fold(table: dict, treatment: str, dose: int) -> float:
    if treatment == "DMSO":
        return 1.0
    value = table[treatment]
    return value[dose] if isinstance(value, dict) else value


def lane_layout(ladder: bool, empty_between: bool) -> list[dict]:
    lanes: list[dict] = [{"role": "ladder"}] if ladder else []
    for cell_line in ("parental", "resistant"):
        for treatment, dose in TREATMENTS:
            lanes.append({"treatment": treatment, "dose_nM": dose, "cell_line": cell_line})
        if empty_between and cell_line == "parental":
            lanes.append({"role": "empty"})
    return lanes


def true_volumes(lanes: list[dict], rng: np.random.Generator, scale: float) -> dict[str, list]:
    """Band volumes per antibody and lane, with replicate-to-replicate variation."""
    out: dict[str, list[float]] = {k: [] for k in ("p-IGF-1R", "IGF-1R", "p-AKT", "AKT")}
    for lane in lanes:
        if lane.get("role") in ("ladder", "empty"):
            for values in out.values():
                values.append(0.0)
            continue
        t, dose, line = lane["treatment"], lane["dose_nM"], lane["cell_line"]
        igf1r = scale * (1.0 if line == "parental" else 0.8) * rng.uniform(0.85, 1.15)
        akt = scale * 1.2 * rng.uniform(0.85, 1.15)
        noise = rng.lognormal(0.0, 0.08, 2)
        out["IGF-1R"].append(igf1r)
        out["AKT"].append(akt)
        out["p-IGF-1R"].append(igf1r * 0.6 * _fold(P_IGF1R, t, dose) * noise[0])
        out["p-AKT"].append(akt * 0.5 * _fold(P_AKT[line], t, dose) * noise[1])
    return out


def _lane_geometry(n_lanes: int, pitch: float, rng: np.random.Generator, margin: float):
    width = int(round(2 * margin + pitch * (n_lanes - 1)))
    return width, dict(
        n_lanes=n_lanes,
        pitch=pitch,
        first_lane=margin,
        lane_jitter=list(rng.uniform(-2.5, 2.5, n_lanes)),
    )


def make_rep1(rng: np.random.Generator) -> tuple[dict, list[pd.DataFrame], dict]:
    lanes = lane_layout(ladder=True, empty_between=False)
    vols = true_volumes(lanes, rng, 2.2e6)
    sat_lane = 1 + next(
        i
        for i, lane in enumerate(lanes)
        if lane.get("treatment") == "BMS-754807" and lane["cell_line"] == "parental"
    )
    vols["AKT"][sat_lane - 1] *= 5.0  # over-exposed on purpose
    roles = [lane.get("role", "sample") for lane in lanes]
    width, geo = _lane_geometry(len(lanes), 58, rng, 50)
    ladder = [40.0, 85.0, 200.0, 250.0]
    files, truths = {}, []
    for name, (top_ab, bottom_ab) in {
        "rep1_phospho.tif": ("p-IGF-1R", "p-AKT"),
        "rep1_total.tif": ("IGF-1R", "AKT"),
    }.items():
        strips = [
            StripSpec(
                top_ab,
                300,
                130,
                vols[top_ab],
                sigma=5.0,
                background=1800,
                gradient=(0.6, 0.8),
                blotches=3,
                ladder_rows=ladder,
                ladder_volume=1.5e6,
            ),
            StripSpec(
                bottom_ab,
                300,
                150,
                vols[bottom_ab],
                sigma=4.5,
                background=1500,
                gradient=(-0.4, 0.5),
                blotches=2,
                ladder_rows=ladder,
                ladder_volume=1.5e6,
            ),
        ]
        # the totals were imaged on a camera that clips at 24000 counts
        ceiling = 24000.0 if name == "rep1_total.tif" else None
        spec = BlotSpec(
            width=width,
            strips=strips,
            roles=roles,
            rotation_deg=0.8,
            smile=4.0,
            read_noise=25,
            shot_noise=1.5,
            dust=6,
            ceiling=ceiling,
            **geo,
        )
        image, truth = render_blot(spec, rng)
        tifffile.imwrite(HERE / name, image, compression="zlib")
        files[name] = image.shape
        truths.append(truth_table(truth, membrane="rep1", image=name))
    config = {
        "name": "rep1",
        "lanes": lanes,
        "images": [
            {
                "file": "../sample_images/rep1_phospho.tif",
                "regions": [
                    {"antibody": "p-IGF-1R", "rows": [0, 300]},
                    {"antibody": "p-AKT", "rows": [300, 600]},
                ],
            },
            {
                "file": "../sample_images/rep1_total.tif",
                "regions": [
                    {"antibody": "IGF-1R", "rows": [0, 300]},
                    {"antibody": "AKT", "rows": [300, 600]},
                ],
            },
        ],
    }
    return config, truths, files


def make_rep2(rng: np.random.Generator) -> tuple[dict, list[pd.DataFrame], dict]:
    lanes = lane_layout(ladder=False, empty_between=True)
    vols = true_volumes(lanes, rng, 2.0e6)
    roles = [lane.get("role", "sample") for lane in lanes]
    width, geo = _lane_geometry(len(lanes), 62, rng, 55)
    files, truths = {}, []
    for name, ab, extra in [
        ("rep2_pIGF1R.tif", "p-IGF-1R", {}),
        ("rep2_IGF1R.tif", "IGF-1R", {"nonspecific": (-24.0, 0.35)}),
    ]:
        strip = StripSpec(
            ab,
            360,
            190,
            vols[ab],
            sigma=5.5,
            background=1200,
            gradient=(0.5, -0.6),
            blotches=3,
            **extra,
        )
        spec = BlotSpec(
            width=width,
            strips=[strip],
            roles=roles,
            rotation_deg=-0.5,
            smile=3.0,
            read_noise=20,
            shot_noise=1.2,
            dust=4,
            **geo,
        )
        image, truth = render_blot(spec, rng)
        tifffile.imwrite(HERE / name, image, compression="zlib")
        files[name] = image.shape
        truths.append(truth_table(truth, membrane="rep2", image=name))
    # two-colour fluorescence: same membrane, same geometry, two channels
    channels = []
    for channel, ab in enumerate(("AKT", "p-AKT")):
        strip = StripSpec(
            ab,
            320,
            160,
            vols[ab],
            sigma=4.5,
            background=400 + 150 * channel,
            gradient=(0.2, 0.2),
            blotches=2,
        )
        spec = BlotSpec(
            width=width,
            strips=[strip],
            roles=roles,
            rotation_deg=-0.5,
            smile=3.0,
            read_noise=15,
            shot_noise=0.8,
            dust=2,
            **geo,
        )
        image, truth = render_blot(spec, np.random.default_rng(rng.integers(1 << 31)))
        channels.append(image)
        table = truth_table(truth, membrane="rep2", image="rep2_AKT_2ch.tif")
        table["channel"] = channel
        truths.append(table)
    stack = np.stack(channels)
    tifffile.imwrite(HERE / "rep2_AKT_2ch.tif", stack, compression="zlib")
    files["rep2_AKT_2ch.tif"] = stack.shape
    band_row = truths[1]["band_row"]
    config = {
        "name": "rep2",
        "lanes": lanes,
        "images": [
            {"file": "../sample_images/rep2_pIGF1R.tif", "antibody": "p-IGF-1R"},
            {
                "file": "../sample_images/rep2_IGF1R.tif",
                "antibody": "IGF-1R",
                "band_rows": [int(band_row.min()) - 14, int(band_row.max()) + 16],
            },
            {
                "file": "../sample_images/rep2_AKT_2ch.tif",
                "channel": 0,
                "antibody": "AKT",
                "polarity": "light-bands",
            },
            {
                "file": "../sample_images/rep2_AKT_2ch.tif",
                "channel": 1,
                "antibody": "p-AKT",
                "polarity": "light-bands",
            },
        ],
    }
    return config, truths, files


def make_rep3(rng: np.random.Generator) -> tuple[dict, list[pd.DataFrame], dict]:
    lanes = lane_layout(ladder=False, empty_between=False)
    vols = true_volumes(lanes, rng, 1.6e6)
    roles = [lane.get("role", "sample") for lane in lanes]
    width, geo = _lane_geometry(len(lanes), 66, rng, 60)
    files, truths = {}, []
    for name, ab in [
        ("rep3_pIGF1R.tif", "p-IGF-1R"),
        ("rep3_IGF1R.tif", "IGF-1R"),
        ("rep3_pAKT.png", "p-AKT"),
        ("rep3_AKT.png", "AKT"),
    ]:
        strip = StripSpec(
            ab,
            340,
            170,
            vols[ab],
            sigma=6.0,
            background=3000,
            gradient=(1.0, 1.5),
            blotches=4,
            smear=0.03,
        )
        spec = BlotSpec(
            width=width,
            strips=[strip],
            roles=roles,
            rotation_deg=-1.0,
            smile=5.0,
            polarity="dark-bands",
            white=52000,
            read_noise=40,
            shot_noise=1.0,
            dust=8,
            **geo,
        )
        image, truth = render_blot(spec, rng)
        if name.endswith(".png"):
            Image.fromarray(image).save(HERE / name)
        else:
            tifffile.imwrite(HERE / name, image, compression="zlib")
        files[name] = image.shape
        truths.append(truth_table(truth, membrane="rep3", image=name))
    config = {
        "name": "rep3",
        "lanes": lanes,
        "images": [
            {"file": f"../sample_images/{name}", "antibody": ab}
            for name, ab in [
                ("rep3_pIGF1R.tif", "p-IGF-1R"),
                ("rep3_IGF1R.tif", "IGF-1R"),
                ("rep3_pAKT.png", "p-AKT"),
                ("rep3_AKT.png", "AKT"),
            ]
        ],
    }
    return config, truths, files


#: AXL, the bypass receptor: expression per cell line and treatment, relative to
#: parental DMSO (resistant cells make three times as much).
AXL = {("parental", "DMSO"): 1.0, ("parental", "linsitinib"): 1.0,
       ("resistant", "DMSO"): 3.0, ("resistant", "linsitinib"): 3.3}  # fmt: skip
#: The calibrator and the standards are one pooled lysate (parental and resistant).
POOL_AXL = 2.5
STANDARD_UG = [2.5, 5.0, 10.0, 20.0, 40.0, 80.0]
SAMPLE_UG = 12.0
#: AXL volume per microgram of parental lysate, and the detector's response
#: (toe, knee): within 10 % of proportional from about 0.02 to 3.4 million, so the
#: top standard (4 million) lies above the linear range and every sample inside it.
AXL_PER_UG = 2e4
AXL_RESPONSE = (3000.0, 2.5e7)
STAIN_PER_UG = 1.2e5
STAIN_BANDS = [(45, 0.07), (70, 0.12), (98, 0.1), (130, 0.18), (160, 0.1), (195, 0.16),
               (230, 0.12), (262, 0.15)]  # fmt: skip


def expression_lanes(standards: bool) -> list[dict]:
    """Lanes of an AXL membrane: a dilution series (on one), the calibrator, the samples."""
    lanes: list[dict] = []
    if standards:
        lanes += [{"role": "standard", "amount": a} for a in STANDARD_UG]
    lanes.append({"role": "calibrator"})
    for cell_line in ("parental", "resistant"):
        for treatment, dose in (("DMSO", 0), ("linsitinib", 100)):
            for _ in range(2):
                lanes.append({"treatment": treatment, "dose_nM": dose, "cell_line": cell_line})
    return lanes


def make_expression(
    rng: np.random.Generator, name: str, standards: bool, brightness: tuple[float, float]
) -> tuple[dict, list[pd.DataFrame], dict]:
    """An AXL membrane with a total-protein stain (stain-free), imaged at its own brightness.

    The AXL membranes show the normalisations: their background has a gradient
    but no blotches (a blotch under a band is issue 12's, measured in the
    benchmark and on rep1-3).
    """
    lanes = expression_lanes(standards)
    axl, stain = [], []
    for lane in lanes:
        if lane.get("role") == "standard":
            micrograms, expression = lane["amount"], POOL_AXL
        elif lane.get("role") == "calibrator":
            micrograms, expression = SAMPLE_UG, POOL_AXL
        else:
            # each lane loaded a little unevenly: what the stain is there to take away
            micrograms = SAMPLE_UG * rng.uniform(0.8, 1.2)
            expression = AXL[lane["cell_line"], lane["treatment"]]
        axl.append(brightness[0] * AXL_PER_UG * micrograms * expression)
        stain.append(brightness[1] * STAIN_PER_UG * micrograms)
    roles = [lane.get("role", "sample") for lane in lanes]
    width, geo = _lane_geometry(len(lanes), 56, rng, 50)
    files, truths = {}, []
    strips = {
        f"{name}_AXL.tif": StripSpec(
            "AXL", 260, 120, axl, sigma=4.5, background=1400, gradient=(0.4, 0.3),
            response=AXL_RESPONSE,
        ),
        f"{name}_stain.tif": StripSpec(
            "total protein", 300, 150, stain, sigma=3.0, background=900, gradient=(0.3, 0.0),
            stain_bands=STAIN_BANDS,
        ),
    }  # fmt: skip
    for file, strip in strips.items():
        spec = BlotSpec(
            width=width, strips=[strip], roles=roles, rotation_deg=0.3, read_noise=18,
            shot_noise=1.0, dust=2, **geo,
        )  # fmt: skip
        image, truth = render_blot(spec, rng)
        tifffile.imwrite(HERE / file, image, compression="zlib")
        files[file] = image.shape
        truths.append(truth_table(truth, membrane=name, image=file))
    config = {
        "name": name,
        "lanes": lanes,
        "images": [
            {"file": f"../sample_images/{name}_AXL.tif", "antibody": "AXL"},
            {
                "file": f"../sample_images/{name}_stain.tif",
                "antibody": "total protein",
                "stain": "total-protein",
                "band_rows": [25, 285],
            },
        ],
    }
    return config, truths, files


def expression_truth(bands: pd.DataFrame, layouts: dict[str, list[dict]]) -> pd.DataFrame:
    """True AXL/total protein ratio and fold change (vs parental DMSO, through the calibrator)."""
    rows = []
    for membrane, lanes in layouts.items():
        vol = bands[bands.membrane == membrane].set_index(["antibody", "lane"])["true_volume"]
        calibrator = next(k for k, lane in enumerate(lanes, 1) if lane.get("role") == "calibrator")
        reference = vol[("AXL", calibrator)] / vol[("total protein", calibrator)]
        for number, lane in enumerate(lanes, start=1):
            if lane.get("role") is not None:
                continue
            ratio = vol[("AXL", number)] / vol[("total protein", number)]
            rows.append(
                {
                    "membrane": membrane,
                    "lane": number,
                    "pair": "AXL/total protein",
                    "cell_line": lane["cell_line"],
                    "treatment": lane["treatment"],
                    "dose_nM": lane["dose_nM"],
                    "true_ratio": ratio,
                    # through the calibrator, every membrane alike: the expression itself
                    "true_fold_change": ratio / reference * POOL_AXL / AXL["parental", "DMSO"],
                }
            )
    return pd.DataFrame(rows)


def fold_change_truth(bands: pd.DataFrame, layouts: dict[str, list[dict]]) -> pd.DataFrame:
    """True ratio and fold change (vs DMSO of the same membrane and cell line) per lane."""
    rows = []
    for membrane, lanes in layouts.items():
        for phospho, total in (("p-IGF-1R", "IGF-1R"), ("p-AKT", "AKT")):
            vol = bands[bands.membrane == membrane].set_index(["antibody", "lane"])["true_volume"]
            ratios = {}
            for number, lane in enumerate(lanes, start=1):
                if lane.get("role") in ("ladder", "empty"):
                    continue
                ratios[number] = vol[(phospho, number)] / vol[(total, number)]
            for number, ratio in ratios.items():
                lane = lanes[number - 1]
                controls = [
                    ratios[k]
                    for k in ratios
                    if lanes[k - 1]["treatment"] == "DMSO"
                    and lanes[k - 1]["cell_line"] == lane["cell_line"]
                ]
                rows.append(
                    {
                        "membrane": membrane,
                        "lane": number,
                        "pair": f"{phospho}/{total}",
                        "cell_line": lane["cell_line"],
                        "treatment": lane["treatment"],
                        "dose_nM": lane["dose_nM"],
                        "true_ratio": ratio,
                        "true_fold_change": ratio / np.mean(controls),
                    }
                )
    return pd.DataFrame(rows)


def write_config(membranes: list[dict]) -> None:
    import yaml

    config = {
        "experiment": "IGF-1R inhibitor resistance: parental vs resistant cells (demo)",
        "output": "../blotquant-results",
        "analysis": {"polarity": "auto", "rolling_ball_radius": 50, "lane_width": "auto"},
        "pairs": [
            {"phospho": "p-IGF-1R", "total": "IGF-1R"},
            {"phospho": "p-AKT", "total": "AKT"},
            {
                "target": "AXL",
                "loading": "total protein",
                # expression is compared across cell lines, and across membranes
                "control": {"cell_line": "parental", "treatment": "DMSO"},
                "normalize_within": [],
                "normalize_to": "calibrator",
            },
        ],
        "control": {"treatment": "DMSO"},
        "normalize_within": ["cell_line"],
        "summary_by": ["cell_line", "treatment", "dose_nM"],
        # stats.csv: resistant against parental cells at each treatment
        "compare": ["cell_line"],
        "membranes": membranes,
    }
    header = (
        "# The demo config: three replicate membranes of the IGF-1R inhibitor study, and two\n"
        "# membranes of the bypass receptor AXL over a total-protein stain, with a calibrator\n"
        "# lane on each and a dilution series on the first.\n"
        "# Generated by sample_images/make_samples.py; paths are relative to this file.\n"
    )
    CONFIG.parent.mkdir(exist_ok=True)
    text = yaml.safe_dump(config, sort_keys=False, default_flow_style=None, width=100)
    CONFIG.write_text(header + text)


def main() -> None:
    rng = np.random.default_rng(SEED)
    membranes, tables, layouts = [], [], {}
    for make in (make_rep1, make_rep2, make_rep3):
        config, truths, files = make(rng)
        membranes.append(config)
        layouts[config["name"]] = config["lanes"]
        tables.extend(truths)
        for name, shape in files.items():
            print(f"{name}: {shape}")
    expression = {}
    for name, standards, brightness in (("axl1", True, (1.0, 1.0)), ("axl2", False, (1.7, 1.3))):
        config, truths, files = make_expression(rng, name, standards, brightness)
        membranes.append(config)
        expression[name] = config["lanes"]
        tables.extend(truths)
        for file, shape in files.items():
            print(f"{file}: {shape}")
    bands = pd.concat(tables, ignore_index=True)
    bands.to_csv(HERE / "ground_truth_bands.csv", index=False, float_format="%.6g")
    truth = pd.concat(
        [fold_change_truth(bands, layouts), expression_truth(bands, expression)],
        ignore_index=True,
    )
    truth.to_csv(HERE / "ground_truth.csv", index=False, float_format="%.6g")
    write_config(membranes)
    print(f"wrote {CONFIG}")


if __name__ == "__main__":
    main()
