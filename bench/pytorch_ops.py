#!/usr/bin/env python3
"""Single-op CPU timings in PyTorch for the layers that dominate LeNet-5 and the CIFAR ResNets.

Each op runs at batch 128 on the CPU: `--warmup` untimed calls, then the median of `--iters`
timed ones. Ops (shapes NxCxHxW):
  conv2d_3x3   C->C, 3x3, stride 1, padding 1, no bias, at 16x32x32, 32x16x16 and 64x8x8
               (the convolutions of the three CIFAR ResNet stages)
  batchnorm2d  training mode (batch statistics) at the same three shapes
  relu         at the same three shapes (forward only)
  lenet_conv1  1->6, 5x5, bias, on 1x32x32;  lenet_conv2  6->16, 5x5, bias, on 6x14x14
  max_pool_2x2 LeNet-5's 2x2/2 max pooling on 6x28x28 and 16x10x10
  linear       400->120 (LeNet's fc1)

"forward" runs under torch.no_grad(). "input_grad" and "weight_grad" (convolutions only) time one
backward product alone, `aten.convolution_backward` with an output mask asking for that gradient
only. "forward+backward" runs the forward with autograd and
then torch.autograd.grad of a fixed random output gradient with respect to the input and every
parameter, so a convolution does its three products (output, input gradient, weight gradient)
and GFLOP/s counts 3x the forward FLOPs (1x for the single products) (2 x N x Cout x Hout x Wout x Cin x k x k for a
convolution, 2 x N x in x out for a linear layer; none for BatchNorm and ReLU).

Needs `pip install torch`.

Usage: python bench/pytorch_ops.py [--threads 2] [--batch 128] [--warmup 5] [--iters 20] [--out FILE.json]
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_baseline import warn_if_busy  # noqa: E402  (lives next to this script)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--out", help="write the results as JSON to this file")
    return p.parse_args()


def median_ms(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def cases(n):
    """(op, module, input shape, forward MACs or None), all modules in training mode."""
    out = []
    stages = [(16, 32), (32, 16), (64, 8)]
    for c, hw in stages:
        conv = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        out.append(("conv2d_3x3", conv, (n, c, hw, hw), n * c * hw * hw * c * 9))
    for c, hw in stages:
        out.append(("batchnorm2d", nn.BatchNorm2d(c), (n, c, hw, hw), None))
    for c, hw in stages:
        out.append(("relu", nn.ReLU(), (n, c, hw, hw), None))
    out.append(("lenet_conv1", nn.Conv2d(1, 6, 5), (n, 1, 32, 32), n * 6 * 28 * 28 * 1 * 25))
    out.append(("lenet_conv2", nn.Conv2d(6, 16, 5), (n, 6, 14, 14), n * 16 * 10 * 10 * 6 * 25))
    out.append(("max_pool_2x2", nn.MaxPool2d(2, 2), (n, 6, 28, 28), None))
    out.append(("max_pool_2x2", nn.MaxPool2d(2, 2), (n, 16, 10, 10), None))
    out.append(("linear", nn.Linear(400, 120), (n, 400), n * 400 * 120))
    return out


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    monitor = warn_if_busy()
    rows = []
    for op, module, shape, macs in cases(args.batch):
        module.train()
        x = torch.randn(shape)
        passes = ["forward"] if op == "relu" else ["forward", "forward+backward"]
        if isinstance(module, nn.Conv2d):
            passes[1:1] = ["input_grad", "weight_grad"]
        for pass_name in passes:
            if pass_name == "forward":

                def step():
                    with torch.no_grad():
                        module(x)

                factor = 1
            elif pass_name in ("input_grad", "weight_grad"):
                grad_out = torch.randn_like(module(x).detach())
                mask = [pass_name == "input_grad", pass_name == "weight_grad", False]
                weight = module.weight.detach()

                def step():
                    torch.ops.aten.convolution_backward(
                        grad_out, x, weight, None, module.stride, module.padding, module.dilation,
                        False, [0, 0], module.groups, mask)

                factor = 1
            else:
                xg = x.clone().requires_grad_()
                params = [xg, *module.parameters()]
                # A fixed output gradient instead of .sum().backward() keeps a reduction out of
                # the timing; autograd.grad returns fresh gradients, so nothing accumulates.
                grad_out = torch.randn_like(module(x).detach())

                def step():
                    torch.autograd.grad(module(xg), params, grad_out)

                factor = 3
            ms = median_ms(step, args.warmup, args.iters)
            gflops = 2 * macs * factor / (ms * 1e6) if macs is not None else None
            rows.append({"op": op, "shape": "x".join(map(str, shape)), "pass": pass_name, "ms": ms, "gflops": gflops})

    headers = ["op", "shape", "pass", "ms", "GFLOP/s"]
    cells = [[r["op"], r["shape"], r["pass"], f"{r['ms']:.3f}", "-" if r["gflops"] is None else f"{r['gflops']:.2f}"]
             for r in rows]
    widths = [max(len(c) for c in col) for col in zip(headers, *cells)]
    for line in [headers, ["-" * w for w in widths], *cells]:
        print("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))))
    monitor.warn("during the run")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.iters} after {args.warmup} warmup")

    if args.out:
        with open(args.out, "w") as f:
            json.dump({"framework": "pytorch", "threads": torch.get_num_threads(), "rows": rows}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
