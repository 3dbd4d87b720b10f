#!/usr/bin/env python3
"""Per-operation profile of a `zoo bench` case on a CPU backend, from `perf` samples.

Runs `perf record --call-graph dwarf` on `zoo bench` (one model, one backend, one mode, one batch
size), then attributes every sample to the innermost backend kernel on its stack: a function of
`burn_flex::ops::<module>` / `burn_ndarray::ops::<module>` (convolution, transposed convolution,
pooling, binary, unary, reduce, ...), one of the zoo's own kernels (`zoo_kernels::cpu::*`), a
layout copy, the GEMM library, or the allocator. Samples in
the warm-up and the timed iterations are both counted, so run with few iterations; the model
build and input generation are a small constant.

Needs Linux `perf` (Debian: linux-perf) and a built `zoo` binary; no Python packages.

Usage:
  python3 bench/profile_ops.py --zoo target/debug/zoo --model resnet20 --backend flex \
      --mode train --batch-size 128 [--input CxHxW] [--iters 3] [--top 25] [--json out.json]
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

# Innermost frames that name what the time is spent on, most specific first.
KERNEL_PATTERNS = [
    # The zoo's kernel drivers (their SIMD inner loops are charged to the driver that called them).
    # A convolution's pass is named by its driver anywhere on the stack: the forward pass and the
    # input gradient share their inner loops (grid_sum).
    (re.compile(r"zoo_kernels::cpu::conv::(forward|input_grad|weight_grad)"), lambda m: f"zoo::conv::{m.group(1)}"),
    (re.compile(r"zoo_kernels::cpu::(conv|batch_norm|pool)::([a-z0-9_]+)"), lambda m: f"zoo::{m.group(1)}::{m.group(2)}"),
    (re.compile(r"zoo_kernels::"), lambda m: "zoo::other"),
    (re.compile(r"burn_(flex|ndarray)::ops::([a-z0-9_]+)::([a-zA-Z0-9_]+)"), lambda m: f"{m.group(2)}::{m.group(3)}"),
    (re.compile(r"burn_(flex|ndarray)::([a-z0-9_]+)::([a-zA-Z0-9_]+)"), lambda m: f"{m.group(2)}::{m.group(3)}"),
    (re.compile(r"burn_autodiff::([a-z0-9_:]+)"), lambda m: f"autodiff::{m.group(1).split('::')[-1]}"),
    (re.compile(r"burn_optim::([a-z0-9_:]+)"), lambda m: f"optim::{m.group(1).split('::')[-1]}"),
    (re.compile(r"matrixmultiply::|ndarray::linalg"), lambda m: "matrixmultiply (ndarray GEMM)"),
    (re.compile(r"gemm(_f32|_common)?::"), lambda m: "gemm crate (outside a burn frame)"),
    (re.compile(r"__memset|__memmove|__memcpy"), lambda m: "libc memset/memcpy"),
    (re.compile(r"malloc|free|PeakAlloc|page_fault|clear_page"), lambda m: "allocation / page faults"),
]

# Coarser groups for the summary table.
GROUPS = [
    (re.compile(r"^zoo::conv::input_grad"), "zoo conv input gradient"),
    (re.compile(r"^zoo::conv::weight_grad"), "zoo conv weight gradient"),
    (re.compile(r"^zoo::conv"), "zoo conv forward"),
    (re.compile(r"^zoo::batch_norm"), "zoo BatchNorm (+ ReLU, + residual)"),
    (re.compile(r"^zoo::pool"), "zoo pooling"),
    (re.compile(r"^zoo::"), "zoo kernels (other)"),
    (re.compile(r"conv_transpose"), "conv backward w.r.t. input (transposed conv)"),
    (re.compile(r"^conv::.*(weight|backward)"), "conv backward w.r.t. weight"),
    (re.compile(r"^conv::"), "conv (im2col + GEMM: forward, and weight gradients)"),
    (re.compile(r"deform|pool"), "pooling"),
    (re.compile(r"matmul|gemm|matrixmultiply"), "matmul / GEMM (other)"),
    (re.compile(r"copy|layout|permute|transpose|slice|cat|reshape|expand"), "layout copies (permute, slice, cat, pad)"),
    (re.compile(r"reduce|sum|mean|max|argmax|var"), "reductions (BatchNorm statistics, pooling, loss)"),
    (re.compile(r"binary|zip|unary|activation|relu|scalar|clamp|mask|cmp|compare|exp|log|powf|sqrt"), "element-wise (BatchNorm apply, ReLU, add, SGD)"),
    (re.compile(r"alloc|memset|memcpy"), "allocation and memset"),
    (re.compile(r"autodiff|optim"), "autodiff / optimizer bookkeeping"),
]


def classify(frames):
    # Pattern by pattern, each over the whole stack from the leaf: a GEMM or memset called by a
    # backend kernel is charged to that kernel, not to the library it called.
    for pattern, name in KERNEL_PATTERNS:
        for frame in frames:
            m = pattern.search(frame)
            if m:
                return name(m)
    return "other"


def group_of(kernel):
    for pattern, name in GROUPS:
        if pattern.search(kernel):
            return name
    return "other"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zoo", default="target/debug/zoo")
    ap.add_argument("--model", default="resnet20")
    ap.add_argument("--backend", default="flex")
    ap.add_argument("--mode", default="train", choices=["infer", "train"])
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--input", help="CxHxW, passed to zoo bench; default: the model's own input")
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--frequency", type=int, default=199, help="samples per second per CPU")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--json", help="write the profile here")
    ap.add_argument("--from-script", help="classify this saved `perf script` output instead of recording")
    args = ap.parse_args()

    if args.from_script:
        with open(args.from_script, errors="replace") as f:
            report(f.read(), args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "perf.data")
        cmd = [
            "perf", "record", "-q", "-F", str(args.frequency), "--call-graph", "dwarf,16384", "-o", data,
            args.zoo, "bench", "--models", args.model, "--backends", args.backend, "--mode", args.mode,
            "--batch-sizes", str(args.batch_size), "--warmup", "1", "--iters", str(args.iters),
        ] + (["--input", args.input] if args.input else [])
        print("$", " ".join(cmd), file=sys.stderr)
        bench = subprocess.run(cmd, capture_output=True, text=True)
        if bench.returncode != 0:
            sys.exit(f"error: {' '.join(cmd[:2])} failed: {bench.stderr.strip().splitlines()[-1:]}")
        print(bench.stdout, file=sys.stderr)
        script = subprocess.run(["perf", "script", "-i", data], capture_output=True, text=True, errors="replace")
    report(script.stdout, args)


def report(script, args):
    """Classifies the samples of `perf script` output and prints (and saves) the profile."""
    kernels = collections.Counter()
    total = 0
    for block in script.split("\n\n"):
        lines = [l.strip() for l in block.strip().splitlines()]
        if len(lines) < 2:
            continue
        # Each frame line is "ADDR SYMBOL+OFFSET (DSO)"; keep the symbol.
        frames = [l.split(" ", 1)[1] if " " in l else l for l in lines[1:]]
        kernels[classify(frames)] += 1
        total += 1
    if total == 0:
        sys.exit("error: perf recorded no samples (is perf allowed here? try `perf stat true`)")

    groups = collections.Counter()
    for kernel, n in kernels.items():
        groups[group_of(kernel)] += n

    print(f"{args.model} {args.mode} batch {args.batch_size} on {args.backend}: {total} samples")
    print(f"\n{'share':>7}  operation group")
    for name, n in groups.most_common():
        print(f"{100 * n / total:6.1f}%  {name}")
    print(f"\n{'share':>7}  innermost backend function")
    for name, n in kernels.most_common(args.top):
        print(f"{100 * n / total:6.1f}%  {name}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({
                "model": args.model, "backend": args.backend, "mode": args.mode,
                "batch_size": args.batch_size, "samples": total,
                "groups": {k: v / total for k, v in groups.most_common()},
                "functions": {k: v / total for k, v in kernels.most_common()},
            }, f, indent=2)


if __name__ == "__main__":
    main()
