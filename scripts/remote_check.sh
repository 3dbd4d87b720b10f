#!/usr/bin/env bash
# The `remote` feature end to end over loopback: builds `zoo` with it, serves flex devices with
# `zoo serve`, and checks that
#   1. one epoch of LeNet-5 trained on the server (--backend remote:ws://...) writes the metrics a
#      local run writes (both with Burn's own operations: the zoo's CPU kernels are local only);
#   2. eval, infer and bench run on the server too;
#   3. a server that goes away mid-run ends the client with one error line, and the run resumes
#      from its last checkpoint once a server is back;
#   4. --devices over two servers trains (or is refused in one line);
#   5. an unreachable server is one error line.
# Not in CI: the feature adds burn-remote with iroh, tokio and rustls (about 180 crates), and a
# second build of Burn with it. Usage: bash scripts/remote_check.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/burn-zoo/target}"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"

cargo build -p zoo-cli --features remote
# A copy: the next default build writes the same path.
cp "$CARGO_TARGET_DIR/debug/zoo" "$work/zoo-remote"
zoo="$work/zoo-remote"

servers=()
cleanup() { for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# Starts `zoo serve` on PORT (0: any) in the background; sets `served_port` and `served_pid`.
serve() {
    local log="$work/serve-$RANDOM.log"
    "$zoo" serve --backend flex --port "$1" >"$log" 2>&1 &
    served_pid=$!
    servers+=("$served_pid")
    for _ in $(seq 300); do
        if grep -q '^serving' "$log"; then
            served_port=$(sed -n 's/.*ws:\/\/0\.0\.0\.0:\([0-9]*\).*/\1/p' "$log" | head -1)
            return
        fi
        sleep 0.1
    done
    echo "zoo serve did not start: $(cat "$log")" >&2
    exit 1
}

fail() { echo "FAIL: $*" >&2; exit 1; }
# metrics.csv without its two timing columns.
computed() { cut -d, -f1-6 "$1/metrics.csv"; }
small=(lenet5 --epochs 1 --batch-size 64 --seed 4 --set train_limit=1024 --set test_limit=256)

echo "== 1. one epoch on the server equals one epoch here"
serve 0
remote="remote:ws://127.0.0.1:$served_port"
ZOO_KERNELS=burn "$zoo" train "${small[@]}" --out "$work/local" | tail -1
"$zoo" train "${small[@]}" --backend "$remote" --out "$work/remote" | tail -1
diff <(computed "$work/local") <(computed "$work/remote") || fail "the remote run's metrics differ"
grep -q "\"backend\": \"$remote\"" "$work/remote/config.json" || fail "config.json does not record the server"
echo "metrics.csv equal (loss, top-1, top-5, lr):"
computed "$work/remote"

echo "== 2. eval, infer and bench on the server"
"$zoo" eval "$work/remote" --backend "$remote" | tail -2
# A 4x1x32x32 float32 .npy written without numpy: the format is a short header and the raw values.
python3 - "$work/x.npy" <<'PY'
import random, struct, sys
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 1, 32, 32), }"
header += " " * (63 - (10 + len(header)) % 64) + "\n"
values = [random.Random(0).gauss(0, 1) for _ in range(4 * 32 * 32)]
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + struct.pack(f"<{len(values)}f", *values))
PY
"$zoo" infer lenet5 --weights "$work/remote/model.bpk" --classes 10 --input "$work/x.npy" --output "$work/y-remote.npy" --backend "$remote"
ZOO_KERNELS=burn "$zoo" infer lenet5 --weights "$work/remote/model.bpk" --classes 10 --input "$work/x.npy" --output "$work/y-local.npy"
cmp "$work/y-remote.npy" "$work/y-local.npy" || fail "infer: the server's logits differ from the local ones"
echo "infer: the server's logits equal the local ones"
"$zoo" bench --models lenet5 --backends "flex,$remote" --batch-sizes 32 --mode train --warmup 2 --iters 5 --kernels burn

echo "== 3. the server goes away mid-run; the run resumes"
serve 0
port=$served_port
remote="remote:ws://127.0.0.1:$port"
victim=$served_pid
"$zoo" train lenet5 --epochs 3 --batch-size 64 --seed 4 --set train_limit=4096 --set test_limit=256 \
    --backend "$remote" --out "$work/cut" >"$work/cut.out" 2>"$work/cut.err" &
client=$!
for _ in $(seq 3000); do [ -f "$work/cut/checkpoint/model-1.bpk" ] && break; sleep 0.1; done
[ -f "$work/cut/checkpoint/model-1.bpk" ] || fail "no checkpoint"
sleep 0.5
kill -9 "$victim"
status=0
wait "$client" || status=$?
[ "$status" -ne 0 ] || fail "the client did not fail when its server went away"
echo "client exit $status, stderr:"
cat "$work/cut.err"
[ "$(wc -l <"$work/cut.err")" -eq 1 ] || fail "the error is not one line"
serve "$port"
"$zoo" train --resume "$work/cut" | tail -1
[ "$(cut -d, -f1,2 "$work/cut/metrics.csv" | tr '\n' ' ')" = "epoch,split 1,train 1,valid 2,train 2,valid 3,train 3,valid " ] \
    || fail "metrics.csv has gaps: $(cat "$work/cut/metrics.csv")"

echo "== 4. --devices over two servers"
serve 0
first=$served_port
serve 0
second=$served_port
if "$zoo" train "${small[@]}" --backend "remote:ws://127.0.0.1:$first" \
    --devices "remote:ws://127.0.0.1:$first,remote:ws://127.0.0.1:$second" --out "$work/two" >"$work/two.out" 2>"$work/two.err"; then
    tail -1 "$work/two.out"
else
    echo "refused: $(cat "$work/two.err")"
    [ "$(wc -l <"$work/two.err")" -eq 1 ] || fail "the refusal is not one line"
fi

echo "== 5. an unreachable server"
if "$zoo" train "${small[@]}" --backend remote:ws://127.0.0.1:9 --out "$work/none" 2>"$work/none.err"; then
    fail "trained on a server that does not exist"
fi
cat "$work/none.err"
[ "$(wc -l <"$work/none.err")" -eq 1 ] || fail "the error is not one line"
[ ! -e "$work/none/config.json" ] || fail "a run directory was left behind"

echo "remote check passed ($work)"
