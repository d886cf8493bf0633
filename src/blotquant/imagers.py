"""Files imagers write in their own formats, read without an export.

Bio-Rad Image Lab ``.scn`` (ChemiDoc, Gel Doc)
    A MIME multipart file: an XML ``ImageHeader`` (size, byte order, the
    detector's ceiling, which end of the scale is white, exposure, binning,
    imager) beside an ``ImageData`` part of raw unsigned 16-bit pixels. The
    pixels are read as they are: the counts Image Lab measures, the same as
    the "export for analysis" 16-bit TIFF.
Molecular Dynamics GEL (``.gel``: Typhoon, Storm, Amersham scanners)
    A TIFF whose tag ``MDFileTag`` 2 says the pixels hold the *square root*
    of the signal, scaled by ``MDScalePixel``: they are squared back to the
    linear signal (measured on the square roots, volumes would be wrong),
    and the detector's ceiling goes with them. ``MDFileTag`` 128 is linear
    with a scale.

Each reader returns the pixels, the ceiling, and what the file says about
its acquisition (recorded in run.json beside the file's SHA-256).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np

from blotquant.errors import BlotquantError

#: The first bytes of an Image Lab file.
SCN_MAGIC = b"MIME-Version:"
#: MD GEL's square-root and linear encodings (tag MDFileTag).
MDGEL_SQUARE_ROOT = 2
MDGEL_LINEAR = 128


@dataclass(frozen=True)
class ImagerImage:
    """Pixels of an imager's own file, with what the file says about them.

    Attributes
    ----------
    pixels : ndarray, shape (n_rows, n_columns)
        Counts (uint16 for .scn), or the linear signal (float64 for .gel).
    ceiling : float
        The detector's ceiling in the same units (saturation).
    acquisition : dict
        Imager, exposure, binning and the like, as the file states them.
    warnings : tuple of str
    """

    pixels: np.ndarray
    ceiling: float
    acquisition: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def is_scn(data: bytes) -> bool:
    """Tell whether ``data`` is a Bio-Rad Image Lab file."""
    return data.startswith(SCN_MAGIC) and b"Image Lab" in data[:300]


def read_scn(data: bytes, path: Path) -> ImagerImage:
    """Read the pixels and the acquisition of a Bio-Rad Image Lab ``.scn`` file.

    Parameters
    ----------
    data : bytes
        The whole file.
    path : Path
        Its path, for messages.

    Returns
    -------
    ImagerImage

    Raises
    ------
    BlotquantError
        If the file holds no image data, or its header does not say its size.
    """
    found = re.search(
        rb"Content-Length: (\d+)\r?\nContent-Description: ImageData\r?\n(?:[^\r\n]+\r?\n)*\r?\n",
        data,
    )
    header = _part_xml(data, b"ImageHeader")
    if found is None or header is None:
        raise BlotquantError(
            f"{path} looks like a Bio-Rad Image Lab file but holds no image data blotquant "
            "can find. Export the image from Image Lab (File > Export > Export for Analysis, "
            "a 16-bit TIFF) and point the config at that file."
        )
    size = header.find("size_pix")
    if size is None:
        raise BlotquantError(f"{path}: the Image Lab header does not give the image's size.")
    width, height = int(size.get("width", 0)), int(size.get("height", 0))
    n_bytes = int(found[1])
    if width * height * 2 != n_bytes or len(data) < found.end() + n_bytes:
        raise BlotquantError(
            f"{path}: the Image Lab header says {width} x {height} pixels, but the image "
            f"data holds {n_bytes} bytes. The file may be damaged; export it again."
        )
    endian = "<" if (header.findtext("endian") or "little").strip() == "little" else ">"
    raw = np.frombuffer(data, dtype=f"{endian}u2", count=width * height, offset=found.end())
    pixels = raw.reshape(height, width).astype(np.uint16)
    scanner = header.find("scanner")
    ceiling = float(scanner.get("data_ceiling", 65535)) if scanner is not None else 65535.0
    acquisition: dict[str, Any] = {"format": "Bio-Rad Image Lab (.scn)"}
    image = header.find("image")
    if image is not None and image.get("zero_is"):
        acquisition["zero_is"] = image.get("zero_is")
    for attribute in header.iterfind("scan_attributes/*"):
        name, value = attribute.get("name"), attribute.get("value")
        if name and value is not None:
            acquisition[name] = _number(value)
    # (zero_is says how Image Lab displays them; the pixels are counts either way:
    # more signal, larger values)
    return ImagerImage(pixels, ceiling, acquisition)


def decode_mdgel(raw: np.ndarray, metadata: dict[str, Any], path: Path) -> ImagerImage:
    """Turn an MD GEL file's pixels into the linear signal.

    Parameters
    ----------
    raw : ndarray of uint16, shape (n_rows, n_columns)
        The pixels as stored.
    metadata : dict
        tifffile's ``mdgel_metadata`` (``FileTag``, ``ScalePixel``, ...).
    path : Path
        For messages.

    Returns
    -------
    ImagerImage
        ``pixels`` float64, the signal; ``ceiling`` the largest signal the
        encoding can hold (65535 stored).
    """
    tag = int(metadata.get("FileTag", 0))
    numerator, denominator = metadata.get("ScalePixel") or (1, 1)
    scale = float(numerator) / float(denominator or 1)
    top = float(np.iinfo(raw.dtype).max) if raw.dtype.kind == "u" else float(raw.max())
    acquisition: dict[str, Any] = {"format": "Molecular Dynamics GEL (.gel)", "MD file tag": tag}
    for key in ("LabName", "SampleInfo", "PrepDate", "PrepTime", "FileUnits"):
        if metadata.get(key):
            acquisition[key] = str(metadata[key])
    values = raw.astype(np.float64)
    if tag == MDGEL_SQUARE_ROOT:
        return ImagerImage(
            values**2 * scale,
            top**2 * scale,
            acquisition,
            (
                f"{path.name} is a GEL file storing the square root of the signal: it was "
                "squared back to the linear signal before measuring.",
            ),
        )
    if tag == MDGEL_LINEAR:
        return ImagerImage(values * scale, top * scale, acquisition)
    return ImagerImage(raw, top, acquisition)


def _part_xml(data: bytes, description: bytes) -> ElementTree.Element | None:
    """Parse the XML part of a multipart file whose Content-Description is ``description``."""
    start = data.find(b"Content-Description: " + description)
    if start < 0:
        return None
    begin = data.find(b"<root", start)
    end = data.find(b"</root>", begin)
    if begin < 0 or end < 0:
        return None
    try:
        return ElementTree.fromstring(data[begin : end + len(b"</root>")])
    except ElementTree.ParseError:
        return None


def _number(text: str) -> Any:
    try:
        value = float(text)
    except ValueError:
        return text
    return round(value, 6)
