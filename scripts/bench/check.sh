#!/usr/bin/env bash
# Check throughput: gongshi's Rust `check` against Python's `jsonschema` on the same corpus.
#
# Builds and runs the bench `crates/domain/benches/check_throughput.rs` in release (it generates
# the corpus, checks it, and writes xml/, canonical.jsonl and rust.json under the output folder),
# then validates the same canonical JSON against the same schema files with Python's `jsonschema`
# (pip-installed into target/bench-venv, reused when present) and prints both throughputs and the
# ratios. Not run by CI: it installs from PyPI and its figures depend on the machine.
#
# Environment: GONGSHI_BENCH_RECORDS (default 10000), GONGSHI_BENCH_REPS (default 5),
# GONGSHI_BENCH_OUT (default target/bench-check), PYTHON (default python3, for the venv).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

out="${GONGSHI_BENCH_OUT:-target/bench-check}"
case "$out" in
  /*) ;;
  *) out="$root/$out" ;;
esac
export GONGSHI_BENCH_OUT="$out"
export GONGSHI_BENCH_RECORDS="${GONGSHI_BENCH_RECORDS:-10000}"
export GONGSHI_BENCH_REPS="${GONGSHI_BENCH_REPS:-5}"

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

cargo bench -p gongshi-domain --bench check_throughput

venv="$root/target/bench-venv"
if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import jsonschema, referencing' 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check jsonschema referencing
fi

"$venv/bin/python" scripts/bench/jsonschema_baseline.py \
  --corpus "$out/canonical.jsonl" \
  --schemas schemas/tables \
  --reps "$GONGSHI_BENCH_REPS" \
  --out "$out/python.json" \
  --rust-json "$out/rust.json"

echo "machine after: load average $(cut -d' ' -f1-3 /proc/loadavg)"
