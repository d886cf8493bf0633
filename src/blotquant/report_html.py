"""``report.html``: one self-contained page per run.

Plots and QC thumbnails are embedded, so the page opens offline and stays a
few megabytes even for hundreds of images; each thumbnail links to its
full-size picture in ``qc/`` beside the page.
"""

from __future__ import annotations

import base64
import html
import io as _io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from blotquant.models import Experiment
from blotquant.qc import qc_thumbnail
from blotquant.ratios import counted_in_summary, sample_rows
from blotquant.tables import (
    LANES_UNCERTAIN,
    OUTSIDE_LINEAR_RANGE,
    SUMMARY_MEASURED,
    VERSION_COLUMN,
    images_flagged,
)

_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{margin-bottom:0}h2{margin-top:32px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f3f3f3;position:sticky;top:0}td.t{text-align:left}
.ok{color:#080}.bad{color:#b00}.warn{color:#a60}img{max-width:100%;border:1px solid #ccc}
figure{margin:16px 0}figcaption{font-size:13px;color:#555}
"""


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _png(figure: Any) -> str:
    buffer = _io.BytesIO()
    # (the layout is fitted when the figure is made: a "tight" box would draw it twice)
    figure.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode()


def _img(data: bytes | str, alt: str, kind: str = "png") -> str:
    encoded = data if isinstance(data, str) else base64.b64encode(data).decode()
    return f'<img alt="{_esc(alt)}" src="data:image/{kind};base64,{encoded}">'


def _thumbnail_of(picture: Path) -> bytes:
    with Image.open(picture) as image:
        return qc_thumbnail(image)


def _table(frame: pd.DataFrame, digits: int = 4) -> str:
    if frame.empty:
        return "<p>(none)</p>"
    head = "".join(f"<th>{_esc(c)}</th>" for c in frame.columns)
    rows = []
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if isinstance(value, float):
                text = "" if np.isnan(value) else f"{value:.{digits}g}"
                cells.append(f"<td>{text}</td>")
            else:
                cells.append(f'<td class="t">{_esc(value)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _pair_plot(
    ratios: pd.DataFrame, pair: str, groups: Sequence[str], dose_key: str = "dose_nM"
) -> str:
    """Dot-and-bar plot of fold change per treatment, one panel per group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = ratios[ratios["pair"] == pair].copy()
    dose = (
        data[dose_key].map(
            lambda d: (
                "" if d in (None, "") else f" {d:g}" if isinstance(d, (int, float)) else f" {d}"
            )
        )
        if dose_key in data
        else ""
    )
    data["label"] = data["treatment"].astype(str) + (dose if isinstance(dose, pd.Series) else "")
    keys = [g for g in groups if g in data.columns]
    panels = list(data.groupby(keys, sort=False)) if keys else [("all", data)]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5.5 * len(panels), 3.6), squeeze=False, layout="constrained"
    )
    rng = np.random.default_rng(0)
    for ax, (name, part) in zip(axes[0], panels, strict=True):
        labels = list(dict.fromkeys(part["label"]))
        for k, label in enumerate(labels):
            lanes = part[part["label"] == label]
            fc = pd.to_numeric(lanes["fold_change"], errors="coerce")
            # the bar is summary.csv's mean: the same lanes count (one rule)
            counted = counted_in_summary(lanes).to_numpy()
            cautioned = counted & (lanes["flags"].astype(str) != "").to_numpy()
            if counted.any():
                ax.bar(k, fc[counted].mean(), color="#9ec5e8", width=0.7)
            x = k + rng.uniform(-0.2, 0.2, len(fc))
            plain = counted & ~cautioned
            ax.scatter(x[plain], fc[plain], color="#1f4e79", s=16, zorder=3)
            if cautioned.any():
                ax.scatter(
                    x[cautioned],
                    fc[cautioned],
                    color="#e69500",
                    s=18,
                    zorder=3,
                    label="flagged, counted (dust, low-snr, ...)",
                )
            if (~counted).any():
                ax.scatter(
                    x[~counted],
                    fc[~counted],
                    facecolors="none",
                    edgecolors="#c00",
                    s=24,
                    zorder=3,
                    label="left out (saturated, no total band)",
                )
        ax.axhline(1.0, color="#666", linestyle="--", linewidth=1)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
        ax.set_title(name if isinstance(name, str) else " | ".join(map(str, name)), fontsize=10)
        ax.set_ylabel(f"{pair} fold change")
        handles, names = ax.get_legend_handles_labels()
        if handles:
            unique = dict(zip(names, handles, strict=True))
            ax.legend(unique.values(), unique.keys(), fontsize=8)
    encoded = _png(fig)
    plt.close(fig)
    return encoded


def _dose_plot(
    ratios: pd.DataFrame,
    fits: pd.DataFrame,
    pair: str,
    groups: Sequence[str],
    dose_key: str = "dose_nM",
) -> str | None:
    """Fold change against dose (log) with the fitted curves, one panel per group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mine = fits[fits["pair"] == pair]
    if mine.empty or dose_key not in ratios:
        return None
    unit = dose_key.split("_", 1)[1] if "_" in dose_key else dose_key
    # every group gets its panel and its points, fitted or not: a group with no
    # IC50 (resistant cells that are not inhibited) is the comparison that matters
    keys = [g for g in groups if g in mine.columns]
    panels = list(mine.groupby(keys, sort=False)) if keys else [((), mine)]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5.5 * len(panels), 3.4), squeeze=False, layout="constrained"
    )
    data = ratios[ratios["pair"] == pair]
    drawn = False
    for ax, (name, part) in zip(axes[0], panels, strict=True):
        name = name if isinstance(name, tuple) else (name,)
        for k, fit in enumerate(part.itertuples()):
            lanes = data[data["treatment"] == fit.treatment]
            for key, value in zip(keys, name, strict=True):
                lanes = lanes[lanes[key].astype(str) == str(value)]
            dose = pd.to_numeric(lanes[dose_key], errors="coerce")
            if dose[dose > 0].nunique() < 2:
                continue  # one dose is no series (the table says so)
            colour = f"C{k}"
            drawn = True
            label = f"{fit.treatment}: no IC50 (see the table)" if pd.isna(fit.ic50) else None
            ax.scatter(dose, pd.to_numeric(lanes["fold_change"]), color=colour, s=14, label=label)
            if pd.isna(fit.ic50) or not (dose > 0).any():
                continue
            x = np.logspace(np.log10(dose[dose > 0].min()) - 0.5, np.log10(dose.max()) + 0.5, 100)
            y = fit.bottom + (fit.top - fit.bottom) / (1 + (x / fit.ic50) ** fit.hill)
            ax.plot(x, y, color=colour, label=f"{fit.treatment}: IC50 {fit.ic50:.3g} {unit}")
        ax.set_xscale("log")
        ax.axhline(1.0, color="#666", linestyle="--", linewidth=1)
        ax.set_xlabel(dose_key)
        ax.set_ylabel(f"{pair} fold change")
        ax.set_title(" | ".join(map(str, name)) or "all lanes", fontsize=10)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if not drawn:
        # no treatment of this pair has two doses: no series to draw (the table says so)
        plt.close(fig)
        return None
    encoded = _png(fig)
    plt.close(fig)
    return encoded


def render_report(
    experiment: Experiment,
    tables: Mapping[str, pd.DataFrame],
    run_info: Mapping[str, Any],
    *,
    qc_dir: Path,
    thumbnails: Mapping[str, bytes] | None = None,
) -> bytes:
    """Render the run as one HTML page that opens offline (UTF-8 bytes).

    Parameters
    ----------
    experiment : Experiment
        The config that was run (its name, pairs, groups and dose key).
    tables : mapping of str to DataFrame
        The result tables by file name, as written: ``bands.csv``,
        ``ratios.csv``, ``summary.csv`` and, when fitted, ``dose_response.csv``.
    run_info : mapping
        The run's provenance (:func:`blotquant.report.run_json`), with its
        warnings and failures.
    qc_dir : Path
        The folder of QC pictures, beside the page.
    thumbnails : mapping of str to bytes, optional
        QC picture name -> JPEG thumbnail already drawn; the others are made
        from the pictures in ``qc_dir``.

    Returns
    -------
    bytes
    """
    ratios = tables["ratios.csv"]
    pairs = [pair.name for pair in experiment.pairs]
    # each pair's panels are its conditions (the experiment's groups and its own)
    groups = {pair.name: experiment.conditions(pair)[0] for pair in experiment.pairs}
    parts = [
        *_heading(
            experiment.experiment, run_info, images_flagged(tables["bands.csv"], LANES_UNCERTAIN)
        ),
        *_verdict(experiment, ratios, tables["summary.csv"]),
        *_fold_changes(ratios, pairs, groups, experiment.dose_key),
        *_dose_responses(
            ratios, tables.get("dose_response.csv"), pairs, groups, experiment.dose_key
        ),
        *_linear_ranges(experiment, tables["bands.csv"], tables.get("standards.csv")),
        *_exposure_series(tables.get("exposures.csv")),
        *_statistics(tables.get("stats.csv")),
        "<h2>Summary</h2>" + _table(tables["summary.csv"]),
        _lanes(experiment),
        *_qc_pictures(qc_dir, tables["bands.csv"], thumbnails or {}),
        _provenance(run_info),
    ]
    return "\n".join(parts).encode("utf-8")


def _heading(name: str, run_info: Mapping[str, Any], doubted: Sequence[str]) -> list[str]:
    """Title, version and time, the verdict on the numbers, and the warnings."""
    failures = [f["message"] for f in run_info.get("failures", [])]
    warnings = run_info.get("warnings", [])
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>blotquant: "
        f"{_esc(name)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_esc(name)}</h1>",
        f"<p>blotquant {_esc(run_info.get('blotquant_version'))}, "
        f"{_esc(run_info.get('finished'))}</p>",
    ]
    if failures:
        parts.append(
            f"<p class='bad'>{len(failures)} input(s) rejected; their lanes are missing "
            "below.</p><ul>" + "".join(f"<li>{_esc(m)}</li>" for m in failures) + "</ul>"
        )
    if doubted:
        parts.append(
            f"<p class='bad'>Lanes are in doubt on {len(doubted)} image(s): their bands are "
            f"flagged <code>{LANES_UNCERTAIN}</code> and may hold a neighbouring lane's band. "
            "Check the lanes list (see the warnings) and the QC pictures before trusting "
            "those numbers: " + ", ".join(_esc(d) for d in doubted) + ".</p>"
        )
    elif not failures:
        parts.append("<p class='ok'>Every image file was quantified.</p>")
    if warnings:
        parts.append(
            "<h2>Warnings</h2><ul>"
            + "".join(f"<li class='warn'>{_esc(w)}</li>" for w in warnings)
            + "</ul>"
        )
    return parts


def _verdict(experiment: Experiment, ratios: pd.DataFrame, summary: pd.DataFrame) -> list[str]:
    """Say which numbers to trust: lanes counted, cautioned, left out, groups short of lanes."""
    ratios = sample_rows(ratios)  # (calibrator lanes are a reference, not a result)
    if ratios.empty:
        return ["<h2>The numbers</h2><p class='bad'>No ratio could be computed.</p>"]
    counted = counted_in_summary(ratios)
    flagged = ratios["flags"].astype(str) != ""
    n_all, n_counted = len(ratios), int(counted.sum())
    cautioned = ratios[counted & flagged]
    left_out = ratios[~counted]
    short = summary[summary["note"].astype(str) != ""] if "note" in summary else summary[:0]
    if n_counted == n_all and cautioned.empty and short.empty:
        verdict = (
            f"<p class='ok'>All {n_all} lane ratios count, none with a flag: every number in "
            "the tables and figures can be used as it is.</p>"
        )
    else:
        verdict = (
            f"<p class='{'bad' if len(left_out) or len(short) else 'warn'}'>"
            f"{n_counted} of {n_all} lane ratios count in summary.csv and the figures; "
            f"{len(cautioned)} of them carry a caution, {len(left_out)} "
            f"{'is' if len(left_out) == 1 else 'are'} left out"
            f"{'' if short.empty else f', and {len(short)} group(s) are short of lanes'}."
            "</p>"
        )
    parts = ["<h2>The numbers</h2>", verdict]
    if len(left_out):
        parts.append(
            "<p>Left out (not in any mean):</p><ul>"
            + "".join(
                f"<li>{_esc(r.membrane)} lane {_esc(r.lane)} "
                f"({_esc(experiment.membrane(r.membrane).lanes[int(r.lane) - 1].label)}), "
                f"{_esc(r.pair)}: <code>{_esc(r.flags or 'no ratio')}</code></li>"
                for r in left_out.itertuples()
            )
            + "</ul>"
        )
    if len(cautioned):
        words = pd.Series(
            [w for f in cautioned["flags"] for w in str(f).split(";") if w]
        ).value_counts()
        parts.append(
            "<p>Counted, with a caution (look at their QC pictures): "
            + ", ".join(f"<code>{_esc(w)}</code> {n} lane(s)" for w, n in words.items())
            + ". The README's flags table says what each means.</p>"
        )
    if len(short):
        keys = [c for c in short.columns if c not in (*SUMMARY_MEASURED, VERSION_COLUMN)]
        parts.append(
            "<p>Groups with fewer lanes than the config gives them:</p><ul>"
            + "".join(
                f"<li>{_esc(' | '.join(str(row[k]) for k in keys))} {_esc(row['pair'])}: "
                f"n = {int(row['n'])}; {_esc(row['note'])}</li>"
                for _, row in short.iterrows()
            )
            + "</ul>"
        )
    return parts


def _lanes(experiment: Experiment) -> str:
    """List what each lane holds, per membrane: the key to the pictures' lane numbers."""
    items = "".join(
        f"<li><b>{_esc(m.name)}</b>: "
        + "; ".join(f"lane {lane.number}: {_esc(lane.label)}" for lane in m.lanes)
        + "</li>"
        for m in experiment.membranes
    )
    return f"<h2>Lanes</h2><ul>{items}</ul>" if items else ""


def _fold_changes(
    ratios: pd.DataFrame,
    pairs: Sequence[str],
    groups: Mapping[str, Sequence[str]],
    dose_key: str,
) -> list[str]:
    """One fold-change plot per pair that has ratios."""
    parts = [
        "<h2>Fold change per treatment</h2><p>Bars: the mean in summary.csv (the same "
        "lanes count); dots: every lane (orange: flagged but counted; hollow red: left "
        "out, saturated or without a total band); dashed line: control.</p>"
    ]
    for pair in pairs:
        if (ratios["pair"] == pair).any():
            try:
                plot = _pair_plot(ratios, pair, groups[pair], dose_key)
            except Exception as exc:  # noqa: BLE001 - a figure must never cost the page
                parts.append(_not_drawn(pair, exc))
                continue
            parts.append(
                f"<figure>{_img(plot, pair)}<figcaption>{_esc(pair)}</figcaption></figure>"
            )
    return parts


def _not_drawn(what: str, exc: Exception) -> str:
    return (
        f'<p class="warn">The {_esc(what)} figure could not be drawn '
        f"({_esc(type(exc).__name__)}: {_esc(str(exc))}); the tables below and the CSVs "
        "hold every number. Please report this with the config.</p>"
    )


def _exposure_series(exposures: pd.DataFrame | None) -> list[str]:
    """exposures.csv in words: how the exposures of each series were joined."""
    if exposures is None or exposures.empty:
        return []
    shown = exposures.drop(columns=[VERSION_COLUMN], errors="ignore")
    return [
        "<h2>Exposure series</h2><p>Every exposure of a series was measured in the boxes of "
        "the longest one. <code>scale</code> is the fitted factor between neighbouring "
        "exposures (from the bands unsaturated and clear of the noise in both; "
        "<code>spread</code> is their own scatter around it, <code>nominal_scale</code> the "
        "ratio of the exposure times, which the substrate's decay makes larger). Each band "
        "takes the volume of its longest unsaturated exposure, brought to the longest one's "
        "scale: bands.csv names it in <code>exposure</code>, with the factor in "
        "<code>exposure_factor</code>, and the QC picture of the longest exposure marks each "
        "box <code>e1</code>, <code>e2</code>, ... (shortest first). A band saturated in every "
        "exposure stays <code>saturated</code>. <code>dynamic_range</code>: strongest over "
        "weakest band measured within about 3 % (signal-to-noise 33 or more), merged, against "
        "<code>best_single_range</code>, the best one exposure alone.</p>",
        _table(shown),
    ]


def _statistics(stats: pd.DataFrame | None) -> list[str]:
    """stats.csv in words: what was tested, on what, and the table."""
    if stats is None or stats.empty:
        return []
    shown = stats.drop(columns=[VERSION_COLUMN, "test", "correction"], errors="ignore")
    tests = sorted({str(t) for t in stats["test"] if isinstance(t, str) and t})
    corrections = sorted({str(c) for c in stats["correction"] if isinstance(c, str) and c})
    significant = stats[pd.to_numeric(stats["p_adjusted"], errors="coerce") < 0.05]
    return [
        "<h2>Statistics (membranes as replicates)</h2><p>Each group's lanes are averaged on "
        "each membrane first (geometric mean of their fold changes): lanes of one membrane "
        "share its transfer and exposure and are not independent replicates; membranes are. "
        "<code>effect</code> is the ratio of geometric means of <code>a</code> over "
        "<code>b</code> with its 95 % confidence interval. "
        f"Tests: {_esc('; '.join(tests)) or 'none (too few membranes)'}. "
        f"Correction: {_esc('; '.join(corrections)) or 'none'}. "
        f"{len(significant)} of {len(stats)} comparisons have an adjusted p below 0.05. With "
        "three membranes a test only finds large, consistent effects: a p above 0.05 is not "
        "evidence of no effect, and the confidence interval says how large an effect the "
        "data still allow.</p>",
        _table(shown),
    ]


def _dose_responses(
    ratios: pd.DataFrame,
    fits: pd.DataFrame | None,
    pairs: Sequence[str],
    groups: Mapping[str, Sequence[str]],
    dose_key: str,
) -> list[str]:
    """Plot the fitted dose-response curves of each pair, then their table (if fitted)."""
    if fits is None or fits.empty:
        return []
    parts = ["<h2>Dose-response (four-parameter logistic)</h2>"]
    for pair in pairs:
        try:
            plot = _dose_plot(ratios, fits, pair, groups[pair], dose_key)
        except Exception as exc:  # noqa: BLE001 - a figure must never cost the page
            parts.append(_not_drawn(pair + " dose-response", exc))
            continue
        if plot is not None:
            parts.append(
                f"<figure>{_img(plot, pair + ' dose-response')}<figcaption>"
                f"{_esc(pair)}: fitted curves over every lane; "
                f"{_esc(_dose_panels(fits, pair, groups[pair]))}</figcaption></figure>"
            )
    parts.append(_table(fits))
    return parts


def _linear_ranges(
    experiment: Experiment, bands: pd.DataFrame, standards: pd.DataFrame | None
) -> list[str]:
    """Plot each image's dilution series with its linear range, then standards.csv."""
    if standards is None or standards.empty:
        return []
    parts = [
        "<h2>Linear range (dilution series)</h2><p>Filled points: standards in the linear "
        "part; hollow: outside it (or not usable). Line: through the origin over the linear "
        "part; dashed: the saturating fit. Shaded: the range of volumes that sample bands "
        f"are judged by; the ticks at the left are the sample bands, and those outside the "
        f"range are flagged <code>{OUTSIDE_LINEAR_RANGE}</code>.</p>"
    ]
    try:
        parts.append(
            f"<figure>{_img(_standards_plot(experiment, bands, standards), 'linear range')}"
            "</figure>"
        )
    except Exception as exc:  # noqa: BLE001 - a figure must never cost the page
        parts.append(_not_drawn("linear range", exc))
    parts.append(_table(standards.drop(columns=[VERSION_COLUMN], errors="ignore")))
    return parts


def _standards_plot(experiment: Experiment, bands: pd.DataFrame, standards: pd.DataFrame) -> str:
    """Volume against amount (log-log), one panel per image with standards."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    roles = {(m.name, lane.number): lane for m in experiment.membranes for lane in m.lanes}
    n = len(standards)
    columns = min(n, 4)
    rows = -(-n // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.6 * columns, 3.0 * rows), squeeze=False, layout="constrained"
    )
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    for ax, fit in zip(axes.ravel(), standards.itertuples(), strict=False):
        mine = bands[
            (bands["membrane"] == fit.membrane)
            & (bands["antibody"] == fit.antibody)
            & (bands["image"] == fit.image)
        ]
        lanes = [roles.get((fit.membrane, int(k))) for k in mine["lane"]]
        amount = np.array(
            [
                float(lane.metadata["amount"])
                if lane is not None and lane.role == "standard"
                else np.nan
                for lane in lanes
            ]
        )
        is_standard = np.isfinite(amount)
        volume = pd.to_numeric(mine["net_volume"]).to_numpy()
        a, v = amount[is_standard], volume[is_standard]
        positive = v > 0
        inside = (a >= fit.amount_low) & (a <= fit.amount_high) if fit.n_linear else a < 0
        ax.scatter(a[inside & positive], v[inside & positive], color="C0", s=18, zorder=3)
        ax.scatter(
            a[~inside & positive], v[~inside & positive], facecolors="none", edgecolors="C0", s=18
        )
        if len(a) and positive.any():
            x = np.geomspace(a.min(), a.max(), 100)
            if fit.slope == fit.slope:
                ax.plot(x, fit.slope * x, color="C1", linewidth=1)
            if fit.vmax == fit.vmax:
                ax.plot(x, fit.vmax * x / (fit.k_half + x), "--", color="C2", linewidth=1)
            if fit.volume_low == fit.volume_low:
                ax.axhspan(fit.volume_low, fit.volume_high, color="C0", alpha=0.08)
            samples = volume[~is_standard]
            samples = samples[samples > 0]
            ax.plot(np.full(len(samples), a.min() / 1.5), samples, "_", color="#555", ms=8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # (2x10^0, 3x10^0 ... overlap)
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("amount")
        ax.set_ylabel("net volume")
        ax.set_title(f"{fit.membrane} {fit.antibody}", fontsize=9)
    encoded = _png(fig)
    plt.close(fig)
    return encoded


def _dose_panels(fits: pd.DataFrame, pair: str, groups: Sequence[str]) -> str:
    """Say in words what each panel of a dose-response figure holds (fitted or not)."""
    mine = fits[fits["pair"] == pair]
    keys = [g for g in groups if g in mine.columns]
    said = []
    for name, part in mine.groupby(keys, sort=False) if keys else [((), mine)]:
        label = " | ".join(map(str, name if isinstance(name, tuple) else (name,))) or "all lanes"
        fitted = [str(t) for t, ic50 in zip(part["treatment"], part["ic50"], strict=True)
                  if ic50 == ic50]  # fmt: skip
        said.append(f"{label}: " + (f"IC50 of {', '.join(fitted)}" if fitted else "no IC50"))
    return "panels: " + "; ".join(said)


def _qc_pictures(qc_dir: Path, bands: pd.DataFrame, thumbnails: Mapping[str, bytes]) -> list[str]:
    """Each QC picture's thumbnail, linked to the picture, with its flagged bands."""
    parts = [
        "<h2>QC pictures</h2><p>Click a picture for the full-size one in "
        f"<code>{_esc(qc_dir.name)}/</code>.</p>"
    ]
    # only flagged bands make captions: find them once, not once per picture
    flagged_all = bands[bands["flags"].astype(str) != ""] if "flags" in bands else bands
    stems = [Path(str(p)).stem for p in flagged_all["image"]]
    membranes = flagged_all["membrane"].astype(str).to_numpy()
    for picture in sorted(qc_dir.glob("*.png")) if qc_dir.is_dir() else []:
        membrane, _, stem = picture.stem.partition("__")
        mine = (membranes == membrane) & np.array([stem.startswith(s) for s in stems], bool)
        flagged = flagged_all[mine]
        caption = (
            ", ".join(f"{r.antibody} lane {r.lane}: {r.flags}" for r in flagged.itertuples())
            or "no flags"
        )
        small = thumbnails.get(picture.name) or _thumbnail_of(picture)
        link = f"{qc_dir.name}/{picture.name}"
        parts.append(
            f'<figure><a href="{_esc(link)}">{_img(small, picture.name, "jpeg")}</a>'
            f"<figcaption>{_esc(picture.name)}: {_esc(caption)} (click for the full "
            "picture)</figcaption></figure>"
        )
    return parts


def _provenance(run_info: Mapping[str, Any]) -> str:
    """List the config file and the SHA-256 of every input, closing the page."""
    inputs = run_info.get("inputs", {})
    return (
        "<h2>Provenance</h2><p>Config: "
        + _esc(run_info.get("config_file"))
        + "</p>"
        + _table(pd.DataFrame([{"input": k, "sha256": v.get("sha256")} for k, v in inputs.items()]))
        + "</body></html>"
    )
