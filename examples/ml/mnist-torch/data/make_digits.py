"""Generate a small, deterministic MNIST-like digits dataset: data/digits.npz.

Each image is a 16x16 uint8 rendering of a fixed 5x7 glyph for the digits 0-9, scaled 2x,
placed at a random offset, with random stroke intensity, pixel dropout and noise. The
same seed always gives the same arrays, so the committed digits.npz can be regenerated:

    python3 data/make_digits.py            # writes data/digits.npz beside this script
    python3 data/make_digits.py --out /tmp/digits.npz --per-class 200 --seed 1
"""
import argparse
from pathlib import Path

import numpy as np

SIZE = 16

GLYPHS = {
    0: ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
    1: ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
    2: ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
    3: ["11111", "00010", "00100", "00010", "00001", "10001", "01110"],
    4: ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
    5: ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
    6: ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
    7: ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
    8: ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
    9: ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
}


def glyph(digit):
    bits = np.array([[int(c) for c in row] for row in GLYPHS[digit]], dtype=np.float32)
    return np.kron(bits, np.ones((2, 2), dtype=np.float32))  # 14 x 10


def render(digit, rng):
    g = glyph(digit)
    g = g * (rng.random(g.shape) > 0.08)  # pixel dropout
    img = np.zeros((SIZE, SIZE), dtype=np.float32)
    top = rng.integers(0, SIZE - g.shape[0] + 1)
    left = rng.integers(0, SIZE - g.shape[1] + 1)
    img[top : top + g.shape[0], left : left + g.shape[1]] = g * rng.uniform(0.6, 1.0)
    img += rng.normal(0.0, 0.12, img.shape)
    # Coarse levels keep the file small and the images looking like scanned digits.
    return (np.clip(img, 0.0, 1.0) * 15).round().astype(np.uint8) * 17


def make(per_class, seed):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10, dtype=np.uint8), per_class)
    rng.shuffle(labels)
    images = np.stack([render(int(d), rng) for d in labels])
    return images, labels


def main():
    parser = argparse.ArgumentParser(description="Generate data/digits.npz.")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "digits.npz")
    parser.add_argument("--per-class", type=int, default=150)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    images, labels = make(args.per_class, args.seed)
    n_test = int(len(labels) * args.test_fraction)
    np.savez_compressed(
        args.out,
        x_train=images[n_test:],
        y_train=labels[n_test:],
        x_test=images[:n_test],
        y_test=labels[:n_test],
    )
    print(f"wrote {args.out}: {len(labels) - n_test} train, {n_test} test, {SIZE}x{SIZE} uint8")


if __name__ == "__main__":
    main()
