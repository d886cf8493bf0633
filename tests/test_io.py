"""Reading images: formats, channels, conversions and refusals with clear messages."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from blotquant.errors import BlotquantError
from blotquant.io import BlotImage, read_image


def _gradient(dtype=np.uint16, shape=(30, 40)):
    top = np.iinfo(dtype).max if np.dtype(dtype).kind == "u" else 1.0
    return (np.linspace(0, top * 0.8, shape[0] * shape[1]).reshape(shape)).astype(dtype)


def test_16bit_tiff(tmp_path):
    data = _gradient(np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", data)
    image = read_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(image.pixels, data)
    assert image.ceiling == 65535 and image.bit_depth == 16 and image.n_channels == 1
    assert len(image.sha256) == 64 and image.warnings == ()


def test_8bit_tiff_warns_about_depth(tmp_path):
    tifffile.imwrite(tmp_path / "a.tif", _gradient(np.uint8))
    image = read_image(tmp_path / "a.tif")
    assert image.ceiling == 255
    assert any("8-bit" in w for w in image.warnings)


def test_multichannel_tiff_and_channel_choice(tmp_path):
    stack = np.stack([_gradient(), _gradient()[::-1]])
    tifffile.imwrite(tmp_path / "two.tif", stack)
    assert read_image(tmp_path / "two.tif", 1).n_channels == 2
    np.testing.assert_array_equal(read_image(tmp_path / "two.tif", 1).pixels, stack[1])
    with pytest.raises(BlotquantError, match=r"`channel: 2` does not exist.*0 to 1"):
        read_image(tmp_path / "two.tif", 2)


def test_rgb_tiff_is_converted_with_a_warning(tmp_path):
    rgb = np.dstack([_gradient(np.uint8), _gradient(np.uint8) // 2, _gradient(np.uint8)])
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    image = read_image(tmp_path / "rgb.tif")
    assert image.pixels.shape == (30, 40) and image.pixels.dtype == np.uint8
    assert any("RGB" in w for w in image.warnings)


def test_png_16bit_and_rgba(tmp_path):
    Image.fromarray(_gradient(np.uint16)).save(tmp_path / "a.png")
    assert read_image(tmp_path / "a.png").pixels.dtype == np.uint16
    rgba = np.dstack([_gradient(np.uint8)] * 3 + [np.full((30, 40), 255, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "b.png")
    image = read_image(tmp_path / "b.png")
    assert image.pixels.shape == (30, 40)
    assert any("RGBA" in w for w in image.warnings)


def test_jpeg_is_read_with_a_lossy_warning(tmp_path):
    Image.fromarray(_gradient(np.uint8)).save(tmp_path / "a.jpg", quality=95)
    image = read_image(tmp_path / "a.jpg")
    assert any("lossy" in w and "JPEG" in w for w in image.warnings)


def test_missing_file_names_the_resolved_path(tmp_path):
    with pytest.raises(BlotquantError, match="not found") as info:
        read_image(tmp_path / "nope.tif")
    assert str((tmp_path / "nope.tif").resolve()) in str(info.value)


def test_truncated_tiff(tmp_path):
    tifffile.imwrite(tmp_path / "a.tif", _gradient(shape=(300, 400)))
    data = (tmp_path / "a.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[: len(data) // 3])
    with pytest.raises(BlotquantError, match="truncated or damaged"):
        read_image(tmp_path / "cut.tif")


def test_not_an_image(tmp_path):
    (tmp_path / "notes.tif").write_text("lane 1 DMSO\n")
    with pytest.raises(BlotquantError, match="not a TIFF, PNG, JPEG or Image Lab"):
        read_image(tmp_path / "notes.tif")
    (tmp_path / "empty.tif").write_bytes(b"")
    with pytest.raises(BlotquantError, match="empty"):
        read_image(tmp_path / "empty.tif")


def test_float_with_nan_is_refused(tmp_path):
    data = _gradient(np.float32)
    data[3, 4] = np.nan
    tifffile.imwrite(tmp_path / "f.tif", data)
    with pytest.raises(BlotquantError, match="NaN or infinite"):
        read_image(tmp_path / "f.tif")


def test_float_without_nan_is_read_with_warning(tmp_path):
    tifffile.imwrite(tmp_path / "f.tif", _gradient(np.float32))
    image = read_image(tmp_path / "f.tif")
    assert image.ceiling is None and any("floating-point" in w for w in image.warnings)


def test_32bit_integers(tmp_path):
    tifffile.imwrite(tmp_path / "ok.tif", np.arange(1200, dtype=np.uint32).reshape(30, 40))
    assert read_image(tmp_path / "ok.tif").pixels.dtype == np.uint16
    tifffile.imwrite(tmp_path / "big.tif", np.full((30, 40), 100_000, dtype=np.uint32))
    with pytest.raises(BlotquantError, match="outside the 0-65535 range"):
        read_image(tmp_path / "big.tif")


def test_huge_header_is_refused_before_allocating(tmp_path, monkeypatch):
    import blotquant.io as bio

    tifffile.imwrite(tmp_path / "a.tif", _gradient())
    monkeypatch.setattr(bio, "MAX_IMAGE_BYTES", 100)
    with pytest.raises(BlotquantError, match="more than blotquant will load"):
        read_image(tmp_path / "a.tif")


def test_reading_never_modifies_the_file(tmp_path):
    tifffile.imwrite(tmp_path / "a.tif", _gradient())
    before = (tmp_path / "a.tif").read_bytes()
    image = read_image(tmp_path / "a.tif")
    assert (tmp_path / "a.tif").read_bytes() == before
    assert image.sha256 == __import__("hashlib").sha256(before).hexdigest()


def test_an_array_in_memory_becomes_an_image():
    pixels = np.arange(12, dtype=np.uint16).reshape(3, 4)
    image = BlotImage.from_array(pixels, ceiling=4095.0)
    assert image.pixels is pixels
    assert (image.ceiling, image.floor, image.channel, image.n_channels) == (4095.0, 0.0, 0, 1)
    # floating-point data have no known limits unless given
    floats = BlotImage.from_array(pixels.astype(float))
    assert (floats.ceiling, floats.floor) == (None, None)
    assert BlotImage.from_array(pixels, floor=3.0, path="x.tif").floor == 3.0


def test_a_preview_page_and_the_blot_are_both_pages_to_choose(tmp_path):
    blot = _gradient(shape=(80, 100))
    preview = (blot[::4, ::4] // 257).astype(np.uint8)
    path = tmp_path / "two_pages.tif"
    with tifffile.TiffWriter(path) as tif:
        tif.write(preview)
        tif.write(blot)
    image = read_image(path, channel=1)
    assert image.n_channels == 2 and np.array_equal(image.pixels, blot)
    assert any("pages of different kinds" in w and "preview" in w for w in image.warnings)
    assert read_image(path, channel=0).pixels.dtype == np.uint8


@pytest.mark.parametrize(
    ("compression", "lossy"), [("zstd", False), ("lzw", False), ("jpeg", True)]
)
def test_compressed_tiffs_read_and_lossy_ones_say_so(tmp_path, compression, lossy):
    blot = (_gradient() // 257).astype(np.uint8)  # (JPEG-in-TIFF is 8-bit)
    path = tmp_path / f"{compression}.tif"
    tifffile.imwrite(path, blot, compression=compression)
    image = read_image(path)
    assert image.pixels.shape == blot.shape
    if not lossy:
        assert np.array_equal(image.pixels, blot)
    assert any("lossy" in w for w in image.warnings) == lossy


def test_a_codec_that_is_missing_is_named_with_the_fix(tmp_path, monkeypatch):
    import blotquant.io as bio

    path = tmp_path / "zstd.tif"
    tifffile.imwrite(path, _gradient(), compression="zstd")

    def no_codecs(*args, **kwargs):
        raise RuntimeError("requires the 'imagecodecs' package")

    def no_decoder(*args, **kwargs):
        raise OSError("decoder zstd not available")

    # neither imagecodecs nor Pillow's libtiff can decode it
    monkeypatch.setattr(bio.tifffile.TiffPageSeries, "asarray", no_codecs)
    monkeypatch.setattr(bio.Image, "open", no_decoder)
    with pytest.raises(BlotquantError, match="ZSTD compression, which needs the imagecodecs"):
        read_image(path)


def test_a_jpeg_stored_sideways_is_turned_upright(tmp_path):
    from PIL import Image

    upright = np.zeros((60, 200), np.uint8)
    upright[20:30, 10:50] = 200  # a band near the left
    sideways = Image.fromarray(np.rot90(upright, k=1).copy())  # stored turned 90 degrees
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    path = tmp_path / "phone.jpg"
    sideways.save(path, exif=exif, quality=95)
    image = read_image(path)
    assert image.pixels.shape == upright.shape
    assert image.pixels[25, 30] > 150 and image.pixels[25, 150] < 50
    assert any("EXIF orientation" in w for w in image.warnings)
