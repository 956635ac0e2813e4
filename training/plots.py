"""A loss-curve PNG drawn with Pillow, from a run's log.jsonl."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image, ImageDraw

from models.files import atomic_write_bytes

COLOURS = {"d_loss": (31, 119, 180), "g_loss": (214, 39, 40), "info_loss": (44, 160, 44)}


def plot_losses(log_path: Path, out_path: Path, width: int = 640, height: int = 360) -> None:
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    left, top, right, bottom = 50, 20, width - 10, height - 30
    draw.rectangle([left, top, right, bottom], outline="black")
    series = {k: [(r["step"], r[k]) for r in records if k in r] for k in COLOURS}
    points = [p for s in series.values() for p in s]
    if len(points) >= 2:
        x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
        y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
        sx = (right - left) / max(x1 - x0, 1)
        sy = (bottom - top) / max(y1 - y0, 1e-9)
        for name, pts in series.items():
            if len(pts) >= 2:
                xy = [(left + (x - x0) * sx, bottom - (y - y0) * sy) for x, y in pts]
                draw.line(xy, fill=COLOURS[name], width=2)
        draw.text((4, top), f"{y1:.2f}", fill="black")
        draw.text((4, bottom - 10), f"{y0:.2f}", fill="black")
        draw.text((left, bottom + 8), f"step {x0}", fill="black")
        draw.text((right - 70, bottom + 8), f"step {x1}", fill="black")
    for i, (name, colour) in enumerate(c for c in COLOURS.items() if series[c[0]]):
        draw.text((left + 10 + 90 * i, top + 5), name, fill=colour)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    atomic_write_bytes(out_path, buf.getvalue())
