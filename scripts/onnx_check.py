#!/usr/bin/env python3
"""ONNX export against the ONNX ecosystem's own tools, for every model at its full default input.

Per model (default: all of `zoo list`):
  1. PyTorch weights, an input batch and PyTorch's eval-mode logits, from
     scripts/make_parity_fixtures.py (torchvision's model where the name is torchvision's,
     bench/reference_models.py's otherwise; BatchNorm statistics randomised);
  2. `zoo export MODEL --weights weights.pth --out model.onnx` (which also runs the file with
     tract-onnx against Burn);
  3. `onnx.checker.check_model(full_check=True)`: the file is valid ONNX and its shapes infer;
  4. onnxruntime's logits for the batch against `zoo infer`'s (Burn on flex) and against PyTorch's.

Needs torch, torchvision, onnx and onnxruntime (`pip install torch torchvision onnx onnxruntime
safetensors`); CI never runs it. The Markdown table goes to stdout and OUT/onnx.md, the figures to
OUT/onnx.json.

    python scripts/onnx_check.py                    # every model, into target/onnx
    python scripts/onnx_check.py resnet18 vgg11_bn  # some of them
    ZOO="target/release/zoo" python scripts/onnx_check.py   # a built binary instead of cargo run
"""

import argparse
import fnmatch
import json
import os
import shlex
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_parity_fixtures  # noqa: E402


def zoo(*args):
    command = shlex.split(os.environ.get("ZOO", "cargo run -q --release --")) + list(args)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")
    return done.stdout.strip()


def registry():
    return [m["name"] for m in json.loads(zoo("list", "--format", "json"))]


def relative(a, b):
    scale = max(float(np.abs(b).max()), 1e-6)
    return float(np.abs(a - b).max()) / scale


def check(name, out_dir, opset):
    import onnx
    import onnxruntime

    fixture = os.path.join(out_dir, name)
    make_parity_fixtures.make(name, fixture, batch=2, seed=0, formats=["pth"])
    weights = os.path.join(fixture, "weights.pth")
    path = os.path.join(fixture, "model.onnx")
    started = time.time()
    export_line = zoo("export", name, "--weights", weights, "--out", path, "--opset", str(opset))
    export_seconds = time.time() - started
    onnx.checker.check_model(path, full_check=True)
    x = np.load(os.path.join(fixture, "input.npy"))
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    ort_logits = session.run(["logits"], {"input": x})[0]
    zoo_path = os.path.join(fixture, "zoo.npy")
    zoo("infer", name, "--weights", weights, "--input", os.path.join(fixture, "input.npy"), "--output", zoo_path)
    zoo_logits = np.load(zoo_path)
    torch_logits = np.load(os.path.join(fixture, "logits.npy"))
    return {
        "model": name,
        "opset": opset,
        "mb": os.path.getsize(path) / 1e6,
        "input": list(x.shape[1:]),
        "nodes": len(onnx.load(path, load_external_data=False).graph.node),
        "ort_vs_zoo": relative(ort_logits, zoo_logits),
        "ort_vs_pytorch": relative(ort_logits, torch_logits),
        "export_seconds": export_seconds,
        "tract": export_line.split("; ")[-1],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="registry names or globs (default: all)")
    parser.add_argument("--out", default="target/onnx")
    parser.add_argument("--opset", type=int, default=17)
    args = parser.parse_args()
    names = registry()
    if args.models:
        names = [n for n in names if any(fnmatch.fnmatch(n, p) for p in args.models)]
    rows, failures = [], 0
    for name in names:
        try:
            rows.append(check(name, args.out, args.opset))
        except Exception as error:  # one model's failure is a row, not the end of the run
            failures += 1
            rows.append({"model": name, "error": str(error).splitlines()[0]})
        print(json.dumps(rows[-1]), file=sys.stderr)
    lines = [
        "| model | input | nodes | file MB | onnxruntime vs zoo (flex) | onnxruntime vs PyTorch |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | error: {r['error']} | | | | |")
        else:
            shape = "x".join(map(str, r["input"]))
            lines.append(
                f"| {r['model']} | {shape} | {r['nodes']} | {r['mb']:.1f} | {r['ort_vs_zoo']:.1e} | {r['ort_vs_pytorch']:.1e} |"
            )
    table = "\n".join(lines)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "onnx.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(args.out, "onnx.json"), "w") as f:
        json.dump(rows, f, indent=2)
    print(table)
    worst = max((max(r["ort_vs_zoo"], r["ort_vs_pytorch"]) for r in rows if "error" not in r), default=0.0)
    print(f"{len(rows) - failures} of {len(rows)} models checked; largest difference {worst:.1e} of the logits' scale")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
