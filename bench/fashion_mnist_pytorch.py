#!/usr/bin/env python3
"""Train a zoo recipe on Fashion-MNIST in PyTorch, for the README's side-by-side table.

Reads the recipe's JSON (recipes/<name>.json) and does what `zoo train --recipe <name>` does:
the same network (bench/reference_models.py, torchvision-equal definitions), the same transforms
(pad, random crop with padding, horizontal flip, normalize), optimizer (SGD with PyTorch's own
semantics or Adam), per-iteration cosine schedule, epochs, batch size and seed, on the same
number of threads; then evaluates the test set. Writes a JSON result beside a one-line summary.

    python bench/fashion_mnist_pytorch.py lenet5-fashion-mnist --threads 2 --out result.json

The IDX files are read from --data-dir (default: /usr/share/datasets/fashion-mnist, where
Debian's dataset-fashion-mnist package installs them). Progress goes to stderr each quarter epoch.
"""

import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_models  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(magic & 0xFF)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def find(data_dir, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(data_dir, name)
        if os.path.isfile(path):
            return path
    sys.exit(f"error: {os.path.join(data_dir, stem)}[.gz] not found (apt-get install dataset-fashion-mnist)")


def load_split(data_dir, prefix):
    images = read_idx(find(data_dir, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(find(data_dir, f"{prefix}-labels-idx1-ubyte"))
    return torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def apply_transforms(images, steps, generator, train):
    """The recipe's pipeline on a batch of [N, 1, H, W] images in [0, 1]."""
    for step in steps:
        kind = step["type"]
        if kind == "pad":
            images = F.pad(images, [step["padding"]] * 4)
        elif kind == "random_crop":
            pad = step.get("padding", 0)
            h, w = step["size"]
            padded = F.pad(images, [pad] * 4)
            out = torch.empty(images.shape[0], images.shape[1], h, w)
            tops = torch.randint(0, padded.shape[2] - h + 1, (images.shape[0],), generator=generator)
            lefts = torch.randint(0, padded.shape[3] - w + 1, (images.shape[0],), generator=generator)
            for i in range(images.shape[0]):
                out[i] = padded[i, :, tops[i] : tops[i] + h, lefts[i] : lefts[i] + w]
            images = out
        elif kind == "horizontal_flip":
            flip = torch.rand(images.shape[0], generator=generator) < step.get("p", 0.5)
            images = torch.where(flip[:, None, None, None], images.flip(3), images)
        elif kind == "normalize":
            mean = torch.tensor(step["mean"]).view(1, -1, 1, 1)
            std = torch.tensor(step["std"]).view(1, -1, 1, 1)
            images = (images - mean) / std
        else:
            sys.exit(f"error: transform {kind!r} is not reproduced by this script")
    return images


def make_optimizer(model, recipe):
    opt = recipe["optimizer"]
    if opt["name"] == "sgd":
        return torch.optim.SGD(
            model.parameters(),
            lr=recipe["lr"],
            momentum=opt.get("momentum", 0.0),
            dampening=opt.get("dampening", 0.0),
            nesterov=opt.get("nesterov", False),
            weight_decay=opt.get("weight_decay", 0.0),
        )
    if opt["name"] == "adam":
        return torch.optim.Adam(
            model.parameters(),
            lr=recipe["lr"],
            betas=tuple(opt.get("betas", (0.9, 0.999))),
            eps=opt.get("eps", 1e-8),
            weight_decay=opt.get("weight_decay", 0.0),
        )
    sys.exit(f"error: optimizer {opt['name']!r} is not reproduced by this script")


def cosine_lr(recipe, iteration, total):
    schedule = recipe["schedule"]
    if schedule["name"] != "cosine" or schedule.get("warmup", 0.0) != 0.0:
        sys.exit("error: only the cosine schedule without warm-up is reproduced by this script")
    low = schedule.get("min_lr", 0.0)
    return low + (recipe["lr"] - low) * 0.5 * (1.0 + math.cos(math.pi * min(iteration / max(total, 1), 1.0)))


def evaluate(model, images, labels, steps, batch):
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(images), batch):
            x = apply_transforms(images[start : start + batch], steps, None, False)
            correct += (model(x).argmax(1) == labels[start : start + batch]).sum().item()
    return 100.0 * correct / len(images)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", help="recipe name under recipes/ (e.g. lenet5-fashion-mnist)")
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs")
    parser.add_argument("--out", help="JSON result file")
    args = parser.parse_args()

    with open(os.path.join(ROOT, "recipes", args.recipe + ".json")) as f:
        recipe = json.load(f)
    epochs = args.epochs or recipe["epochs"]
    batch = recipe["batch_size"]
    torch.set_num_threads(args.threads)
    torch.manual_seed(recipe.get("seed", 0))
    generator = torch.Generator().manual_seed(recipe.get("seed", 0))

    started = time.time()
    train_x, train_y = load_split(args.data_dir, "train")
    test_x, test_y = load_split(args.data_dir, "t10k")
    model = reference_models.create(recipe["model"], num_classes=10, in_channels=recipe["channels"])
    optimizer = make_optimizer(model, recipe)
    per_epoch = math.ceil(len(train_x) / batch)
    total = per_epoch * epochs
    iteration = 0
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        epoch_start, loss_sum = time.time(), 0.0
        for b in range(per_epoch):
            index = order[b * batch : (b + 1) * batch]
            x = apply_transforms(train_x[index], recipe["train_transforms"], generator, True)
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(recipe, iteration, total)
            loss = F.cross_entropy(model(x), train_y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item()
            iteration += 1
            if (b + 1) % max(per_epoch // 4, 1) == 0:
                rate = (b + 1) * batch / (time.time() - epoch_start)
                print(f"epoch {epoch}/{epochs} {100 * (b + 1) // per_epoch:3d}% | loss {loss_sum / (b + 1):.4f} | {rate:.0f} img/s", file=sys.stderr)
        top1 = evaluate(model, test_x, test_y, recipe["eval_transforms"], 500)
        print(f"epoch {epoch}/{epochs} test top-1 {top1:.2f}%", file=sys.stderr)

    result = {
        "framework": f"pytorch {torch.__version__}",
        "recipe": args.recipe,
        "model": recipe["model"],
        "dataset": "fashion-mnist",
        "epochs": epochs,
        "test_top1": top1,
        "test_images": len(test_x),
        "threads": args.threads,
        "wall_seconds": time.time() - started,
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    print(f"{recipe['model']} on fashion-mnist (PyTorch): test top-1 {top1:.2f}% after {epochs} epochs, {result['wall_seconds']:.0f} s on {args.threads} threads")


if __name__ == "__main__":
    main()
