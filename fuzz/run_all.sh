#!/usr/bin/env bash
# Runs the fuzz targets (default: all) for SECONDS (default 300; the weights target twice as
# long), JOBS at a time (default 2), from the committed seeds (crates/zoo-fuzz/corpus/<target>) into a working
# corpus (fuzz/corpus/<target>), with the dictionaries in fuzz/dict, and prints one line per
# target: runs, coverage, features, crashes. Crashing inputs land in fuzz/artifacts/<target>/;
# minimise one (`cargo +nightly fuzz tmin TARGET FILE`) and commit it to the seeds so that
# `cargo test` replays it.
#
# Usage: fuzz/run_all.sh [SECONDS] [JOBS] [TARGET...]
# Needs the nightly toolchain and cargo-fuzz: cargo install cargo-fuzz
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-300}
jobs=${2:-2}
targets=(idx idx_gz cifar image npy weights recipe run_config)
if [ $# -gt 2 ]; then
    targets=("${@:3}")
fi
declare -A dict=([idx]=idx [idx_gz]=idx [cifar]=idx [image]=idx [npy]=npy [weights]=weights [recipe]=json [run_config]=json)

cargo +nightly fuzz build -s none
mkdir -p logs
for target in "${targets[@]}"; do
    time=$seconds
    [ "$target" = weights ] && time=$((seconds * 2))
    mkdir -p "corpus/$target"
    echo "$target $time ${dict[$target]}"
done | xargs -P "$jobs" -L 1 bash -c '
    target=$0 time=$1 dict=$2
    cargo +nightly fuzz run -s none "$target" "corpus/$target" "../crates/zoo-fuzz/corpus/$target" -- \
        -max_total_time="$time" -dict="dict/$dict.dict" -timeout=20 -rss_limit_mb=4096 \
        -print_final_stats=1 >"logs/$target.log" 2>&1 || echo "$target: stopped on a crash (logs/$target.log)"
'
for target in "${targets[@]}"; do
    log="logs/$target.log"
    runs=$(grep -o "stat::number_of_executed_units: *[0-9]*" "$log" | grep -o "[0-9]*$" || echo "?")
    cov=$(grep -o "cov: [0-9]*" "$log" | tail -1 | grep -o "[0-9]*" || echo "?")
    ft=$(grep -o "ft: [0-9]*" "$log" | tail -1 | grep -o "[0-9]*" || echo "?")
    crashes=$(find "artifacts/$target" -type f 2>/dev/null | wc -l)
    echo "$target: $runs runs, coverage $cov edges, $ft features, $crashes crashing inputs"
done
