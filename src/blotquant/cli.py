"""The command line: a thin shell over :func:`blotquant.api.run`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from blotquant import __version__
from blotquant.errors import BlotquantError


def _echo_error(message: str) -> None:
    click.secho("error: ", fg="red", bold=True, nl=False, err=True)
    click.echo(message, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="blotquant")
def main() -> None:
    """blotquant: Western blot densitometry, from images to phospho/total ratios."""


@main.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output folder (overrides `output:` in the config).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Images analysed in parallel processes.")
@click.option("--quiet", "-q", is_flag=True, help="Print only errors.")
def run(config: Path, out: Path | None, jobs: int, quiet: bool) -> None:
    """Quantify every image named in CONFIG and write bands.csv, ratios.csv,
    summary.csv, qc/ pictures and run.json.

    Exits 0 when every image was quantified, 1 when any input was rejected
    (the others are still measured and written), 2 when the config itself
    cannot be used.
    """
    from blotquant.api import run as run_api
    from blotquant.config import load_config

    try:
        experiment = load_config(config, output=out)
    except BlotquantError as exc:
        _echo_error(str(exc))
        sys.exit(2)
    n_files = len({m.path for m in experiment.measurements})
    show_bar = not quiet and sys.stderr.isatty()
    try:
        if show_bar:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("Quantifying", total=n_files)
                outcome = run_api(experiment, out=out, jobs=jobs,
                                  progress=lambda done, total: bar.update(task, completed=done))
        else:
            outcome = run_api(experiment, out=out, jobs=jobs)
    except BlotquantError as exc:
        _echo_error(str(exc))
        sys.exit(2)
    except KeyboardInterrupt:
        _echo_error("interrupted. Files already in the output folder are complete; "
                    "nothing was half-written.")
        sys.exit(130)
    if not quiet:
        for text in outcome.warnings:
            click.secho("warning: ", fg="yellow", nl=False, err=True)
            click.echo(text, err=True)
    for _where, message in outcome.failures:
        _echo_error(message)
    if not quiet:
        n_bands = len(outcome.bands)
        flagged = int((outcome.bands["flags"] != "").sum()) if n_bands else 0
        click.echo(
            f"{n_files - len({w.split(' [')[0] for w, _ in outcome.failures})} of {n_files} "
            f"image file(s) quantified: {n_bands} bands ({flagged} flagged), "
            f"{len(outcome.ratios)} ratios -> {outcome.output}"
        )
    if outcome.failures:
        click.echo(f"{len(outcome.failures)} input(s) rejected; see the messages above and "
                   "run.json.", err=True)
        sys.exit(1)
