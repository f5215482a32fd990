"""A small linear regression trained by gradient descent, logging its loss and weight error
as TensorBoard scalars with tensorboardX (the same event files as PyTorch's writer, without
PyTorch)."""

import argparse

import numpy as np
from tensorboardX import SummaryWriter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logdir", default="outputs/runs")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 3))
    true_w = np.array([1.5, -2.0, 0.5])
    y = x @ true_w + 0.1 * rng.normal(size=256)
    w = np.zeros(3)
    with SummaryWriter(logdir=f"{args.logdir}/linear") as writer:
        for step in range(args.steps):
            error = x @ w - y
            loss = float(np.mean(error**2))
            w -= 0.05 * 2 * x.T @ error / len(y)
            writer.add_scalar("train/loss", loss, step)
            writer.add_scalar("train/weight_error", float(np.linalg.norm(w - true_w)), step)
    print(f"trained {args.steps} steps, final loss {loss:.4f}")


if __name__ == "__main__":
    main()
