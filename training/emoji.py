"""A built-in source of the dataset tool: the colour emoji of Noto (Debian's ``fonts-noto-color-emoji``, Apache-2.0
images), one per fully-qualified emoji of Unicode's ``emoji-test.txt`` (Debian's ``unicode-data``), labelled by
their group (nine groups, "Component" left out).

    python -m training.dataset emoji --size 64 --out data/emoji-64

Rendered canonically, so that anyone can rebuild the data set bit for bit from the same two packages: each emoji
drawn with Pillow (``ImageFont.truetype(NotoColorEmoji.ttf, 109)``, ``embedded_color=True``) at the origin of a
transparent 136 x 128 canvas, composited on white and resized to the target size with Lanczos.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from training.dataset import DatasetError, Options, Report, Source, build

FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
EMOJI_TEST = Path("/usr/share/unicode/emoji/emoji-test.txt")
CANVAS = (136, 128)
FONT_SIZE = 109  # the font's one bitmap strike
LEFT_OUT = {"Component"}
LICENCE = "Apache-2.0 (Noto Color Emoji images, fonts-noto-color-emoji)"


def emoji_list(path: Path = EMOJI_TEST) -> list[tuple[str, str, str]]:
    """``(group, emoji, name)`` for every fully-qualified emoji, in the file's order."""
    if not path.is_file():
        raise DatasetError(f"{path}: not found; apt-get install unicode-data (bash scripts/install.sh --train does)")
    out, group = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line and not line.startswith("#") and "; fully-qualified" in line and group not in LEFT_OUT:
            codes, _, rest = line.partition(";")
            name = rest.split("#", 1)[1].strip().split(" ", 2)[-1] if "#" in rest else codes.strip()
            out.append((group, "".join(chr(int(c, 16)) for c in codes.split()), name))
    return out


def render(emoji: str, font: ImageFont.FreeTypeFont) -> Image.Image:
    canvas = Image.new("RGBA", CANVAS, (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((0, 0), emoji, font=font, embedded_color=True)
    return canvas


def build_emoji(out: Path, opts: Options, workers: int | None = None) -> Report:
    """Renders every emoji into a temporary folder (a sub-folder per group) and builds the data set from it; the
    options' size and grey are the caller's, the rest is the canonical recipe (stretch the canvas, on white)."""
    if not FONT.is_file():
        raise DatasetError(f"{FONT}: not found; apt-get install fonts-noto-color-emoji (bash scripts/install.sh "
                           "--train does)")
    font = ImageFont.truetype(str(FONT), FONT_SIZE)
    items = emoji_list()
    groups = sorted({group for group, _, _ in items}, key=[g for g, _, _ in items].index)  # the file's order
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files: list[tuple[Path, int | None]] = []
        for i, (group, emoji, _) in enumerate(items):
            path = folder / f"{i:05d}.png"
            render(emoji, font).save(path)
            files.append((path, groups.index(group)))
        source = Source(files, [g.lower() for g in groups], folder)
        canonical = replace(opts, fit="stretch", background=(255, 255, 255))
        return build(source, out, canonical, workers, name=out.name, licence=LICENCE,
                     description=f"{FONT.name} ({FONT_SIZE} px) and {EMOJI_TEST.name}, fully-qualified, "
                     f"{len(items)} emoji in {len(groups)} groups")
