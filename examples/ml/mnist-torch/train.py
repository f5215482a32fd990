"""Train TinyCNN on the generated digits dataset, on CPU.

Reads digits.npz from $DATA_DIR (default /data, else ./data beside this script) and
writes model.pt and metrics.json to $OUTPUT_DIR (default /outputs, else ./outputs).
The DataLoader uses --num-workers worker processes, which share batches through /dev/shm.
"""
import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from model import TinyCNN

# Optional: TensorBoard logging when the tensorboard package is installed.
try:
    import tensorboard  # noqa: F401
    from torch.utils.tensorboard import SummaryWriter
except ImportError:
    SummaryWriter = None

HERE = Path(__file__).resolve().parent


def resolve_dir(env_var, default, fallback):
    """$env_var if set, else `default` when it exists, else `fallback`."""
    value = os.environ.get(env_var)
    if value:
        return Path(value)
    default = Path(default)
    return default if default.is_dir() else fallback


def load_split(data, split):
    x = torch.from_numpy(data[f"x_{split}"].astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(data[f"y_{split}"].astype(np.int64))
    return TensorDataset(x, y)


def evaluate(model, loader, loss_fn):
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            logits = model(x)
            total_loss += loss_fn(logits, y).item() * len(y)
            correct += (logits.argmax(dim=1) == y).sum().item()
            count += len(y)
    return total_loss / count, correct / count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    data_dir = resolve_dir("DATA_DIR", "/data", HERE / "data")
    out_dir = resolve_dir("OUTPUT_DIR", "/outputs", HERE / "outputs")
    out_dir.mkdir(parents=True, exist_ok=True)

    path = data_dir / "digits.npz"
    if not path.is_file():
        raise SystemExit(f"{path} not found: run `python3 data/make_digits.py` first")
    with np.load(path) as data:
        train_set, test_set = load_split(data, "train"), load_split(data, "test")

    loader_args = {"batch_size": args.batch_size, "num_workers": args.num_workers}
    if args.num_workers > 0:
        loader_args["persistent_workers"] = True
    generator = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(train_set, shuffle=True, generator=generator, **loader_args)
    test_loader = DataLoader(test_set, shuffle=False, **loader_args)

    model = TinyCNN(num_classes=10, image_size=train_set.tensors[0].shape[-1])
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    writer = SummaryWriter(str(out_dir / "tensorboard")) if SummaryWriter else None

    start = time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        running, seen = 0.0, 0
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            running += loss.item() * len(y)
            seen += len(y)
        test_loss, test_acc = evaluate(model, test_loader, loss_fn)
        print(f"epoch {epoch}: train_loss={running / seen:.4f} "
              f"test_loss={test_loss:.4f} test_accuracy={test_acc:.4f}")
        if writer:
            writer.add_scalar("loss/train", running / seen, epoch)
            writer.add_scalar("loss/test", test_loss, epoch)
            writer.add_scalar("accuracy/test", test_acc, epoch)
    if writer:
        writer.close()

    metrics = {
        "accuracy": round(test_acc, 4),
        "test_loss": round(test_loss, 4),
        "epochs": args.epochs,
        "n_train": len(train_set),
        "n_test": len(test_set),
        "num_workers": args.num_workers,
        "seconds": round(time.time() - start, 2),
        "torch": torch.__version__,
    }
    torch.save(model.state_dict(), out_dir / "model.pt")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"wrote {out_dir / 'model.pt'} and {out_dir / 'metrics.json'}")
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
