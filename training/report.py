"""Prints the README's model table from the checkpoint cards (the figures `training.evaluate` wrote).

    python -m training.report            # markdown table of checkpoints/*.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from models.checkpoint import read_card
from models.files import REPO_ROOT


def pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def model_table(directory: Path) -> str:
    rows = ["| model | family | FD (real vs real) | two-sample test (real vs real) | confident (real) | class shares "
            "| label acc. | category acc. | copy ratio | epochs | training |",
            "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|"]
    for path in sorted(directory.glob("*.json")):
        card = read_card(path)
        if card.get("kind") != "generator":
            continue
        m = card.get("metrics", {})
        shares = f"{pct(m.get('digit_share_min'))} to {pct(m.get('digit_share_max'))}" if "digit_share_min" in m else ""
        c2st = (f"{m['c2st_accuracy']:.3f} ± {m['c2st_stderr']:.3f} ({m['c2st_real_vs_real']:.3f})"
                if "c2st_accuracy" in m else "")
        rows.append(
            f"| `{card['name']}` | {card['family']} | {m.get('frechet_distance', '')} "
            f"({m.get('frechet_distance_real_vs_real', '')}) | {c2st} | {pct(m.get('confident_share'))} "
            f"({pct(m.get('confident_share_real'))}) | {shares} | {pct(m.get('label_accuracy'))} "
            f"| {pct(m.get('category_accuracy'))} | {m.get('copy_ratio', '')} | {card.get('epochs')} "
            f"| {card.get('training_time_s', 0) / 60:.0f} min, {card.get('device')} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint-dir", type=Path, default=REPO_ROOT / "checkpoints")
    print(model_table(parser.parse_args(argv).checkpoint_dir))


if __name__ == "__main__":
    main()
