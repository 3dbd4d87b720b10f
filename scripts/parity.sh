#!/usr/bin/env bash
# Logits parity with PyTorch for the torchvision-named models, and the export round trip.
#
#   scripts/parity.sh                      # every torchvision-named model
#   scripts/parity.sh resnet18 vgg11_bn    # some of them (any registry name works)
#
# Needs torch, torchvision and safetensors in $PYTHON (default: python3). For each model it writes a
# randomly initialised PyTorch model's state dict, an input batch and PyTorch's eval-mode logits
# (scripts/make_parity_fixtures.py) under $PARITY_DIR (default target/parity), then runs the Rust
# parity test (models/tests/parity.rs) over them on flex: pass when max |Δlogit| <= 1e-4 x max(1, max |logit|).
# For resnet18 and vgg11_bn (when listed) it also exports the zoo's weights with `zoo export` and
# loads them back into torchvision with load_state_dict(strict=True), comparing the logits.
# The table goes to stdout and to $PARITY_DIR/parity.md; the fixtures of the big VGGs are ~0.5 GB.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
PARITY_DIR=${PARITY_DIR:-target/parity}
TORCHVISION_MODELS=(alexnet vgg11 vgg13 vgg16 vgg19 vgg11_bn vgg13_bn vgg16_bn vgg19_bn
                    resnet18 resnet34 resnet50 resnet101 resnet152
                    googlenet inception_v3 densenet121 densenet161 densenet169 densenet201)
ROUND_TRIP=(resnet18 vgg11_bn)
models=("$@")
[ ${#models[@]} -gt 0 ] || models=("${TORCHVISION_MODELS[@]}")

if ! "$PYTHON" -c "import torch, torchvision, safetensors" 2>/dev/null; then
    echo "error: $PYTHON cannot import torch, torchvision and safetensors; pip install torch torchvision safetensors (or set PYTHON)" >&2
    exit 1
fi
mkdir -p "$PARITY_DIR"
list=$(IFS=,; echo "${models[*]}")

echo "== fixtures: PyTorch weights, inputs and logits in $PARITY_DIR"
"$PYTHON" scripts/make_parity_fixtures.py --models "$list" --out "$PARITY_DIR"

echo "== the zoo's logits against PyTorch's (flex)"
rm -f "$PARITY_DIR/parity.md" "$PARITY_DIR/parity.json"
status=0
ZOO_PARITY_DIR="$PWD/$PARITY_DIR" ZOO_PARITY_MODELS="$list" \
    cargo test -q --test parity -- --nocapture > "$PARITY_DIR/parity-test.log" 2>&1 || status=$?
if [ ! -f "$PARITY_DIR/parity.md" ]; then
    tail -n 20 "$PARITY_DIR/parity-test.log" >&2
    echo "error: the parity test stopped before its table (exit $status); log: $PARITY_DIR/parity-test.log" >&2
    exit 1
fi

echo "== export round trip: zoo export -> torchvision load_state_dict(strict=True) -> logits"
round_trip_rows=""
for model in "${ROUND_TRIP[@]}"; do
    [[ " ${models[*]} " == *" $model "* ]] || continue
    out="$PARITY_DIR/$model/export.safetensors"
    cargo run -q --bin zoo -- export "$model" --weights "$PARITY_DIR/$model/weights.pth" --out "$out"
    result=$("$PYTHON" scripts/make_parity_fixtures.py --check-export "$model" "$out" "$PARITY_DIR/$model")
    row=$("$PYTHON" - "$result" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
limit = 1e-4 * max(1.0, r["max_abs_logit"])
ok = r["strict_load"] and r["same_key_set"] and r["max_abs_diff"] <= limit
print(f"| {r['model']} | strict load ok, same key set: {r['same_key_set']} | {r['max_abs_diff']:.2e} | {'pass' if ok else 'FAIL'} |")
EOF
)
    round_trip_rows+="$row"$'\n'
done

{
    cat "$PARITY_DIR/parity.md"
    if [ -n "$round_trip_rows" ]; then
        echo
        echo "| export round trip | torchvision load_state_dict(strict=True) | max abs(Δlogit) | result |"
        echo "|---|---|---:|---|"
        printf '%s' "$round_trip_rows"
    fi
} > "$PARITY_DIR/parity-report.md"
cat "$PARITY_DIR/parity-report.md"
if grep -q FAIL "$PARITY_DIR/parity-report.md"; then
    echo "parity: FAILED (see $PARITY_DIR/parity-report.md)" >&2
    exit 1
fi
echo "parity: ${#models[@]} models pass; report in $PARITY_DIR/parity-report.md"
