#!/usr/bin/env python3
"""The CIFAR training pipeline of `cargo bench -p zoo-data --bench pipeline`, with torchvision.

decode a CIFAR-10 binary record -> RandomCrop(32, padding=4) -> RandomHorizontalFlip()
-> ToDtype(float32, scale=True) -> Normalize(CIFAR-10 mean/std) -> batch of 128

Prints images/s on one thread (torch.set_num_threads(1), transforms in the main process) and on
all cores (torch.utils.data.DataLoader with one worker process per core), the same two figures
the Rust benchmark reports. Needs `pip install torch torchvision numpy`.

Usage: python bench/torchvision_transforms.py [--images 5120] [--repeats 5]
"""

import argparse
import os
import time

import numpy as np
import torch
import torch.utils.data
from torchvision.transforms import v2

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
RECORD = 1 + 3 * 32 * 32


class CifarBinary(torch.utils.data.Dataset):
    """Records of a CIFAR-10 binary file held in memory, decoded on access like the Rust reader."""

    def __init__(self, raw: bytes, transform):
        self.raw = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD)
        self.transform = transform

    def __len__(self):
        return len(self.raw)

    def __getitem__(self, i):
        rec = self.raw[i]
        img = torch.from_numpy(rec[1:].reshape(3, 32, 32).copy())  # planar RGB, uint8
        return self.transform(img), int(rec[0])


def pipeline():
    return v2.Compose([
        v2.RandomCrop(32, padding=4),
        v2.RandomHorizontalFlip(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(MEAN, STD),
    ])


def one_thread(ds, batch):
    n = 0
    for start in range(0, len(ds), batch):
        items = [ds[i] for i in range(start, min(start + batch, len(ds)))]
        images = torch.stack([x for x, _ in items])
        labels = torch.tensor([y for _, y in items])
        n += images.shape[0] + 0 * labels.shape[0]
    return n


def all_cores(loader):
    return sum(images.shape[0] for images, _ in loader)


def best_rate(fn, images, repeats):
    fn()  # warm-up (and worker start-up for the DataLoader)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        assert fn() == images
        best = min(best, time.perf_counter() - t)
    return images / best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5120)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(args.images, RECORD), dtype=np.uint8)
    raw[:, 0] = np.arange(args.images) % 10
    ds = CifarBinary(raw.tobytes(), pipeline())

    torch.set_num_threads(1)
    single = best_rate(lambda: one_thread(ds, 128), args.images, args.repeats)

    cores = os.cpu_count() or 1
    loader = torch.utils.data.DataLoader(ds, batch_size=128, shuffle=True, num_workers=cores,
                                         persistent_workers=True)
    multi = best_rate(lambda: all_cores(loader), args.images, args.repeats)

    print(f"torch {torch.__version__}, torchvision {__import__('torchvision').__version__}")
    print(f"cifar_pipeline/1_thread: {single:,.0f} images/s")
    print(f"cifar_pipeline/{cores}_workers: {multi:,.0f} images/s")


if __name__ == "__main__":
    main()
