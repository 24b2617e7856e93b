#!/usr/bin/env bash
# Pipeline benchmark (not run by CI): release build, the local stack, then tests/bench_pipeline.rs,
# which prints the broker's own produce throughput as the reference, sustained notices/s through
# the whole pipeline (notices of every table), and ingest→feed latency p50/p99 at a fixed rate.
set -euo pipefail
cd "$(dirname "$0")/../.."
stack_env=$(scripts/stack up)  # a failing `stack up` stops here
eval "$stack_env"
scripts/stack prune
cargo build --release --locked -p gongshi
GONGSHI_BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/gongshi cargo bench --locked -p gongshi-tests --bench pipeline
