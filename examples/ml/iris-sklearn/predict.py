"""Predict Iris species with a model trained by train.py.

Loads model.joblib from $MODEL_DIR (default /outputs, else ./outputs beside this script).
Rows come from the command line (four numbers each, comma-separated) or, with no
arguments, as CSV on stdin (a header line naming the four features is optional).

    python3 predict.py 5.1,3.5,1.4,0.2 6.7,3.0,5.2,2.3
    tail -n 5 data/iris.csv | cut -d, -f1-4 | python3 predict.py
"""
import argparse
import os
import sys
from pathlib import Path

import joblib
import pandas as pd

HERE = Path(__file__).resolve().parent
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def model_dir():
    value = os.environ.get("MODEL_DIR")
    if value:
        return Path(value)
    default = Path("/outputs")
    return default if (default / "model.joblib").is_file() else HERE / "outputs"


def parse_rows(lines):
    rows = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        cells = [c.strip() for c in line.split(",")]
        if cells[0] == FEATURES[0]:  # header line
            continue
        if len(cells) < len(FEATURES):
            raise SystemExit(f"expected {len(FEATURES)} values, got {line!r}")
        rows.append([float(c) for c in cells[: len(FEATURES)]])
    return pd.DataFrame(rows, columns=FEATURES)


def main():
    parser = argparse.ArgumentParser(description="Predict Iris species.")
    parser.add_argument("rows", nargs="*", help="comma-separated feature values")
    args = parser.parse_args()

    path = model_dir() / "model.joblib"
    if not path.is_file():
        raise SystemExit(f"{path}: no model; run train.py first or set MODEL_DIR")
    model = joblib.load(path)

    x = parse_rows(args.rows if args.rows else sys.stdin)
    if x.empty:
        raise SystemExit("no rows given")
    for values, label in zip(x.itertuples(index=False), model.predict(x)):
        print(",".join(f"{v:g}" for v in values) + f" -> {label}")


if __name__ == "__main__":
    main()
