"""Train a scikit-learn classifier on the Iris dataset.

Reads iris.csv from $DATA_DIR (default /data, else ./data beside this script) and
writes model.joblib and metrics.json to $OUTPUT_DIR (default /outputs, else ./outputs).
"""
import argparse
import json
import os
from pathlib import Path

import joblib
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
TARGET = "species"


def resolve_dir(env_var, default, fallback):
    """$env_var if set, else `default` when it exists, else `fallback`."""
    value = os.environ.get(env_var)
    if value:
        return Path(value)
    default = Path(default)
    return default if default.is_dir() else fallback


def build_model(args):
    if args.model == "logreg":
        clf = LogisticRegression(max_iter=1000, random_state=args.seed)
    else:
        clf = RandomForestClassifier(
            n_estimators=args.n_estimators,
            max_depth=args.max_depth,
            random_state=args.seed,
        )
    return Pipeline([("scale", StandardScaler()), ("clf", clf)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["forest", "logreg"], default="forest")
    parser.add_argument("--n-estimators", type=int, default=100)
    parser.add_argument("--max-depth", type=int, default=None)
    parser.add_argument("--test-size", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    data_dir = resolve_dir("DATA_DIR", "/data", HERE / "data")
    out_dir = resolve_dir("OUTPUT_DIR", "/outputs", HERE / "outputs")
    out_dir.mkdir(parents=True, exist_ok=True)

    df = pd.read_csv(data_dir / "iris.csv")
    x, y = df[FEATURES], df[TARGET]
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=args.test_size, random_state=args.seed, stratify=y
    )

    model = build_model(args)
    model.fit(x_train, y_train)
    pred = model.predict(x_test)

    metrics = {
        "model": args.model,
        "accuracy": round(float(accuracy_score(y_test, pred)), 4),
        "f1_macro": round(float(f1_score(y_test, pred, average="macro")), 4),
        "n_train": int(len(x_train)),
        "n_test": int(len(x_test)),
        "seed": args.seed,
    }
    joblib.dump(model, out_dir / "model.joblib")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"data: {data_dir / 'iris.csv'} ({len(df)} rows)")
    print(f"wrote {out_dir / 'model.joblib'} and {out_dir / 'metrics.json'}")
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
