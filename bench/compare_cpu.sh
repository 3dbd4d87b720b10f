#!/usr/bin/env bash
# Burn against PyTorch on this machine's CPU, side by side in one run: the PyTorch baseline and
# `zoo bench` alternate REPEATS times on the same models, batch sizes and modes, with the same
# thread count, and the table shows the per-case medians of each side's repeats. On a machine
# whose speed drifts (a shared virtual machine), alternating keeps the ratios honest.
#
# Usage: bench/compare_cpu.sh OUT_DIR [zoo bench options...]
#   PYTHON   Python with torch and torchvision (default: python3)
#   ZOO      the zoo binary (default: target/debug/zoo; build it with `cargo build`)
#   MODELS, BATCH_SIZES, MODE, WARMUP, ITERS, BACKENDS, KERNELS, THREADS, REPEATS, INPUT
#            what to run (defaults below; KERNELS=burn,zoo times both implementations on flex;
#            INPUT=CxHxW gives every model that input on both sides, e.g. 3x64x64 for resnet18)
#
# Writes OUT_DIR/pytorch-N.json and OUT_DIR/burn-N.json for each repeat N, then
# OUT_DIR/burn.{txt,json,png}: the table of medians with ratio columns, the report with
# `vs_pytorch` ratios, and the grouped-bar chart.
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
kernels=${KERNELS:-}
input=${INPUT:-}
repeats=${REPEATS:-3}
# Both frameworks get the same threads: rayon (flex, ndarray) reads RAYON_NUM_THREADS.
threads=${THREADS:-$(nproc)}
export RAYON_NUM_THREADS=$threads

mkdir -p "$out"
kernel_args=()
[ -n "$kernels" ] && kernel_args=(--kernels "$kernels")
input_args=()
[ -n "$input" ] && input_args=(--input "$input")
pytorch_runs=()
burn_runs=()
for n in $(seq 1 "$repeats"); do
    echo "== repeat $n of $repeats" >&2
    "$python" "$(dirname "$0")/pytorch_baseline.py" --models "$models" --batch-sizes "$batch_sizes" \
        --mode "$mode" --warmup "$warmup" --iters "$iters" --threads "$threads" "${input_args[@]}" --out "$out/pytorch-$n.json"
    "$zoo" bench --models "$models" --backends "$backends" --batch-sizes "$batch_sizes" --mode "$mode" \
        --warmup "$warmup" --iters "$iters" "${kernel_args[@]}" "${input_args[@]}" --format json --out "$out/burn-$n.json" "$@" >/dev/null
    pytorch_runs+=("$out/pytorch-$n.json")
    burn_runs+=("$out/burn-$n.json")
done
join() { local IFS=,; echo "$*"; }
"$zoo" bench --report "$(join "${burn_runs[@]}")" --compare "$(join "${pytorch_runs[@]}")" --out "$out/burn.txt"
