"""The table contract: output columns, flag words and the rules every table shares.

One home for what bands.csv, ratios.csv, summary.csv and dose_response.csv
look like, so a column, a flag or a "same value" rule is written once. Lane
metadata keys (treatment, dose_nM, ...) sit between the leading and the
measured columns of bands.csv and ratios.csv; they may not take the name of a
column blotquant writes itself (:data:`RESERVED_LANE_KEYS`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

#: bands.csv: these columns, then every lane metadata key, then BANDS_MEASURED.
BANDS_LEADING = ("membrane", "image", "antibody", "lane")
BANDS_MEASURED = (
    "x_left", "x_right", "band_top", "band_bottom", "raw_volume", "background_volume",
    "net_volume", "saturated_pixels", "flags", "snr", "band_row", "kda", "lane_center",
    "channel", "polarity", "background", "exposure", "exposure_factor",
)  # fmt: skip
#: ratios.csv: these columns, then every lane metadata key, then RATIOS_MEASURED.
RATIOS_LEADING = ("membrane", "lane")
RATIOS_MEASURED = (
    "pair", "phospho_net", "total_net", "ratio", "fold_change", "flags", "background", "kind",
    "role", "calibrator_ratio", "phospho_loading", "total_loading",
)  # fmt: skip
#: summary.csv: the ``summary_by`` keys, then these.
SUMMARY_MEASURED = (
    "pair", "n", "ratio_mean", "ratio_sd", "fold_change_mean", "fold_change_sd",
    "fold_change_sem", "n_excluded", "flags", "n_missing", "note", "background", "kind",
)  # fmt: skip
#: dose_response.csv: pair, treatment and the group keys, then these.
DOSE_RESPONSE_MEASURED = (
    "n_points", "n_doses", "ic50", "ic50_ci_low", "ic50_ci_high", "hill", "top", "bottom",
    "r2", "note",
)  # fmt: skip

#: The last column of bands.csv, ratios.csv, summary.csv and dose_response.csv:
#: which blotquant made the numbers, so a CSV that travels alone still says it
#: (a column, not a comment line: pandas, R and Prism read it without options).
VERSION_COLUMN = "blotquant_version"


def with_version(table: pd.DataFrame, version: str) -> pd.DataFrame:
    """Append the :data:`VERSION_COLUMN` to a table."""
    return table.assign(**{VERSION_COLUMN: version})


#: Columns blotquant writes itself beside the lane keys; a lane key with one of
#: these names would overwrite a measured value in the tables.
RESERVED_LANE_KEYS = frozenset(
    (VERSION_COLUMN,)
    + BANDS_LEADING
    + BANDS_MEASURED
    + RATIOS_LEADING
    + RATIOS_MEASURED
    + SUMMARY_MEASURED
)

#: Band flags that make a value untrustworthy: such lanes are reported in
#: ratios.csv but left out of control means and of summary.csv.
EXCLUDING_FLAGS = ("saturated",)
#: Flags of the *total* band that make a ratio meaningless (dividing by noise).
EXCLUDING_TOTAL_FLAGS = ("no-band",)
#: The flag on every band of a membrane whose lanes do not fit what it shows
#: (see :mod:`blotquant.lanecheck`).
LANES_UNCERTAIN = "lanes-uncertain"
#: The flag on a band whose surrounding membrane the export clipped to its
#: limit (paper white, crushed black): its faint edges went with it.
CLIPPED_EXPORT = "clipped-export"
#: The flag on a band that shows as two close bands (a doublet) in its box.
DOUBLET = "doublet"
#: The flag on a sample band whose volume lies outside the linear range that
#: its image's dilution series shows (see :mod:`blotquant.standards`).
OUTSIDE_LINEAR_RANGE = "outside-linear-range"
#: standards.csv: one row per image with standard lanes.
STANDARDS_COLUMNS = (
    "membrane", "image", "antibody", "n_standards", "n_linear", "amount_low", "amount_high",
    "volume_low", "volume_high", "slope", "r2_linear", "vmax", "k_half", "r2_saturating",
    "n_outside", "note",
)  # fmt: skip
#: exposures.csv: one row per pair of neighbouring exposures of a series.
EXPOSURES_COLUMNS = (
    "membrane", "antibody", "shorter", "longer", "seconds_shorter", "seconds_longer",
    "nominal_scale", "scale", "spread", "n_bands", "dynamic_range",
    "best_single_range", "n_saturated_in_all",
)  # fmt: skip
#: stats.csv: one row per comparison (see :mod:`blotquant.stats`).
STATS_COLUMNS = (
    "pair", "comparison", "within", "a", "b", "n", "n_a", "n_b", "effect", "ci_low", "ci_high",
    "test", "p", "p_adjusted", "correction", "note",
)  # fmt: skip
#: The flag on a band with a round hole in it (an air bubble in the transfer):
#: its volume is a lower bound.
BUBBLE = "bubble"


def same_value(a: Any, b: Any) -> bool:
    """Tell whether two config values are equal across YAML types.

    ``0 == 0.0`` and ``'10' == 10`` are the same dose; text compares as text.
    The one rule for picking control lanes, in the config checks and the tables.
    """
    try:
        return float(a) == float(b)
    except (TypeError, ValueError, OverflowError):
        return str(a) == str(b)


def merge_flags(*texts: str) -> str:
    """Join ``;``-separated flag texts, each word once, in first-seen order."""
    words: list[str] = []
    for text in texts:
        for word in str(text or "").split(";"):
            if word and word not in words:
                words.append(word)
    return ";".join(words)


def has_flag(flags: str, words: tuple[str, ...]) -> bool:
    """Tell whether a ``;``-separated flag text holds any of ``words``."""
    return any(w in str(flags).split(";") for w in words)


def images_flagged(bands: pd.DataFrame, flag: str) -> list[str]:
    """``image [antibody]`` of every image with a band flagged ``flag``, in table order."""
    if bands.empty:
        return []
    flagged = bands[bands["flags"].map(lambda f: has_flag(f, (flag,)))]
    groups = flagged.groupby(["image", "antibody"], sort=False)
    return [f"{image} [{antibody}]" for image, antibody in groups.groups]
