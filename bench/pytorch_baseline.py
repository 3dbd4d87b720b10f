#!/usr/bin/env python3
"""The PyTorch side of `zoo bench`: inference and training throughput of the zoo's models.

For every model x batch size x mode it builds the model (bench/reference_models.py: torchvision's
own modules where torchvision has the model, definitions with the Rust key names otherwise), feeds
a seeded random-normal batch (and random labels), runs `--warmup` untimed iterations and then
`--iters` timed ones, and reports MEDIAN per-iteration times, in the spirit of timm's
benchmark.py:

  infer  model.eval() under torch.inference_mode(); one forward per iteration.
  train  model.train(), SGD(lr=0.01, momentum=0.9); each iteration times separately the forward
         including the cross-entropy loss, loss.backward(), and opt.step() + zero_grad.

These are the phases and the JSON schema ("burn-zoo-bench/1") that `zoo bench` writes, so the two
files can be compared row by row. ms_per_step is the median of the per-iteration totals (not the
sum of the per-phase medians); GFLOP/s counts 2 FLOPs per multiply-accumulate of convolutions and
linear layers only (torchvision's convention), times 3 for a training step (forward + the two
backward products). On CUDA every phase is bracketed by torch.cuda.synchronize() and the peak
allocated memory is reported. A case that fails (out of memory, an input too small for the model)
is recorded with its error and the run goes on.

Needs `pip install torch torchvision`.

Usage:
  python bench/pytorch_baseline.py [--models lenet5,resnet2?] [--batch-sizes 1,32,128]
      [--mode infer|train|both] [--input CxHxW] [--warmup 5] [--iters 20] [--threads N]
      [--device cpu|cuda] [--out FILE.json]
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_models  # noqa: E402  (lives next to this script)

SCHEMA = "burn-zoo-bench/1"
SEED = 0


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="lenet5,resnet20",
                   help="comma-separated names or fnmatch globs (`*` for every model)")
    p.add_argument("--batch-sizes", default="1,32,128")
    p.add_argument("--mode", choices=("infer", "train", "both"), default="both")
    p.add_argument("--input", help="CxHxW; default: each model's own input")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--out", help="write the results as JSON to this file")
    args = p.parse_args()
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    if args.input:
        args.input = tuple(int(d) for d in args.input.lower().split("x"))
        if len(args.input) != 3:
            p.error("--input must be CxHxW")
    if args.iters < 1 or args.warmup < 0:
        p.error("--iters must be at least 1 and --warmup at least 0")
    try:
        args.models = reference_models.list_models(args.models)
    except ValueError as e:
        p.error(str(e))
    return args


def _cpu_jiffies():
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


class ContentionMonitor:
    """Measures how much CPU other processes use while we run. CPU timings are meaningless then:
    OpenMP threads spin at barriers, so one competing process can slow a 2-thread run several
    times over. Linux only; elsewhere it stays silent."""

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            busy, total = _cpu_jiffies()
        except (OSError, ValueError, IndexError):
            return None
        t = os.times()
        return busy, total, t.user + t.system

    def others_share(self):
        """Fraction of the machine's CPU time since the last call used by other processes."""
        now = self._sample()
        if now is None or self.start is None:
            return None
        (busy0, total0, own0), (busy1, total1, own1) = self.start, now
        self.start = now
        hz = os.sysconf("SC_CLK_TCK")
        others = (busy1 - busy0) / hz - (own1 - own0)
        return max(others, 0.0) / max((total1 - total0) / hz, 1e-9)

    def warn(self, when):
        share = self.others_share()
        if share is not None and share > 0.1:
            print(f"warning: other processes used {share:.0%} of the CPU {when}; CPU timings are skewed",
                  file=sys.stderr)


def warn_if_busy(window_s=1.0):
    """Samples the machine for `window_s` before a CPU benchmark and warns if it is not idle."""
    monitor = ContentionMonitor()
    time.sleep(window_s)
    monitor.warn("before the run")
    return monitor


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


class Timer:
    """Wall-clock seconds of a phase; on CUDA, waits for the queued kernels on both ends."""

    def __init__(self, cuda):
        self.cuda = cuda

    def now(self):
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()


def bench_infer(model, x, warmup, iters, timer):
    model.eval()
    times = []
    with torch.inference_mode():
        for i in range(warmup + iters):
            t0 = timer.now()
            model(x)
            t1 = timer.now()
            if i >= warmup:
                times.append(t1 - t0)
    return {"total": times, "forward": times}


# The zoo's weights of the auxiliary classifiers' losses (models/src/googlenet.rs, inception.rs).
AUX_LOSS_WEIGHTS = {"GoogLeNetOutputs": 0.3, "InceptionOutputs": 0.4}


def training_loss(out, y):
    """Cross-entropy, plus the weighted losses of GoogLeNet's and Inception v3's auxiliary
    classifiers when the model returns them (torchvision's namedtuples in train mode), as the
    zoo's training loop computes it."""
    if isinstance(out, tuple):
        weight = AUX_LOSS_WEIGHTS[type(out).__name__]
        aux = [a for name, a in out._asdict().items() if name != "logits" and a is not None]
        return F.cross_entropy(out.logits, y) + sum(weight * F.cross_entropy(a, y) for a in aux)
    return F.cross_entropy(out, y)


def bench_train(model, x, y, warmup, iters, timer):
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    phases = {"total": [], "forward": [], "backward": [], "step": []}
    for i in range(warmup + iters):
        t0 = timer.now()
        loss = training_loss(model(x), y)
        t1 = timer.now()
        loss.backward()
        t2 = timer.now()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t3 = timer.now()
        if i >= warmup:
            for key, dt in zip(phases, (t3 - t0, t1 - t0, t2 - t1, t3 - t2)):
                phases[key].append(dt)
    return phases


def run_case(name, mode, batch, args, device, device_label):
    row = {
        "model": name,
        "backend": f"pytorch-{device.type}",
        "device": device_label,
        "mode": mode,
        "batch_size": batch,
        "input": list(args.input or reference_models.DEFAULTS[name][0]),
        "params": None,
        "gmacs": None,
        "samples_per_s": None,
        "ms_per_step": None,
        "forward_ms": None,
        "backward_ms": None,
        "step_ms": None,
        "gflops": None,
        "peak_memory_mb": None,
        "error": None,
    }
    model = x = y = None
    try:
        torch.manual_seed(SEED)  # same weights, inputs and labels for every case of a model
        model = reference_models.create(name, in_channels=row["input"][0])
        num_classes = reference_models.DEFAULTS[name][1]
        row["params"] = reference_models.count_params(model)
        row["gmacs"] = reference_models.count_macs(model, row["input"]) / 1e9
        model.to(device)
        x = torch.randn(batch, *row["input"]).to(device)
        y = torch.randint(0, num_classes, (batch,)).to(device)
        timer = Timer(device.type == "cuda")
        if timer.cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        if mode == "infer":
            phases = bench_infer(model, x, args.warmup, args.iters, timer)
        else:
            phases = bench_train(model, x, y, args.warmup, args.iters, timer)
        if timer.cuda:
            row["peak_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        step_s = statistics.median(phases["total"])
        row["samples_per_s"] = batch / step_s
        row["ms_per_step"] = step_s * 1e3
        for key in ("forward", "backward", "step"):
            if key in phases:
                row[f"{key}_ms"] = statistics.median(phases[key]) * 1e3
        passes = 1 if mode == "infer" else 3
        row["gflops"] = 2 * row["gmacs"] * batch * passes / step_s
    except Exception as e:  # noqa: BLE001  (any failure is a result, e.g. CUDA out of memory)
        row["error"] = f"{type(e).__name__}: {e}".strip().splitlines()[0]
    finally:
        del model, x, y
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return row


def fmt(value, digits=1):
    return "-" if value is None else f"{value:,.{digits}f}"


def render_table(rows):
    headers = ["model", "mode", "batch", "samples/s", "ms/step", "fwd ms", "bwd ms", "step ms", "GFLOP/s"]
    lines = []
    for r in rows:
        if r["error"]:
            lines.append([r["model"], r["mode"], str(r["batch_size"]), f"error: {r['error']}"])
            continue
        lines.append([
            r["model"], r["mode"], str(r["batch_size"]), fmt(r["samples_per_s"]), fmt(r["ms_per_step"], 3),
            fmt(r["forward_ms"], 3), fmt(r["backward_ms"], 3), fmt(r["step_ms"], 3), fmt(r["gflops"], 2),
        ])
    full = [l for l in lines if len(l) == len(headers)]
    widths = [max(len(c) for c in col) for col in zip(headers, *full)]
    left = 2  # model and mode are left-aligned, numbers right-aligned

    def render(cells):
        out = [c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        out += cells[len(widths):]  # an error message runs past the columns
        return "  ".join(out).rstrip()

    return "\n".join([render(headers), render(["-" * w for w in widths])] + [render(l) for l in lines])


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    monitor = warn_if_busy() if args.device == "cpu" else None
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: torch sees no CUDA device")
    device = torch.device("cuda:0" if args.device == "cuda" else "cpu")
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    device_label = f"cuda:0 {gpu}" if gpu else "cpu"
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as timm's benchmark.py; warmup absorbs the search

    report = {
        "schema": SCHEMA,
        "framework": "pytorch",
        "framework_version": torch.__version__,
        "machine": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "os": platform.platform(),
            "gpu": gpu,
        },
        "settings": {"warmup": args.warmup, "iters": args.iters},
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rows": [],
    }
    modes = ["infer", "train"] if args.mode == "both" else [args.mode]
    cases = [(m, mode, b) for m in args.models for mode in modes for b in args.batch_sizes]
    t_start = time.perf_counter()
    for i, (name, mode, batch) in enumerate(cases, 1):
        row = run_case(name, mode, batch, args, device, device_label)
        report["rows"].append(row)
        status = f"error: {row['error']}" if row["error"] else (
            f"{row['samples_per_s']:,.1f} samples/s, {row['ms_per_step']:.3f} ms/step")
        print(f"[{i}/{len(cases)}] {name} {mode} batch {batch}: {status}", file=sys.stderr, flush=True)
        if args.out:  # rewritten after every case so an interrupted run keeps what it measured
            with open(args.out, "w") as f:
                json.dump(report, f, indent=2)
                f.write("\n")

    print(render_table(report["rows"]))
    if monitor:
        monitor.warn("during the run")
    failed = sum(1 for r in report["rows"] if r["error"])
    print(
        f"{len(cases)} cases ({failed} failed) in {time.perf_counter() - t_start:.1f} s on {device_label}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
        + (f"; wrote {args.out}" if args.out else ""),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
