"""A plain processing script: it parses its own arguments, like SDK-era scripts do."""

import argparse
from pathlib import Path

from scaling import scale

parser = argparse.ArgumentParser()
parser.add_argument("--raw", type=Path, required=True)
parser.add_argument("--prepared", type=Path, required=True)
parser.add_argument("--factor", type=float, default=1.0)
args = parser.parse_args()

numbers = [float(line) for line in (args.raw / "numbers.txt").read_text().split()]
args.prepared.mkdir(parents=True, exist_ok=True)
(args.prepared / "scaled.txt").write_text("\n".join(str(scale(n, args.factor)) for n in numbers))
