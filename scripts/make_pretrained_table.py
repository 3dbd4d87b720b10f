#!/usr/bin/env python3
"""Generate the `--pretrained` weight table and the ImageNet-1k class names from torchvision.

Requires Python 3 and torchvision (any install will do; nothing is downloaded: only the
metadata of torchvision's `*_Weights` enums is read: `.url`, `.meta`, `.transforms`).

Run from the repository root:

    python scripts/make_pretrained_table.py

It rewrites these two files (do not edit them by hand):

    models/src/pretrained_table.rs   `TORCHVISION_WEIGHTS`, one entry per (model, tag)
    models/data/imagenet_classes.txt the 1000 class names, one per line, in class-index order

If `rustfmt` is on PATH the generated Rust file is formatted with `rustfmt --edition 2024`,
so re-running the script gives the same bytes.
"""

import math
import os
import re
import shutil
import subprocess
import sys
from urllib.parse import urlparse

import torchvision
from torchvision.models import get_model_weights

MODELS = [
    "alexnet",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "googlenet",
    "inception_v3",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
]

# torchvision's builders turn `transform_input` on when they load these weights (the original
# Google weights expect `(x - 0.5) / 0.5` input); checked against the builders' source below.
TRANSFORM_INPUT = {"googlenet", "inception_v3"}

# torch.hub's HASH_REGEX (torch/hub.py uses r"-([a-f0-9]*)\."), applied to the URL's file
# name: torch.hub checks that the downloaded file's SHA-256 starts with this group.
# `+` rather than `*` so that an empty match is an error here rather than "no check".
HASH_REGEX = re.compile(r"-([a-f0-9]+)\.")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE_PATH = os.path.join(REPO_ROOT, "models", "src", "pretrained_table.rs")
CLASSES_PATH = os.path.join(REPO_ROOT, "models", "data", "imagenet_classes.txt")

TV_VERSION = torchvision.__version__.split("+")[0]  # drop a local tag such as "+cu132"


def rust_str(s):
    """A Rust string literal for `s` (printable ASCII only, to keep the table plain)."""
    assert isinstance(s, str) and all(32 <= ord(c) < 127 for c in s), repr(s)
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rust_float(x):
    """A Rust float literal: Python's shortest round-trip repr, always with a `.` or exponent."""
    x = float(x)
    assert math.isfinite(x), x
    s = repr(x)
    if not any(c in s for c in ".eE"):
        s += ".0"
    return s


def rust_floats(xs):
    return "[" + ", ".join(rust_float(x) for x in xs) + "]"


def imagenet_acc(meta):
    """(acc@1, acc@5) on ImageNet-1K, or None when the weights publish no such accuracy."""
    m = meta.get("_metrics", {}).get("ImageNet-1K", {})
    a1, a5 = m.get("acc@1"), m.get("acc@5")
    if a1 is None or a5 is None or not (math.isfinite(a1) and math.isfinite(a5)):
        return None
    return a1, a5


def builder_sets_transform_input(name):
    import inspect

    source = inspect.getsource(getattr(torchvision.models, name))
    return '"transform_input", True' in source


def collect():
    entries = []
    skipped = []
    categories = None
    for name in MODELS:
        assert builder_sets_transform_input(name) == (name in TRANSFORM_INPUT), f"{name}: transform_input"
        enum = get_model_weights(name)
        default = getattr(enum, "DEFAULT", None)
        if default is None:
            raise SystemExit(f"{name}: {enum.__name__} has no DEFAULT")
        # Iterating an Enum yields each member once (the DEFAULT alias is not repeated).
        # Default tag first, then the others in the enum's own order.
        members = [default] + [w for w in enum if w is not default]
        model_entries = []
        for w in members:
            meta = w.meta
            acc = imagenet_acc(meta)
            # Only ImageNet-1k classifiers: skip tags without class names or without an
            # ImageNet-1K acc@1 (e.g. vgg16's IMAGENET1K_FEATURES: SSD backbone weights,
            # categories None, acc@1 NaN, and a different input scaling).
            if meta.get("categories") is None or acc is None:
                skipped.append((name, w.name))
                continue
            cats = list(meta["categories"])
            if categories is None:
                categories = cats
            assert cats == categories, f"{name}.{w.name}: categories differ"

            fname = os.path.basename(urlparse(w.url).path)
            h = HASH_REGEX.search(fname)
            assert h is not None, f"{name}.{w.name}: no hash in {fname}"

            t = w.transforms()
            for attr in ("resize_size", "crop_size", "mean", "std", "interpolation"):
                assert hasattr(t, attr), f"{name}.{w.name}: transforms lack {attr}"
            assert len(t.resize_size) == 1 and len(t.crop_size) == 1, (t.resize_size, t.crop_size)
            assert len(t.mean) == 3 and len(t.std) == 3, (t.mean, t.std)

            model_entries.append(
                dict(
                    model=name,
                    tag=w.name,
                    default=w is default,
                    url=w.url,
                    sha256_prefix=h.group(1),
                    file_size_mb=meta["_file_size"],
                    num_params=int(meta["num_params"]),
                    acc_top1=acc[0],
                    acc_top5=acc[1],
                    gflops=meta["_ops"],
                    recipe=meta["recipe"],
                    transform_input=name in TRANSFORM_INPUT,
                    resize=int(t.resize_size[0]),
                    crop=int(t.crop_size[0]),
                    interpolation=t.interpolation.value,
                    mean=list(t.mean),
                    std=list(t.std),
                )
            )
        defaults = [e for e in model_entries if e["default"]]
        if len(defaults) != 1:
            raise SystemExit(f"{name}: {len(defaults)} included defaults (the DEFAULT was skipped?)")
        entries.extend(model_entries)
    assert categories is not None and len(categories) == 1000, len(categories or [])
    return entries, skipped, categories


def render(entries):
    out = [
        f"// @generated by scripts/make_pretrained_table.py from torchvision {TV_VERSION}.",
        "// Do not edit by hand: re-run `python scripts/make_pretrained_table.py` from the repo root.",
        "//",
        "// Per entry: `url` is the weights' `.url`; `sha256_prefix` is the hex hash in the URL's file",
        "// name (torch.hub's HASH_REGEX), which torch.hub checks as a prefix of the file's SHA-256;",
        '// `file_size_mb` is meta["_file_size"], `num_params` meta["num_params"], `acc_top1`/`acc_top5`',
        '// meta["_metrics"]["ImageNet-1K"]["acc@1"/"acc@5"], `gflops` meta["_ops"], `recipe`',
        '// meta["recipe"]; `preprocess` is read from `.transforms()` (ImageClassification:',
        "// resize_size, crop_size, interpolation.value, mean, std); `transform_input` is whether",
        "// torchvision's builder turns that option on for the weights. Within a model the DEFAULT",
        "// tag comes first.",
        "",
        "use crate::pretrained::{Preprocess, PretrainedWeights};",
        "",
        f"/// torchvision's ImageNet-1k weight files, as published in torchvision {TV_VERSION}'s `*_Weights` enums.",
        "pub(crate) const TORCHVISION_WEIGHTS: &[PretrainedWeights] = &[",
    ]
    for e in entries:
        out += [
            "    PretrainedWeights {",
            f"        model: {rust_str(e['model'])},",
            f"        tag: {rust_str(e['tag'])},",
            f"        default: {'true' if e['default'] else 'false'},",
            f"        url: {rust_str(e['url'])},",
            f"        sha256_prefix: {rust_str(e['sha256_prefix'])},",
            f"        file_size_mb: {rust_float(e['file_size_mb'])},",
            f"        num_params: {e['num_params']},",
            f"        acc_top1: {rust_float(e['acc_top1'])},",
            f"        acc_top5: {rust_float(e['acc_top5'])},",
            f"        gflops: {rust_float(e['gflops'])},",
            f"        recipe: {rust_str(e['recipe'])},",
            f"        transform_input: {'true' if e['transform_input'] else 'false'},",
            "        preprocess: Preprocess {",
            f"            resize: {e['resize']},",
            f"            crop: {e['crop']},",
            f"            interpolation: {rust_str(e['interpolation'])},",
            f"            mean: {rust_floats(e['mean'])},",
            f"            std: {rust_floats(e['std'])},",
            "        },",
            "    },",
        ]
    out.append("];")
    return "\n".join(out) + "\n"


def main():
    entries, skipped, categories = collect()

    os.makedirs(os.path.dirname(TABLE_PATH), exist_ok=True)
    with open(TABLE_PATH, "w", encoding="utf-8", newline="\n") as f:
        f.write(render(entries))
    rustfmt = shutil.which("rustfmt")
    if rustfmt:
        subprocess.run([rustfmt, "--edition", "2024", TABLE_PATH], check=True)
    else:
        print("warning: rustfmt not found; models/src/pretrained_table.rs left unformatted", file=sys.stderr)

    for c in categories:
        assert c and "\n" not in c and c == c.strip(), repr(c)
    os.makedirs(os.path.dirname(CLASSES_PATH), exist_ok=True)
    with open(CLASSES_PATH, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(categories) + "\n")

    print(f"torchvision {torchvision.__version__}: {len(entries)} weights -> {os.path.relpath(TABLE_PATH, REPO_ROOT)}")
    print(f"{len(categories)} classes -> {os.path.relpath(CLASSES_PATH, REPO_ROOT)}")
    for model, tag in skipped:
        print(f"skipped {model}.{tag} (not an ImageNet-1k classifier)")
    print(f"{'model':<10} {'tag':<14} {'default':<7} {'acc@1':>7} {'acc@5':>7} {'MB':>8} {'resize':>6}")
    for e in entries:
        print(
            f"{e['model']:<10} {e['tag']:<14} {str(e['default']):<7} {e['acc_top1']:>7} "
            f"{e['acc_top5']:>7} {e['file_size_mb']:>8} {e['resize']:>6}"
        )


if __name__ == "__main__":
    main()
