"""One call from a config file to a results folder, for scripts and notebooks.

>>> from blotquant.api import run
>>> outcome = run("configs/demo.yaml")          # doctest: +SKIP
>>> outcome.ratios.head()                        # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from time import perf_counter

import pandas as pd

from blotquant._version import __version__
from blotquant.batch import BatchAnalyses, run_experiment
from blotquant.config import load_config
from blotquant.doseresponse import fit_dose_response
from blotquant.models import PRISM_DIR, Experiment
from blotquant.quantify import bands_table
from blotquant.ratios import (
    calibrator_spread,
    prism_tables,
    ratios_table,
    summary_table,
    summary_wide_table,
)
from blotquant.report import ResultsFolder, now, run_json
from blotquant.report_html import render_report
from blotquant.standards import (
    flag_outside_linear_range,
    linear_range_warnings,
    standards_fits,
    standards_table,
)
from blotquant.stats import stats_table
from blotquant.tables import (
    CLIPPED_EXPORT,
    DOSE_RESPONSE_MEASURED,
    EXPOSURES_COLUMNS,
    has_flag,
    with_version,
)


@dataclass
class RunOutcome:
    """What a run produced, as written to ``output``."""

    experiment: Experiment
    output: Path
    bands: pd.DataFrame
    ratios: pd.DataFrame
    summary: pd.DataFrame
    result: BatchAnalyses
    warnings: list[str] = field(default_factory=list)
    #: standards.csv: the linear range of each image with a dilution series (empty without).
    standards: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def failures(self) -> list[tuple[str, str]]:
        """(input, message) of every input that was rejected."""
        return self.result.failures

    @property
    def complete(self) -> bool:
        """Whether every image was quantified."""
        return not self.result.failures

    @property
    def files_total(self) -> int:
        """Image files the config names."""
        return experiment_files(self.experiment)

    @property
    def files_quantified(self) -> int:
        """Image files of which every antibody (and region) was measured."""
        wanted = Counter(m.path for m in self.experiment.measurements)
        measured = Counter(a.measurement.path for a in self.result.analyses)
        return sum(measured[path] == n for path, n in wanted.items())


def run(
    config: str | Path | Experiment,
    *,
    out: str | Path | None = None,
    jobs: int = 1,
    qc: bool = True,
    progress: Callable[[int, int], None] | None = None,
    stage: Callable[[str], None] | None = None,
) -> RunOutcome:
    """Analyse every image of a config and write the results folder.

    Parameters
    ----------
    config : str, Path or Experiment
        A config file, or an already loaded :class:`~blotquant.models.Experiment`.
    out : str or Path, optional
        Output folder; overrides the config's ``output``.
    jobs : int
        Images analysed in parallel processes.
    qc : bool
        Draw QC pictures.
    progress : callable, optional
        Called with (done, total) after each image file.
    stage : callable, optional
        Called with the name of each stage as it starts ("Drawing report.html").

    Raises
    ------
    BlotquantError
        If the config is invalid or the output folder cannot be used. Problems
        with single images do not raise: they are in ``outcome.failures``.
    """
    experiment = config if isinstance(config, Experiment) else load_config(config, output=out)
    output = Path(out) if out is not None else experiment.output
    inputs = sorted({m.path for m in experiment.measurements})
    started = now()
    with ResultsFolder(output, inputs=inputs) as folder:
        stages: dict[str, float] = {}
        current, since = "", perf_counter()

        def say(key: str, text: str) -> None:
            # each stage's seconds go into run.json (is the report slow? it says)
            nonlocal current, since
            if current:
                stages[current] = round(perf_counter() - since, 3)
            current, since = key, perf_counter()
            if stage is not None:
                stage(text)

        say("measuring", f"Measuring {experiment_files(experiment)} image file(s)")
        result = run_experiment(
            experiment, jobs=jobs, qc=qc, progress=progress, qc_dir=folder.qc_dir
        )
        say("tables", "Writing the tables")
        bands = bands_table(experiment, result.analyses)
        fits = standards_fits(experiment, bands)
        bands = flag_outside_linear_range(experiment, bands, fits)
        ratios = ratios_table(experiment, bands)
        summary = summary_table(experiment, ratios)
        tables = {
            "bands.csv": bands,
            "ratios.csv": ratios,
            "summary.csv": summary,
            "summary_wide.csv": summary_wide_table(experiment, ratios),
        }
        tables["stats.csv"] = stats_table(experiment, ratios)
        if result.exposure_rows:
            tables["exposures.csv"] = pd.DataFrame(
                result.exposure_rows, columns=list(EXPOSURES_COLUMNS)
            )
        if fits:
            tables["standards.csv"] = standards_table(fits, bands)
        prism = prism_tables(experiment, tables["summary_wide.csv"])
        if experiment.dose_key in ratios.columns:
            tables["dose_response.csv"] = _dose_responses(experiment, ratios)
        for name in (
            "bands.csv",
            "ratios.csv",
            "summary.csv",
            "dose_response.csv",
            "standards.csv",
            "stats.csv",
            "exposures.csv",
        ):
            if name in tables:
                tables[name] = with_version(tables[name], __version__)
        warnings = list(result.warnings)
        notes = [*_science_warnings(bands, ratios), *calibrator_spread(ratios)]
        for text in [*notes, *linear_range_warnings(tables.get("standards.csv"))]:
            if text not in warnings:
                warnings.append(text)
        for name, table in tables.items():
            folder.add_table(name, table)
        for name, table in prism.items():
            folder.add_table(f"{PRISM_DIR}/{name}", table)
        for name, data in result.qc_pictures.items():
            folder.add_picture(name, data)
        info = run_json(
            experiment_name=experiment.experiment,
            config_path=experiment.config_path,
            resolved_config=experiment.resolved,
            hashes=result.hashes,
            acquisition=result.acquisition,
            failures=result.failures,
            warnings=warnings,
            started=started,
            finished=now(),
            jobs=jobs,
        )
        if qc:
            say("report", "Drawing report.html")
            page = render_report(
                experiment, tables, info, qc_dir=folder.qc_dir, thumbnails=result.qc_thumbnails
            )
            folder.add("report.html", page)
        say("switch", "Putting the results in place")
        info["finished"] = now().astimezone(UTC).isoformat()
        info["seconds"] = round((now() - started).total_seconds(), 3)
        info["seconds_by_stage"] = stages
        folder.commit(info)
    return RunOutcome(
        experiment,
        output,
        bands,
        ratios,
        summary,
        result,
        warnings,
        standards=tables.get("standards.csv", pd.DataFrame()),
    )


def experiment_files(experiment: Experiment) -> int:
    """Count the image files a config names."""
    return len({m.path for m in experiment.measurements})


def _dose_responses(experiment: Experiment, ratios: pd.DataFrame) -> pd.DataFrame:
    """dose_response.csv: each pair fitted per its own conditions from its own vehicle lanes."""
    fits, keys_seen = [], []
    for pair in experiment.pairs:
        keys, vehicle = experiment.conditions(pair)
        mine = ratios[ratios["pair"] == pair.name] if "pair" in ratios else ratios
        fit = fit_dose_response(
            mine, dose_key=experiment.dose_key, group_keys=keys, control=vehicle
        )
        keys_seen += [key for key in keys if key in fit.columns]
        fits.append(fit)
    columns = ["pair", "treatment", *dict.fromkeys(keys_seen), *DOSE_RESPONSE_MEASURED]
    filled = [fit.reindex(columns=columns) for fit in fits if not fit.empty]
    return pd.concat(filled, ignore_index=True) if filled else pd.DataFrame(columns=columns)


def _science_warnings(bands: pd.DataFrame, ratios: pd.DataFrame) -> list[str]:
    """Warnings about the numbers themselves, one per image and problem."""
    out: list[str] = []
    if len(bands):
        keys = ["membrane", "antibody", "image"]
        sat = bands[bands["saturated_pixels"] > 0]
        for (membrane, antibody, image), group in sat.groupby(keys, sort=False):
            lanes = ", ".join(f"{r.lane} ({r.saturated_pixels} px)" for r in group.itertuples())
            out.append(
                f"Saturated {antibody} band(s) on {membrane} ({image}), lane {lanes}: a plateau "
                "of pixels at the detector's (or the export's) limit makes these volumes "
                "underestimates; they are left out of summary.csv. Image again with a shorter "
                "exposure (or, for an 8-bit export, measure the imager's raw file)."
            )
        clipped = bands[bands["flags"].map(lambda f: has_flag(f, (CLIPPED_EXPORT,)))]
        for (membrane, antibody, image), group in clipped.groupby(keys, sort=False):
            lanes = ", ".join(str(r.lane) for r in group.itertuples())
            shade = "white" if group["polarity"].iloc[0] == "dark-bands" else "black"
            out.append(
                f"The membrane around the {antibody} band(s) on {membrane} ({image}), lane "
                f"{lanes}, is clipped to pure {shade} in the export: the bands' faint edges "
                "were cut off with it, so these volumes are somewhat low and a faint band may "
                "vanish. Export the image without auto-contrast (the imager's raw file)."
            )
        edge = bands[bands["flags"].str.contains("edge", na=False)]
        for (membrane, antibody, image), group in edge.groupby(keys, sort=False):
            lanes = ", ".join(str(r.lane) for r in group.itertuples())
            out.append(
                f"{antibody} band(s) on {membrane} ({image}), lane {lanes}, touch the edge of the "
                "image or region: part of the band or its background may be cut off."
            )
    if len(ratios):
        suspect = ratios[ratios["flags"].str.contains("control-flagged", na=False)]
        for (membrane, pair), _ in suspect.groupby(["membrane", "pair"], sort=False):
            out.append(
                f"Control lanes of {membrane} ({pair}) are themselves flagged; the fold changes "
                "of that membrane are suspect."
            )
    return out
