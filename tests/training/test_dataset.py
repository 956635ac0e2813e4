"""The dataset tool: every kind of image a user has, read the same way; every bad file left out by name and reason;
duplicates reported; clear errors; a file written whole or not at all, that safetensors itself reads."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from training.dataset import (
    DATASET_FILE,
    REPORT_FILE,
    DatasetError,
    Options,
    Source,
    build,
    find_source,
    main,
    prepare,
    read,
)

pytestmark = pytest.mark.unit


def encoded(img: Image.Image, fmt: str, **save) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save)
    return buf.getvalue()


def test_every_mode_and_format_becomes_the_same_kind_of_array():
    opts = Options(size=32)
    red = Image.new("RGB", (40, 30), (255, 0, 0))
    cases = {
        "rgb png": encoded(red, "PNG"),
        "jpeg": encoded(red, "JPEG", quality=95),
        "webp": encoded(red, "WEBP", lossless=True),
        "bmp": encoded(red, "BMP"),
        "gif": encoded(red.convert("P"), "GIF"),
        "cmyk jpeg": encoded(red.convert("CMYK"), "JPEG", quality=95),
        "grey": encoded(Image.new("L", (30, 30), 76), "PNG"),
        "16-bit": encoded(Image.fromarray(np.full((30, 30), 65535, np.uint16)), "PNG"),
    }
    for name, data in cases.items():
        array = prepare(data, opts)
        assert array.shape == (32, 32, 3) and array.dtype == np.uint8, name
    assert prepare(cases["rgb png"], opts)[16, 16].tolist() == [255, 0, 0]
    assert prepare(cases["16-bit"], opts)[0, 0].tolist() == [255, 255, 255]  # full scale stays full scale
    assert prepare(cases["grey"], Options(size=28, grey=True)).shape == (28, 28, 1)


def test_transparency_takes_the_background_and_exif_orientation_is_applied():
    clear = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    assert prepare(encoded(clear, "PNG"), Options(size=28))[0, 0].tolist() == [255, 255, 255]
    assert prepare(encoded(clear, "PNG"), Options(size=28, background=(0, 0, 255)))[0, 0].tolist() == [0, 0, 255]
    palette = Image.new("P", (20, 20), 0)
    palette.putpalette([255, 0, 0] * 256)
    assert prepare(encoded(palette, "PNG", transparency=0), Options(size=28))[5, 5].tolist() == [255, 255, 255]
    img = Image.new("RGB", (64, 32), (0, 0, 0))
    img.paste((255, 255, 255), (0, 0, 32, 32))  # white left half
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display: the white half goes on top
    turned = prepare(encoded(img, "JPEG", exif=exif, quality=95), Options(size=32, fit="pad",
                                                                         background=(128, 128, 128)))
    assert turned[10, 16].mean() > 200 and turned[22, 16].mean() < 60


def test_crop_keeps_the_centre_and_pad_keeps_everything():
    img = Image.new("RGB", (90, 30), (0, 0, 0))
    img.paste((255, 255, 255), (30, 0, 60, 30))  # a white centre third
    assert prepare(encoded(img, "PNG"), Options(size=28, fit="crop")).min() > 250
    padded = prepare(encoded(img, "PNG"), Options(size=28, fit="pad", background=(255, 0, 0)))
    assert padded[0, 14].tolist() == [255, 0, 0] and padded[14, 2].tolist() == [0, 0, 0]


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "pictures"
    for name, value in (("cats", 30), ("dogs", 200)):
        (root / name).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (40 + i, 40), (value, i * 20, 0)).save(root / name / f"{i}.png")
    shutil.copy(root / "cats" / "0.png", root / "dogs" / "copy-of-a-cat.png")  # an exact duplicate
    (root / "dogs" / "notes.png").write_text("not an image at all")
    (root / "dogs" / "cut.png").write_bytes(encoded(Image.new("RGB", (50, 50)), "PNG")[:60])  # truncated
    Image.new("RGB", (300, 300)).save(root / "dogs" / "huge.png")
    return root


def test_a_folder_of_classes_builds_a_dataset_that_safetensors_reads(folder, tmp_path):
    from safetensors.numpy import load_file

    out = tmp_path / "data" / "pets"
    report = build(find_source(folder, "auto"), out, Options(size=28, max_pixels=200 * 200), workers=2)
    assert report.images == 6 and report.class_counts == {"cats": 3, "dogs": 3}
    reasons = {item["file"]: item["reason"] for item in report.skipped}
    assert "not an image" in reasons["dogs/notes.png"] and "truncated" in reasons["dogs/cut.png"]
    assert "over the pixel cap" in reasons["dogs/huge.png"]
    assert report.duplicates == [{"file": "dogs/copy-of-a-cat.png", "same_as": "cats/0.png"}]
    ds = read(out)
    tensors = load_file(out / DATASET_FILE)  # the format is safetensors' own
    assert np.array_equal(tensors["images"], ds.images) and ds.images.shape == (6, 28, 28, 3)
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1] and ds.class_names == ["cats", "dogs"]
    assert len({f["sha256"] for f in ds.header["files"]}) == 6 and ds.header["size"] == 28
    assert ds.images[4, 0, 0].tolist() == [200, 20, 0]  # dogs/1.png
    assert json.loads((out / REPORT_FILE).read_text())["skipped"] == report.skipped


def test_csv_labels_and_unlabelled_folders(folder, tmp_path):
    (tmp_path / "labels.csv").write_text("file,label\ncats/0.png,small\ncats/1.png,big\ncats/2.png,big\n")
    ds = read(build(find_source(folder, str(tmp_path / "labels.csv")), tmp_path / "a", Options(size=28), 1)
              and tmp_path / "a")
    assert ds.class_names == ["big", "small"] and ds.labels.tolist() == [1, 0, 0]
    unlabelled = read(build(find_source(folder / "cats", "auto"), tmp_path / "b", Options(size=28), 1) and
                      tmp_path / "b")
    assert unlabelled.labels is None and unlabelled.class_names is None and len(unlabelled.images) == 3


def test_clear_errors_and_no_half_written_file(folder, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="no image could be read"):
        build(find_source(empty, "auto"), tmp_path / "out", Options(size=28), 1)
    assert not (tmp_path / "out" / DATASET_FILE).exists()
    with pytest.raises(DatasetError, match="has no sub-folders"):
        find_source(folder / "cats", "folders")
    good = build(find_source(folder, "auto"), tmp_path / "out", Options(size=28), 1)
    before = (tmp_path / "out" / DATASET_FILE).read_bytes()
    for p in (folder / "cats").iterdir():
        p.write_text("broken now")
    with pytest.raises(DatasetError, match=r"the class \['cats'\] has no image"):
        build(find_source(folder, "auto"), tmp_path / "out", Options(size=28), 1)
    assert (tmp_path / "out" / DATASET_FILE).read_bytes() == before and good.images == 7  # the old one, whole
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temporary left
    missing = Source([(tmp_path / "gone.png", None)], None, tmp_path)
    with pytest.raises(DatasetError, match="unreadable"):
        build(missing, tmp_path / "gone", Options(size=28), 1)


def test_the_command_line_reports_and_fails_in_one_line(folder, tmp_path, capsys):
    assert main([str(folder), "--size", "28", "--out", str(tmp_path / "cli"), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "7 images into" in out and "left out dogs/notes.png: not an image" in out
    assert main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("dataset: ") and "not a folder of images" in err and len(err.splitlines()) == 1
