#!/usr/bin/env bash
# `make demo`: verislice and the SALV data stage on the paper's Figure 1 example (examples/kbd).
set -euo pipefail
VENV=${1:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
cd "$(dirname "$0")/.."
OUT=$(mktemp -d -t salv-demo-XXXX)
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

step "Per-output equivalence: which outputs of the generated decoder are right?" \
     "verislice equiv examples/kbd/ref.v examples/kbd/gen.v"
verislice equiv examples/kbd/ref.v examples/kbd/gen.v || [ $? -eq 1 ]   # exit 1 = outputs differ

step "The code that implements d (a module that still compiles)" \
     "verislice cone examples/kbd/gen.v --signal d"
verislice cone examples/kbd/gen.v --signal d | tee "$OUT/cone_d.v"
iverilog -g2012 -o "$OUT/cone_d.vvp" "$OUT/cone_d.v" && echo "(the slice compiles with iverilog)"

step "Its character spans (what the trainer turns into a token mask)" \
     "verislice cone examples/kbd/gen.v --signal d --format spans"
verislice cone examples/kbd/gen.v --signal d --format spans

step "Signal dependency graph" "verislice graph examples/kbd/gen.v"
verislice graph examples/kbd/gen.v
verislice graph examples/kbd/gen.v --signal d -o "$OUT/cone_d.svg" && echo "picture: $OUT/cone_d.svg"

step "A sequential design with a reset: equivalence and one cone" \
     "verislice equiv examples/seq/ref.v examples/seq/gen.v"
verislice equiv examples/seq/ref.v examples/seq/gen.v || [ $? -eq 1 ]

step "SALV data stage: label four sampled responses, then build Eq. 1 preference pairs" \
     "salv-train label examples/kbd/samples.jsonl --out labeled.jsonl && salv-train pairs ..."
salv-train label examples/kbd/samples.jsonl --out "$OUT/labeled.jsonl"
salv-train pairs "$OUT/labeled.jsonl" --out "$OUT/pairs.jsonl"
salv-train stats "$OUT/pairs.jsonl"
python - "$OUT/pairs.jsonl" <<'PY'
import json, sys
row = json.loads(open(sys.argv[1]).readline())
print(f"\nfirst pair: {row['pair_id']} kind={row['kind']} contrast={row['contrast_signals']}")
print("chosen text inside the mask:")
print("".join(row["chosen"][a:b] for a, b in row["chosen_spans"]))
PY

step "Signal-aware DPO (Eq. 2) on those pairs, a few steps of a tiny model built offline" \
     "salv-train dpo --model tiny/ --pairs pairs.jsonl --mask cone --max-steps 4 ..."
python -c "from salv_trainer.tiny import make_tiny_model_dir; make_tiny_model_dir('$OUT/tiny')" 2>/dev/null
salv-train dpo --model "$OUT/tiny" --pairs "$OUT/pairs.jsonl" --output-dir "$OUT/dpo" \
    --mask cone --max-steps 4 --per-device-batch-size 2 --learning-rate 1e-3 --logging-steps 1 \
    --save-steps 1000 --max-length 1024
echo
echo "artefacts in $OUT (the LoRA adapter is in $OUT/dpo)"
