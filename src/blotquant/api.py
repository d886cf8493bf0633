"""One call from a config file to a results folder, for scripts and notebooks.

>>> from blotquant.api import run
>>> outcome = run("configs/demo.yaml")          # doctest: +SKIP
>>> outcome.ratios.head()                        # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from blotquant import __version__
from blotquant.config import load_config
from blotquant.models import Experiment
from blotquant.pipeline import RunResult, bands_table, run_experiment
from blotquant.ratios import ratios_table, summary_table
from blotquant.report import now, prepare_output, run_json, write_results


@dataclass
class RunOutcome:
    """What a run produced, as written to ``output``."""

    experiment: Experiment
    output: Path
    bands: pd.DataFrame
    ratios: pd.DataFrame
    summary: pd.DataFrame
    result: RunResult
    warnings: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[tuple[str, str]]:
        return self.result.failures

    @property
    def complete(self) -> bool:
        return not self.result.failures


def run(
    config: str | Path | Experiment,
    *,
    out: str | Path | None = None,
    jobs: int = 1,
    qc: bool = True,
    progress: Callable[[int, int], None] | None = None,
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

    Raises
    ------
    BlotquantError
        If the config is invalid or the output folder cannot be used. Problems
        with single images do not raise: they are in ``outcome.failures``.
    """
    experiment = config if isinstance(config, Experiment) else load_config(config, output=out)
    output = Path(out) if out is not None else experiment.output
    prepare_output(output)
    started = now()
    result = run_experiment(experiment, jobs=jobs, qc=qc, progress=progress)
    bands = bands_table(experiment, result.analyses)
    ratios = ratios_table(experiment, bands)
    summary = summary_table(experiment, ratios)
    warnings = list(result.warnings)
    for text in _science_warnings(bands, ratios):
        if text not in warnings:
            warnings.append(text)
    info = run_json(
        version=__version__,
        experiment_name=experiment.experiment,
        config_path=experiment.config_path,
        resolved_config=experiment.resolved,
        hashes=result.hashes,
        failures=result.failures,
        warnings=warnings,
        started=started,
        finished=now(),
        jobs=jobs,
    )
    write_results(
        output,
        {"bands.csv": bands, "ratios.csv": ratios, "summary.csv": summary},
        info,
        result.qc_pictures,
    )
    return RunOutcome(experiment, output, bands, ratios, summary, result, warnings)


def _science_warnings(bands: pd.DataFrame, ratios: pd.DataFrame) -> list[str]:
    """Warnings about the numbers themselves (saturation, suspect controls)."""
    out: list[str] = []
    if len(bands):
        sat = bands[bands["saturated_pixels"] > 0]
        for row in sat.itertuples():
            out.append(
                f"Saturated band: {row.membrane} {row.antibody} lane {row.lane} "
                f"({row.saturated_pixels} pixels at the detector limit in {row.image}); its "
                "volume is an underestimate and it is left out of summary.csv. Use a shorter "
                "exposure."
            )
        edge = bands[bands["flags"].str.contains("edge", na=False)]
        for row in edge.itertuples():
            out.append(
                f"Band at the image edge: {row.membrane} {row.antibody} lane {row.lane} "
                f"in {row.image}; part of it may be cut off."
            )
    if len(ratios):
        suspect = ratios[ratios["flags"].str.contains("control-flagged", na=False)]
        for (membrane, pair), _ in suspect.groupby(["membrane", "pair"], sort=False):
            out.append(
                f"Control lanes of {membrane} ({pair}) are themselves flagged; the fold changes "
                "of that membrane are suspect."
            )
    return out
