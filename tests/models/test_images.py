import io
import zlib

import numpy as np
import pytest
from PIL import Image

from models.images import grid_array, png_bytes

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("scale", [1, 3])
def test_png_bytes_decode_to_the_pixels_enlarged_like_pillows_nearest(channels, scale):
    array = np.random.default_rng(channels).integers(0, 256, (11, 7, channels), dtype=np.uint8)
    png = png_bytes(array, scale)
    image = Image.open(io.BytesIO(png))
    image.load()  # Pillow checks every chunk's CRC and the zlib stream's checksum while reading
    assert image.mode == {1: "L", 3: "RGB", 4: "RGBA"}[channels]
    pillow = Image.fromarray(array[:, :, 0] if channels == 1 else array)
    expected = np.asarray(pillow.resize((7 * scale, 11 * scale), Image.NEAREST))
    assert np.array_equal(np.asarray(image), expected)


def test_png_bytes_is_a_standard_png_stream():
    """Signature, IHDR (8-bit grey, no interlace), one IDAT that plain zlib inflates, IEND; each chunk's CRC right."""
    png = png_bytes(np.arange(6 * 5, dtype=np.uint8).reshape(6, 5, 1))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(png):
        length = int.from_bytes(png[at : at + 4], "big")
        tag, data = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        assert int.from_bytes(png[at + 8 + length : at + 12 + length], "big") == zlib.crc32(tag + data)
        chunks.append((tag, data))
        at += 12 + length
    assert [tag for tag, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    assert chunks[0][1] == (5).to_bytes(4, "big") + (6).to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    rows = np.frombuffer(zlib.decompress(chunks[1][1]), np.uint8).reshape(6, 1 + 5)
    assert (rows[:, 0] == 0).all() and np.array_equal(rows[:, 1:], np.arange(30).reshape(6, 5))


def test_png_bytes_of_a_grid_and_of_a_strided_view():
    images = np.random.default_rng(0).integers(0, 256, (10, 28, 28, 1), dtype=np.uint8)
    grid = grid_array(images, columns=4)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png_bytes(grid)))), grid[:, :, 0])
    view = images[3, ::2, 1::3]  # not contiguous
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png_bytes(view)))), view[:, :, 0])


@pytest.mark.parametrize("array", [np.zeros((4, 4, 1), np.float32), np.zeros((4, 4), np.uint8),
                                   np.zeros((4, 4, 2), np.uint8)])
def test_png_bytes_refuses_what_it_cannot_write(array):
    with pytest.raises(ValueError, match="uint8"):
        png_bytes(array)


def test_grid_layout_is_near_square_and_holds_every_image():
    from models.images import grid_layout

    for n in range(1, 1100):
        columns, height, width = grid_layout(n, 28, 28)
        assert (columns - 1) ** 2 < n <= columns**2  # the least square that holds n
        rows = (height - 2) // 30
        assert columns * rows >= n > columns * (rows - 1) and width == columns * 30 + 2
    assert grid_layout(10, 28, 28, columns=4) == (4, 3 * 30 + 2, 4 * 30 + 2)
    assert grid_layout(3, 28, 28, columns=8)[0] == 3  # never wider than the images
