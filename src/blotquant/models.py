"""Plain data passed between the pipeline stages.

The config loader (:mod:`blotquant.config`) turns a YAML file into an
:class:`Experiment`; every image (or region of an image) to measure becomes
one :class:`Measurement`. The numeric stages never see the YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Polarity = Literal["auto", "dark-bands", "light-bands"]
#: Which band of a doublet a box holds: both (the default), or the upper or lower alone.
DoubletBand = Literal["both", "upper", "lower"]
LaneRole = Literal["sample", "ladder", "empty", "calibrator", "standard"]
#: What an image shows besides one antibody's band: a stain of every protein
#: in the lane (Ponceau S, stain-free, REVERT), measured over the whole lane.
Stain = Literal["total-protein"]
#: What a pair's ratio is: phosphorylation (phospho over total) or expression
#: (a target over loading controls).
PairKind = Literal["phospho/total", "target/loading"]
NormalizeTo = Literal["control", "calibrator"]

BACKGROUND_METHODS = ("rolling-ball", "lane-edges", "profile-baseline", "none")
#: Chosen by the ground-truth benchmark (see benchmarks/README.md).
DEFAULT_BACKGROUND = "profile-baseline"

#: The QC pictures' folder in the output folder, and the prefix of the hidden
#: folder a run stages its results in (see :mod:`blotquant.report`): results,
#: never input.
QC_DIR = "qc"
#: One CSV per pair laid out for GraphPad Prism (see :func:`blotquant.ratios.prism_tables`).
PRISM_DIR = "prism"
STAGING_PREFIX = ".blotquant-staging-"
#: The end of the name of the picture ``blotquant inspect`` writes by default:
#: never an export (``init`` and batch globs pass it by).
INSPECT_SUFFIX = "_inspect.png"


@dataclass(frozen=True)
class AnalysisSettings:
    """Settings of the analysis of one image; any image may override any key."""

    polarity: Polarity = "auto"
    background: str = DEFAULT_BACKGROUND
    rolling_ball_radius: float = 50.0
    lane_width: float | None = None  # None means "auto"
    #: Pixel value at which the detector saturates; None means the dtype maximum
    #: (255 or 65535) or, for dark bands, 0.
    saturation_level: float | None = None
    #: Rows of membrane above and below a band used for its background;
    #: None means automatic (0.8 x the band's FWHM, 3 to 20 rows).
    background_margin: int | None = None


@dataclass(frozen=True)
class Lane:
    """One lane of a membrane, numbered from 1 left to right."""

    number: int
    role: LaneRole = "sample"
    #: Every key besides ``role`` (treatment, sample, dose_nM, cell_line, ...).
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def loaded(self) -> bool:
        """Whether the lane holds a lysate to measure (a sample, the calibrator or a standard)."""
        return self.role in ("sample", "calibrator", "standard")

    @property
    def in_ratios(self) -> bool:
        """Whether the lane gets ratios: a sample or the calibrator (a standard is a dilution)."""
        return self.role in ("sample", "calibrator")

    @property
    def label(self) -> str:
        """Name the lane for a person: its role, or its metadata (``DMSO 0 parental``)."""
        if self.role == "standard":
            return f"standard {self.metadata.get('amount', '')}".strip()
        if self.role != "sample":
            return self.role
        values = [v for k, v in self.metadata.items() if k != "sample" and v not in (None, "")]
        return " ".join(str(v) for v in values) or str(self.metadata.get("sample", "sample"))


@dataclass(frozen=True)
class Pair:
    """A ratio reported per lane: phospho over total, or a target over loading control(s).

    ``phospho`` is the numerator either way (the phospho antibody, or the
    target); ``total`` is the denominator as written in the tables (the total
    antibody, or the loading controls joined by ``+``). A target/loading pair
    divides by the geometric mean of its ``loading`` controls' volumes.
    """

    phospho: str
    total: str
    kind: PairKind = "phospho/total"
    loading: tuple[str, ...] = ()
    #: This pair's own control lanes, grouping and reference, where they differ
    #: from the experiment's (None: the experiment's). An expression pair is
    #: often compared across cell lines while phosphorylation is within each.
    control: tuple[tuple[str, Any], ...] | None = None
    normalize_within: tuple[str, ...] | None = None
    normalize_to: NormalizeTo | None = None
    #: A phospho/total pair whose bands are each corrected for their lane's
    #: loading first (a total-protein stain, or housekeeping bands; several:
    #: geometric mean): the phospho band by ``phospho_loading``, the total by
    #: ``total_loading``. They differ when phospho and total were blotted on
    #: two gels of the same lysates, each with its own stain; on one membrane
    #: they are the same and cancel.
    phospho_loading: tuple[str, ...] = ()
    total_loading: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The pair as written in the tables: ``p-AKT/AKT``, ``AXL/GAPDH+actin``."""
        return f"{self.phospho}/{self.total}"

    @property
    def denominators(self) -> tuple[str, ...]:
        """The antibodies of the denominator."""
        return self.loading or (self.total,)

    @property
    def antibodies(self) -> tuple[str, ...]:
        """Every antibody (and stain) the ratio needs."""
        names = (self.phospho, *self.denominators, *self.phospho_loading, *self.total_loading)
        return tuple(dict.fromkeys(names))

    def as_config(self) -> dict[str, Any]:
        """Write the pair as the config would, with its own keys (for run.json)."""
        out: dict[str, Any] = (
            {"target": self.phospho, "loading": list(self.loading)}
            if self.kind == "target/loading"
            else {"phospho": self.phospho, "total": self.total}
        )
        if self.phospho_loading:
            out["phospho_loading"] = list(self.phospho_loading)
            out["total_loading"] = list(self.total_loading)
        if self.control is not None:
            out["control"] = dict(self.control)
        if self.normalize_within is not None:
            out["normalize_within"] = list(self.normalize_within)
        if self.normalize_to is not None:
            out["normalize_to"] = self.normalize_to
        return out


@dataclass(frozen=True)
class Membrane:
    """One membrane: its name and its lanes, left to right."""

    name: str
    lanes: tuple[Lane, ...]


@dataclass(frozen=True)
class Measurement:
    """One antibody measured on one image (or one region of an image)."""

    membrane: str
    #: The file name as written in the config (or matched by a batch glob).
    image: str
    #: Resolved absolute path.
    path: Path
    antibody: str
    channel: int = 0
    #: Region of the image, [first row, last row) in image rows; None = all.
    rows: tuple[int, int] | None = None
    #: Search window for the band, [top, bottom) in image rows; None = anywhere.
    band_rows: tuple[int, int] | None = None
    #: With a doublet (two bands close together), which one the box holds.
    band: DoubletBand = "both"
    #: A total-protein stain: measured over the whole lane (between ``band_rows``
    #: when given), not at one band. None: an antibody's band.
    stain: Stain | None = None
    #: Lane centres in image columns; None = find lanes automatically.
    lane_centers: tuple[float, ...] | None = None
    #: Turn the image first: 90, 180 or 270 degrees clockwise, or a small angle.
    #: Every other coordinate (rows, crop, lane centres, the tables) is in the turned image.
    rotate: float = 0.0
    #: Only this box of the image is the membrane: (left, top, right, bottom) in pixels.
    crop: tuple[int, int, int, int] | None = None
    #: With no ``crop``: look for frames (a tray, scanner bars, paper) at the
    #: image's edges and measure only inside them (``crop: full`` turns this off).
    find_membrane: bool = True
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    #: Molecular-weight ladder: its lane number and its marks' sizes (kDa), top to bottom.
    ladder_lane: int | None = None
    ladder_kda: tuple[float, ...] | None = None
    #: Look for the band at this size (kDa) instead of in band_rows, within a
    #: relative tolerance (0.15 = 15 %).
    band_kda: float | None = None
    band_kda_tolerance: float = 0.15
    #: Where in the config this came from, e.g. "membranes[0].images[2].regions[1]".
    source: str = ""
    #: One exposure of an exposure series (the same membrane imaged for longer
    #: and shorter): the series' name, shared by its exposures ("" alone) ...
    series: str = ""
    #: ... and this exposure's time in seconds, from the config or the file
    #: (None: not known; the series is then ordered by brightness).
    exposure_s: float | None = None


@dataclass(frozen=True)
class Experiment:
    """A validated config."""

    config_path: Path
    experiment: str
    output: Path
    analysis: AnalysisSettings
    pairs: tuple[Pair, ...]
    control: dict[str, Any]
    normalize_within: tuple[str, ...]
    summary_by: tuple[str, ...]
    membranes: tuple[Membrane, ...]
    measurements: tuple[Measurement, ...]
    #: The config as read, with defaults filled in (for run.json).
    resolved: dict[str, Any] = field(default_factory=dict)
    #: Lane key holding the dose, for dose-response fits.
    dose_key: str = "dose_nM"
    #: What fold changes are made through: each membrane's own control lanes,
    #: or (``calibrator``) every membrane's calibrator lanes, then the controls
    #: wherever they are.
    normalize_to: NormalizeTo = "control"
    #: Lane keys whose groups stats.csv compares with each other (e.g. cell_line:
    #: resistant against parental at each treatment).
    compare: tuple[str, ...] = ()
    #: Things worth knowing that do not stop the run (e.g. a membrane group
    #: without a control lane, an alias no file uses).
    warnings: tuple[str, ...] = ()

    def reference(self, pair: Pair) -> tuple[dict[str, Any], tuple[str, ...], NormalizeTo]:
        """Give a pair's control, ``normalize_within`` and ``normalize_to``: its own, else these."""
        control = dict(pair.control) if pair.control is not None else dict(self.control)
        within = (
            pair.normalize_within if pair.normalize_within is not None else self.normalize_within
        )
        return control, within, pair.normalize_to or self.normalize_to

    def conditions(self, pair: Pair) -> tuple[tuple[str, ...], dict[str, Any]]:
        """Give the lane keys that set a pair's conditions, and its vehicle lanes within each.

        A pair's lanes fall into conditions (e.g. each cell line): the keys of
        the experiment's ``normalize_within``, of the pair's own, and of its
        control but the treatment and the dose. Each condition's dose-response
        curve starts at its own vehicle lanes: the pair's control on its other
        keys. (A pair normalised to the parental DMSO still has a curve per
        cell line, each starting at its own DMSO.)
        """
        control, within, _ = self.reference(pair)
        named = [key for key in control if key not in ("treatment", self.dose_key)]
        keys = tuple(dict.fromkeys((*self.normalize_within, *within, *named)))
        return keys, {key: value for key, value in control.items() if key not in keys}

    def lane_keys(self) -> list[str]:
        """Lane metadata keys in first-seen order (treatment and sample first)."""
        keys: list[str] = ["treatment", "sample"]
        for membrane in self.membranes:
            for lane in membrane.lanes:
                for key in lane.metadata:
                    if key not in keys:
                        keys.append(key)
        return keys

    def membrane(self, name: str) -> Membrane:
        """Look up the membrane called ``name``."""
        for m in self.membranes:
            if m.name == name:
                return m
        raise KeyError(name)
