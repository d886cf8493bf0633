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
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output folder (overrides `output:` in the config).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Images analysed in parallel processes.",
)
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
                outcome = run_api(
                    experiment,
                    out=out,
                    jobs=jobs,
                    progress=lambda done, total: bar.update(task, completed=done),
                )
        else:
            outcome = run_api(experiment, out=out, jobs=jobs)
    except BlotquantError as exc:
        _echo_error(str(exc))
        sys.exit(2)
    except KeyboardInterrupt:
        _echo_error(
            "interrupted. Files already in the output folder are complete; "
            "nothing was half-written."
        )
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
        click.echo(
            f"{len(outcome.failures)} input(s) rejected; see the messages above and run.json.",
            err=True,
        )
        sys.exit(1)


@main.command()
@click.argument("image", type=click.Path(path_type=Path))
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
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="QC picture to write (default: <image>_inspect.png in this folder).",
)
def inspect(
    image: Path,
    n_lanes: int | None,
    band_rows: tuple[int, int] | None,
    channel: int,
    out: Path | None,
) -> None:
    """Show what blotquant sees in IMAGE: polarity, lanes, bands, saturation;
    write its QC picture and print a config snippet for it."""
    import numpy as np

    from blotquant.inspection import estimate_lane_count
    from blotquant.io import read_image
    from blotquant.models import Lane, Measurement, Membrane
    from blotquant.pipeline import analyze_image
    from blotquant.report import render_qc, write_atomic

    try:
        picture = read_image(image, channel)
        guessed = n_lanes is None
        if guessed:
            n_lanes = estimate_lane_count(picture.pixels, picture.ceiling)
        membrane = Membrane(
            "inspect",
            tuple(
                Lane(i + 1, "sample", {"treatment": "DMSO" if i == 0 else f"treatment-{i + 1}"})
                for i in range(n_lanes)
            ),
        )
        measurement = Measurement(
            "inspect",
            image.name,
            image,
            "antibody",
            channel=channel,
            band_rows=tuple(band_rows) if band_rows else None,
            source="blotquant inspect",
        )
        analysis = analyze_image(picture, measurement, membrane)
        out = out or Path(f"{image.stem}_inspect.png")
        write_atomic(out, render_qc(picture, [analysis]))
    except BlotquantError as exc:
        _echo_error(str(exc))
        sys.exit(2)
    for text in picture.warnings:
        click.secho("warning: ", fg="yellow", nl=False, err=True)
        click.echo(text, err=True)
    lanes = analysis.lanes
    h, w = picture.pixels.shape
    click.echo(
        f"{image}: {w} x {h} px, {picture.bit_depth}-bit, channel {channel} of "
        f"{picture.n_channels}, {analysis.polarity}"
    )
    click.echo(
        f"lanes: {n_lanes}{' (guessed; give --lanes to set)' if guessed else ''}, "
        f"pitch {lanes.pitch:.1f} px, box width {lanes.width:.1f} px, "
        f"tilt {np.degrees(np.arctan(lanes.slope)):.2f} deg"
    )
    click.echo("lane  centre  band row  net volume  flags")
    for box, band in zip(analysis.boxes, analysis.bands, strict=True):
        click.echo(
            f"{box.lane:4d}  {box.lane_x:6.1f}  {box.center_row:8.1f}  "
            f"{band.net_volume:10.4g}  {band.flag_text}"
        )
    saturated = sum(b.saturated_pixels for b in analysis.bands)
    click.echo(f"saturated pixels in bands: {saturated}")
    click.echo(f"QC picture: {out}")
    rows = [b.band_top for b in analysis.boxes] + [b.band_bottom for b in analysis.boxes]
    click.echo("\nconfig snippet (edit the lanes and the antibody):")
    click.echo("  lanes:")
    for lane in membrane.lanes:
        click.echo(f"    - {{treatment: {lane.metadata['treatment']}}}")
    click.echo("  images:")
    click.echo(
        f"    - {{file: {image.name}, antibody: ANTIBODY"
        + (f", channel: {channel}" if channel else "")
        + f", band_rows: [{max(0, min(rows) - 10)}, {min(h, max(rows) + 10)}]}}"
    )


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
def init(folder: Path, config_name: str, force: bool) -> None:
    """Write a starting config for a FOLDER of exports: it guesses the file-name
    pattern (membrane and antibody), counts lanes, and fills the lanes with
    placeholders to edit. The config runs as it is."""
    import yaml

    from blotquant.inspection import (
        antibody_name,
        estimate_lane_count,
        guess_naming,
        image_files,
        most_common,
        pairs_from,
    )
    from blotquant.io import read_image

    target = folder / config_name
    try:
        if not folder.is_dir():
            raise BlotquantError(f"{folder} is not a folder. Name the folder of image exports.")
        if target.exists() and not force:
            raise BlotquantError(
                f"{target} exists already; nothing was written. Use --force to "
                "replace it, or --config to choose another name."
            )
        files = image_files(folder)
        if not files:
            raise BlotquantError(f"{folder} holds no TIFF, PNG or JPEG images.")
        counts = []
        for file in files[:3]:
            picture = read_image(file)
            counts.append(estimate_lane_count(picture.pixels, picture.ceiling))
    except BlotquantError as exc:
        _echo_error(str(exc))
        sys.exit(2)
    n_lanes = most_common(counts)
    lanes = [{"treatment": "DMSO" if i == 0 else f"treatment-{i + 1}"} for i in range(n_lanes)]
    guess = guess_naming([f.name for f in files])
    config: dict = {"experiment": f"{folder.name} (edit me)"}
    if guess is not None:
        names = {token: antibody_name(token) for token in guess.antibodies}
        pairs = pairs_from(list(names.values()))
        if not pairs and len(names) >= 2:
            first, second = sorted(names.values())[:2]
            pairs = [{"phospho": first, "total": second}]
        batch = {
            "files": f"*{Path(files[0].name).suffix}",
            "pattern": guess.pattern,
            "lanes": lanes,
        }
        aliases = {k: v for k, v in names.items() if k != v}
        if aliases:
            batch["antibody_aliases"] = aliases
        config.update(
            pairs=pairs or [{"phospho": "EDIT", "total": "EDIT"}],
            control={"treatment": "DMSO"},
            summary_by=["treatment"],
            batches=[batch],
        )
        described = (
            f"{len(files)} files as pattern {guess.pattern!r}: {len(guess.membranes)} "
            f"membrane(s), antibodies {', '.join(sorted(names.values()))}"
        )
    else:
        antibodies = [f.stem for f in files]
        config.update(
            pairs=[{"phospho": antibodies[0], "total": antibodies[1 % len(antibodies)]}],
            control={"treatment": "DMSO"},
            summary_by=["treatment"],
            membranes=[
                {
                    "name": "membrane1",
                    "lanes": lanes,
                    "images": [{"file": f.name, "antibody": f.stem} for f in files],
                }
            ],
        )
        described = f"{len(files)} files with no common naming: one membrane, one antibody each"
    header = (
        "# Starting config written by `blotquant init`. Edit before trusting the numbers:\n"
        "#  - lanes: one entry per lane, left to right, with its treatment (and dose_nM,\n"
        "#    cell_line, ...); mark the ladder {role: ladder} and empty lanes {role: empty}\n"
        "#  - pairs: which phospho antibody goes over which total\n"
        f"# Lanes counted: {n_lanes} (from {len(counts)} image(s)).\n"
    )
    from blotquant.report import write_atomic

    write_atomic(target, (header + yaml.safe_dump(config, sort_keys=False, width=100)).encode())
    click.echo(f"{described}; {n_lanes} lanes.")
    click.echo(f"wrote {target}. Edit the lanes, then: blotquant run {target}")
