"""The command line: each command parses its options, makes one library call, prints.

The library is imported inside the commands, so that ``blotquant --help``
answers without loading pandas, scipy and Pillow.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from blotquant import __version__
from blotquant.errors import BlotquantError

_PATH = click.Path(path_type=Path)


def _echo_error(message: str) -> None:
    click.secho("error: ", fg="red", bold=True, nl=False, err=True)
    click.echo(message, err=True)


def _warn(texts: Iterable[str]) -> None:
    for text in texts:
        click.secho("warning: ", fg="yellow", nl=False, err=True)
        click.echo(text, err=True)


def _user_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Print a :class:`BlotquantError` as one ``error:`` line and exit 2, with no traceback."""

    @functools.wraps(command)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except BlotquantError as exc:
            _echo_error(str(exc))
            sys.exit(2)

    return guarded


@dataclass
class _Feedback:
    """What a run reports while it goes: image files done, and the stage it is in."""

    progress: Callable[[int, int], None] | None = None
    stage: Callable[[str], None] | None = None


@contextlib.contextmanager
def _feedback(*, quiet: bool) -> Iterator[_Feedback]:
    """Say what the run is doing: a progress bar on a terminal, plain lines elsewhere.

    In a pipe, a log file or a notebook, a line per tenth of the images (at
    least every 10) and one per stage, so a long batch is never silent.
    """
    if quiet:
        yield _Feedback()
        return
    if not sys.stderr.isatty():
        step = [1]

        def lines(done: int, total: int) -> None:
            step[0] = max(1, min(10, total // 10))
            if done % step[0] == 0 or done == total:
                click.echo(f"blotquant: {done} of {total} image file(s) measured", err=True)

        yield _Feedback(
            progress=lines, stage=lambda text: click.echo(f"blotquant: {text} ...", err=True)
        )
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("Measuring images", total=None)  # the run reports the total
        yield _Feedback(
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            stage=lambda text: bar.update(task, description=text),
        )


@contextlib.contextmanager
def _terminate_as_interrupt(stopped_by: list[str], pending: list[bool]) -> Iterator[None]:
    """Let SIGTERM (a batch system's time limit) stop a run the way Ctrl-C does.

    A signal that lands while Python runs a clean-up callback (a weak
    reference's, a finaliser) cannot stop anything there: Python would print
    "Exception ignored ... Traceback" and go on. Such an interrupt is kept
    quiet and noted in ``pending``; the run stops at its next step instead.
    """
    import signal

    def stop(_number: int, _frame: object) -> None:
        stopped_by.append("stopped (SIGTERM)")
        raise KeyboardInterrupt

    def unraisable(info: Any) -> None:
        if isinstance(info.exc_value, KeyboardInterrupt):
            pending.append(True)
            return
        previous_hook(info)

    previous = signal.signal(signal.SIGTERM, stop)
    previous_hook = sys.unraisablehook
    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        sys.unraisablehook = previous_hook


def _stop_if_pending(pending: list[bool], call: Callable[..., None] | None) -> Callable[..., None]:
    """Call ``call`` (if any), but first stop the run if an interrupt was kept for now."""

    def checked(*args: Any) -> None:
        if pending:
            pending.clear()
            raise KeyboardInterrupt
        if call is not None:
            call(*args)

    return checked


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="blotquant")
def main() -> None:
    """blotquant: Western blot densitometry, from images to phospho/total ratios.

    \b
    A first blot of your own:
      blotquant init exports/               # a starting config: exports/blotquant.yaml
      blotquant inspect exports/WB1_AKT.tif --lanes 12
      blotquant run exports/blotquant.yaml  # results in exports/blotquant-results/

    \b
    Shell completion (bash; zsh and fish alike, with zsh_source, fish_source):
      eval "$(_BLOTQUANT_COMPLETE=bash_source blotquant)"
    """


@main.command()
@click.argument("config", type=_PATH)
@click.option("--out", type=_PATH, help="Output folder (overrides `output:` in the config).")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Images analysed in parallel processes.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only errors.")
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 3 when any lane placement is in doubt (bands flagged lanes-uncertain).",
)
@_user_errors
def run(config: Path, out: Path | None, jobs: int, quiet: bool, strict: bool) -> None:
    """Quantify every image named in CONFIG.

    \b
    Examples:
      blotquant run config.yaml
      blotquant run config.yaml --out results-2024-05 --jobs 4
      blotquant run config.yaml --quiet --strict     # in a pipeline

    \b
    Writes into the output folder (one complete run; earlier results replaced whole):
      bands.csv          one row per band: box, raw/background/net volume, flags
      ratios.csv         phospho/total ratio and fold change per lane and pair
      summary.csv        mean, SD, SEM per group and pair (n, lanes left out, why)
      summary_wide.csv   fold changes, one row per membrane, one column per group
      prism/<pair>.csv   each pair's table, ready to import into GraphPad Prism
      dose_response.csv  IC50 fits, where lanes carry doses
      standards.csv      linear range of each dilution series, where lanes are standards
      stats.csv          tests with membranes as replicates: vs control, and `compare` groups
      exposures.csv      fitted scales between the exposures of each exposure series
      report.html        the verdict, figures, tables and QC thumbnails
      qc/*.png           one picture per image: lanes, boxes, background, flags
      run.json           version, config as read, input checksums, times (last)

    Exits 0 when every image was quantified, 1 when any input was rejected
    (the others are still measured and written), 2 when the config itself
    cannot be used; with --strict, 3 when every image was quantified but
    the lanes of some are in doubt (the results are written all the same).
    Ctrl-C or SIGTERM (exit 130, 143) leave the previous results whole.
    """
    stopped_by: list[str] = []
    pending: list[bool] = []
    try:
        with _terminate_as_interrupt(stopped_by, pending):
            from blotquant.api import run as run_api  # (slow: inside, so Ctrl-C is caught)

            with _feedback(quiet=quiet) as said:
                outcome = run_api(
                    config,
                    out=out,
                    jobs=jobs,
                    progress=_stop_if_pending(pending, said.progress),
                    stage=_stop_if_pending(pending, said.stage),
                )
    except KeyboardInterrupt:
        how = stopped_by[0] if stopped_by else "interrupted (Ctrl-C)"
        _echo_error(
            f"{how}. The output folder holds one whole set of results, the one its "
            "run.json describes (the previous run's, if this run had not finished)."
        )
        sys.exit(143 if stopped_by else 130)
    from blotquant.tables import LANES_UNCERTAIN, images_flagged

    if not quiet:
        _warn(outcome.warnings)
    for _where, message in outcome.failures:
        _echo_error(message)
    if not quiet:
        n_bands = len(outcome.bands)
        flagged = int((outcome.bands["flags"] != "").sum()) if n_bands else 0
        click.echo(
            f"{outcome.files_quantified} of {outcome.files_total} image file(s) quantified: "
            f"{n_bands} bands ({flagged} flagged), {len(outcome.ratios)} ratios -> "
            f"{outcome.output}"
        )
    doubted = images_flagged(outcome.bands, LANES_UNCERTAIN)
    if doubted:
        click.echo(
            f"lanes in doubt on {len(doubted)} image(s), their bands flagged "
            f"{LANES_UNCERTAIN}: check the lanes list and the QC pictures before trusting "
            "those numbers"
            + (" (run without --quiet to see why)." if quiet else " (see the warnings above)."),
            err=True,
        )
    if outcome.failures:
        click.echo(
            f"{len(outcome.failures)} input(s) rejected; see the messages above and run.json.",
            err=True,
        )
        sys.exit(1)
    if strict and doubted:
        sys.exit(3)


@main.command()
@click.argument("image", type=_PATH)
@click.option(
    "--lanes",
    "n_lanes",
    type=click.IntRange(min=1),
    default=None,
    help="Lanes on the membrane (ladder and empty ones included); guessed if omitted.",
)
@click.option("--band-rows", type=int, nargs=2, default=None, help="Search the band in rows A B.")
@click.option(
    "--channel",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Page or channel of a multi-page file.",
)
@click.option(
    "--out", type=_PATH, help="QC picture to write (default: <image>_inspect.png in this folder)."
)
@_user_errors
def inspect(
    image: Path,
    n_lanes: int | None,
    band_rows: tuple[int, int] | None,
    channel: int,
    out: Path | None,
) -> None:
    """Show what blotquant sees in IMAGE: polarity, lanes, bands, saturation.

    Writes its QC picture (IMAGE name + _inspect.png, in the current folder)
    and prints a config snippet for it.

    \b
    Examples:
      blotquant inspect WB1_AKT.tif                 # guesses the lane count
      blotquant inspect WB1_AKT.tif --lanes 12      # your count: real numbers
      blotquant inspect WB1_pAKT.tif --lanes 12 --band-rows 140 190
    """
    from blotquant.inspection import config_snippet, describe, inspect_image
    from blotquant.models import INSPECT_SUFFIX
    from blotquant.report import write_atomic

    inspection = inspect_image(image, n_lanes=n_lanes, band_rows=band_rows, channel=channel)
    out = out or Path(f"{image.stem}{INSPECT_SUFFIX}")
    write_atomic(out, inspection.picture)
    _warn(inspection.image.warnings)
    click.echo(describe(inspection))
    click.echo(f"QC picture: {out}")
    click.echo("\nconfig snippet (edit the lanes and the antibody):")
    click.echo(config_snippet(inspection))


@main.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--config",
    "config_name",
    default="blotquant.yaml",
    show_default=True,
    help="Name of the config file written into FOLDER.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing config of that name.")
@_user_errors
def init(folder: Path, config_name: str, force: bool) -> None:
    """Write a starting config for a FOLDER of exports.

    It guesses the file-name pattern (membrane and antibody), counts lanes,
    and fills the lanes with placeholders to edit. The config runs as it is,
    unless a pair could not be told (then it says EDIT, and run asks for it).

    \b
    Examples:
      blotquant init exports/
      blotquant init exports/ --config blot-2024-05.yaml --force
    """
    from blotquant.inspection import starting_config
    from blotquant.report import write_atomic

    target = folder / config_name
    # (a target inside something that is not a folder never exists: starting_config says so)
    if target.exists() and not force:
        raise BlotquantError(
            f"{target} exists already; nothing was written. Use --force to "
            "replace it, or --config to choose another name."
        )
    start = starting_config(folder)
    write_atomic(target, start.text().encode())
    click.echo(start.description)
    click.echo(f"wrote {target}. Edit the lanes, then: blotquant run {target}")
