#!/usr/bin/env python3
"""Writes PyTorch parity fixtures for the zoo's models: weights, an input batch, and the logits
PyTorch computes for them in eval mode. The Rust test `models/tests/parity.rs` loads the weights into the
zoo's model, runs the same input on flex and compares.

Needs torch and torchvision (`pip install torch torchvision safetensors`); CI never runs this.
The small fixtures committed in models/tests/fixtures/parity were written by

    python scripts/make_parity_fixtures.py --models lenet5 --formats pth,legacy,safetensors
    python scripts/make_parity_fixtures.py --models resnet20,resnet32

(the second stays under 2 MB a model with the zip format only).

`scripts/parity.sh` calls it for the large torchvision models, into target/parity.

Per model, in OUT/<model>/:
  weights.pth               the state dict, torch.save's zip format
  weights-legacy.pth        (--formats legacy) the same, in the pre-1.6 legacy format
  weights.safetensors       (--formats safetensors) the same, as safetensors
  weights-legacy-keys.pth   (DenseNets) the same with pre-0.4 key names (`norm.1.weight`)
  input.npy                 float32 [batch, C, H, W], standard normal
  logits.npy                float32 [batch, classes], model.eval()(input)
  meta.json                 model, shapes, versions, the largest |logit|

The models are randomly initialised as torchvision (or bench/reference_models.py) does, then every
BatchNorm's running statistics, weight and bias are drawn at random too: fresh ones are the identity,
which would let a loader that drops or swaps them pass.

`--check-export MODEL FILE DIR` is the other direction: it loads FILE (a safetensors file written by
`zoo export`) into the PyTorch model with `load_state_dict(strict=True)`, runs DIR's input.npy and
prints the largest difference to DIR's logits.npy as JSON.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import reference_models  # noqa: E402  (the zoo's models in PyTorch, with the Rust key names)


def randomize_batch_norms(model, generator, input_shape):
    """BatchNorm statistics measured on random batches, and random affine parameters, so every
    BatchNorm changes its input: fresh ones are the identity, which would let a loader that drops
    or swaps them pass. Measured statistics (rather than random ones) keep the activations, and so
    the logits, of order 1 however deep the network is."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    if not norms:
        return
    for m in norms:
        m.momentum = None  # a cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, *input_shape, generator=generator))
        for m in norms:
            c = m.num_features
            m.momentum = 0.1
            m.weight.copy_(0.75 + 0.5 * torch.rand(c, generator=generator))
            m.bias.copy_(0.1 * torch.randn(c, generator=generator))
    model.eval()


def make(name, out_dir, batch, seed, formats):
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    # With GoogLeNet's auxiliary classifiers, as torchvision's published weights have them: the
    # zoo's default googlenet (without them) must skip them when it loads.
    model = reference_models.create(name, aux_logits=True if name == "googlenet" else None)
    (c, h, w), classes = reference_models.DEFAULTS[name]
    randomize_batch_norms(model, generator, (c, h, w))
    model.eval()
    x = torch.randn(batch, c, h, w, generator=generator)
    with torch.no_grad():
        logits = model(x)
        # Keep the logits of order 1, where the absolute tolerance of 1e-4 means what it says:
        # randomly initialised heads give 0.01-0.1 (AlexNet, LeNet-5), and the running averages
        # measured above drift to ~10-100 through the deep ResNets. Scale the last layer.
        largest = float(logits.abs().max())
        if largest < 1.0 or largest > 4.0:
            head = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
            head.weight.mul_(1.0 / largest)
            head.bias.mul_(1.0 / largest)
            logits = model(x)
    assert logits.shape == (batch, classes), logits.shape

    os.makedirs(out_dir, exist_ok=True)
    state = model.state_dict()
    files = []
    for fmt in formats:
        file = FORMAT_FILES[fmt]
        if fmt == "pth":
            torch.save(state, os.path.join(out_dir, file))
        elif fmt == "legacy":
            torch.save(state, os.path.join(out_dir, file), _use_new_zipfile_serialization=False)
        elif fmt == "legacy_keys":
            torch.save(pre_0_4_densenet_keys(state), os.path.join(out_dir, file))
        else:
            from safetensors.torch import save_file

            save_file({k: v.contiguous() for k, v in state.items()}, os.path.join(out_dir, file))
        files.append(file)
    np.save(os.path.join(out_dir, "input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(out_dir, "logits.npy"), logits.numpy().astype(np.float32))
    meta = {
        "model": name,
        "weights": files,
        "input_shape": list(x.shape),
        "logits_shape": list(logits.shape),
        "max_abs_logit": float(logits.abs().max()),
        "seed": seed,
        "torch": torch.__version__,
        "torchvision": _torchvision_version(),
        "keys": len(state),
    }
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    sizes = sum(os.path.getsize(os.path.join(out_dir, n)) for n in os.listdir(out_dir))
    print(f"{name}: {len(state)} keys, max |logit| {meta['max_abs_logit']:.3g}, {sizes / 1e6:.2f} MB in {out_dir}")


FORMAT_FILES = {
    "pth": "weights.pth",
    "legacy": "weights-legacy.pth",
    "safetensors": "weights.safetensors",
    "legacy_keys": "weights-legacy-keys.pth",
}


def pre_0_4_densenet_keys(state):
    """The state dict as DenseNet checkpoints saved before PyTorch 0.4 name it: `norm.1`,
    `relu.1`, `conv.1` for `norm1`, ... (the keys torchvision's `_load_state_dict` renames)."""
    import re

    pattern = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))([12])\.(weight|bias|running_mean|running_var)$")
    renamed = {pattern.sub(r"\1.\2.\3", k): v for k, v in state.items()}
    assert any(".norm.1." in k for k in renamed), "not a DenseNet state dict"
    return renamed


def _torchvision_version():
    try:
        import torchvision

        return torchvision.__version__
    except ImportError:
        return None


def check_export(name, file, fixture_dir):
    from safetensors.torch import load_file

    model = reference_models.create(name)
    state = load_file(file)
    expected_keys = set(model.state_dict())
    model.load_state_dict(state, strict=True)  # raises on any missing or unexpected key
    model.eval()
    x = torch.from_numpy(np.load(os.path.join(fixture_dir, "input.npy")))
    reference = torch.from_numpy(np.load(os.path.join(fixture_dir, "logits.npy")))
    with torch.no_grad():
        logits = model(x)
    result = {
        "model": name,
        "strict_load": True,
        "same_key_set": set(state) == expected_keys,
        "max_abs_diff": float((logits - reference).abs().max()),
        "max_abs_logit": float(reference.abs().max()),
    }
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="lenet5,resnet20,resnet32", help="comma-separated names or globs")
    parser.add_argument("--out", default="models/tests/fixtures/parity", help="directory; one sub-directory per model")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--formats",
        default="pth",
        help="comma-separated weight files to write: pth (zip), legacy, safetensors; "
        "DenseNets also get legacy_keys (pre-0.4 `norm.1` key names) with pth",
    )
    parser.add_argument("--check-export", nargs=3, metavar=("MODEL", "FILE", "FIXTURE_DIR"))
    args = parser.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if args.check_export:
        check_export(*args.check_export)
        return
    for name in reference_models.list_models(args.models):
        formats = [f.strip() for f in args.formats.split(",") if f.strip()]
        if name.startswith("densenet") and "pth" in formats:
            formats.append("legacy_keys")
        unknown = [f for f in formats if f not in FORMAT_FILES]
        if unknown or not formats:
            parser.error(f"--formats: unknown {', '.join(unknown) or '(none given)'}; use {', '.join(FORMAT_FILES)}")
        make(name, os.path.join(args.out, name), args.batch, args.seed, formats)


if __name__ == "__main__":
    main()
