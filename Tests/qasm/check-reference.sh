#!/usr/bin/env bash
# check-reference.sh SIMULATOR_BINARY
#
# Runs the shared OpenQASM reference suite through `SIMULATOR_BINARY run` and checks it:
#   * counts (1024 shots, fixed seed) with the statistical checker check_counts.py, for every circuit;
#   * exact probabilities (`run --probabilities`) against the exact distribution from
#     exact_probs.py, for every circuit measured only at the end: max |difference| < 1e-9.
# Exit status 0 when everything passes.
#
# Environment (optional):
#   SWITCHYARD_QASM_DIR   the shared reference folder (default: <repo>/../shared/qasm)
#   SWITCHYARD_QASM_VENV  Python venv with qiskit (default: $HOME/.cache/switchyard-qasm-venv;
#                         created and filled from PyPI when missing)
#   SUITE_SEED (1)  SIM_SEED (7)  SHOTS (1024)  KEEP=1 keeps the temporary folder
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 SIMULATOR_BINARY" >&2
  exit 64
fi
SIMULATOR=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[ -x "$SIMULATOR" ] || { echo "not an executable: $1" >&2; exit 64; }

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(git -C "$HERE" rev-parse --show-toplevel)
source "$REPO/scripts/stack.sh"
QASM_DIR=${SWITCHYARD_QASM_DIR:-$(stack_shared_dir qasm)}
[ -f "$QASM_DIR/gen_circuits.py" ] || { echo "reference folder not found: $QASM_DIR (set SWITCHYARD_QASM_DIR)" >&2; exit 66; }
QASM_DIR=$(cd "$QASM_DIR" && pwd)
VENV=${SWITCHYARD_QASM_VENV:-$HOME/.cache/switchyard-qasm-venv}
SUITE_SEED=${SUITE_SEED:-1}
SIM_SEED=${SIM_SEED:-7}
SHOTS=${SHOTS:-1024}

if ! "$VENV/bin/python" -c 'import qiskit, qiskit_aer, numpy, scipy' 2>/dev/null; then
  echo "== preparing Python environment in $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "qiskit==2.6.2" "qiskit-aer==0.18.2" numpy scipy
fi
PY=$VENV/bin/python

WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-qasm.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then echo "== keeping $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
SUITE=$WORK/suite

echo "== generating suite (seed $SUITE_SEED)"
"$PY" "$QASM_DIR/gen_circuits.py" "$SUITE_SEED" "$SUITE" > "$WORK/gen.log"
echo "== exact distributions"
for qasm in "$SUITE"/*.qasm; do
  "$PY" "$QASM_DIR/exact_probs.py" "$qasm" --brief > /dev/null
done

# name, end-measured flag, qubit count from the manifest
"$PY" - "$SUITE/manifest.json" > "$WORK/circuits.txt" <<'PYEOF'
import json, sys
for c in json.load(open(sys.argv[1]))["circuits"]:
    print(c["name"], "mid" if c["midcircuit"] else "end", c["n_qubits"])
PYEOF

failures=0
checked=0
printf '%-18s %3s  %-6s %-70s %-6s %s\n' circuit n counts "check_counts" probs "max|dp| (end-measured only)"
while read -r name kind qubits; do
  qasm=$SUITE/$name.qasm
  counts_status=FAIL
  detail=""
  if "$SIMULATOR" run --shots "$SHOTS" --seed "$SIM_SEED" "$qasm" > "$WORK/$name.counts.json" 2> "$WORK/$name.err"; then
    if detail=$("$PY" "$QASM_DIR/check_counts.py" "$WORK/$name.counts.json" "$qasm"); then counts_status=PASS; fi
    detail=$(echo "$detail" | sed -e 's/^[A-Z]* [^ ]* //' | cut -c1-70)
  else
    detail="simulator failed: $(head -c 60 "$WORK/$name.err")"
  fi
  probs_status="-"
  probs_detail=""
  if [ "$kind" = end ]; then
    probs_status=FAIL
    if "$SIMULATOR" run --probabilities "$qasm" > "$WORK/$name.probs.json" 2> "$WORK/$name.perr"; then
      if probs_detail=$("$PY" "$HERE/compare_probabilities.py" "$WORK/$name.probs.json" "$qasm.probs.npz"); then probs_status=PASS; fi
    else
      probs_detail="simulator failed: $(head -c 60 "$WORK/$name.perr")"
    fi
  fi
  [ "$counts_status" = PASS ] || failures=$((failures + 1))
  [ "$probs_status" = FAIL ] && failures=$((failures + 1))
  printf '%-18s %3s  %-6s %-70s %-6s %s\n' "$name" "$qubits" "$counts_status" "$detail" "$probs_status" "$probs_detail"
  checked=$((checked + 1))
done < "$WORK/circuits.txt"

total=$(wc -l < "$WORK/circuits.txt")
if [ "$checked" -ne "$total" ] || [ "$total" -eq 0 ]; then
  echo "== checked $checked of $total circuits"
  failures=$((failures + 1))
elif [ "$failures" -eq 0 ]; then
  echo "== all $checked circuits PASS (counts; exact probabilities for end-measured ones)"
else
  echo "== $failures check(s) FAILED"
fi
[ "$failures" -eq 0 ]
