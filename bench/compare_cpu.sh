#!/usr/bin/env bash
# Burn against PyTorch on this machine's CPU, side by side in one run: the PyTorch baseline first,
# then `zoo bench --compare` on the same models, batch sizes and modes, with the same thread count.
#
# Usage: bench/compare_cpu.sh OUT_DIR [zoo bench options...]
#   PYTHON   Python with torch and torchvision (default: python3)
#   ZOO      the zoo binary (default: target/debug/zoo; build it with `cargo build`)
#   MODELS, BATCH_SIZES, MODE, WARMUP, ITERS, BACKENDS   what to run (defaults below)
#
# Writes OUT_DIR/pytorch.json, and OUT_DIR/burn.{txt,json,png}: the table with ratio columns,
# the report with `vs_pytorch` ratios, and the grouped-bar chart.
set -euo pipefail

out=${1:?usage: bench/compare_cpu.sh OUT_DIR [zoo bench options...]}
shift
python=${PYTHON:-python3}
zoo=${ZOO:-target/debug/zoo}
models=${MODELS:-lenet5,resnet20}
batch_sizes=${BATCH_SIZES:-1,32,128}
mode=${MODE:-both}
warmup=${WARMUP:-3}
iters=${ITERS:-10}
backends=${BACKENDS:-flex,ndarray}
# Both frameworks get every core: rayon (flex, ndarray) uses one thread per core by default.
threads=$(nproc)

mkdir -p "$out"
"$python" "$(dirname "$0")/pytorch_baseline.py" --models "$models" --batch-sizes "$batch_sizes" \
    --mode "$mode" --warmup "$warmup" --iters "$iters" --threads "$threads" --out "$out/pytorch.json"
"$zoo" bench --models "$models" --backends "$backends" --batch-sizes "$batch_sizes" --mode "$mode" \
    --warmup "$warmup" --iters "$iters" --compare "$out/pytorch.json" --out "$out/burn.txt" "$@"
