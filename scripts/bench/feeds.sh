#!/usr/bin/env bash
# Feed benchmark (not run by CI): installs wrk and nginx-light from Debian if missing, release
# build, the local stack, then tests/bench_feeds.rs, which publishes generated notices and measures
# the newest Atom page (fresh and revalidated with If-None-Match), a filtered page, and nginx serving
# the same bytes statically.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >&2
fi
# The packaged nginx service is not wanted: the benchmark starts its own on a free port.
systemctl disable --now nginx >/dev/null 2>&1 || service nginx stop >/dev/null 2>&1 || true
stack_env=$(scripts/stack up)  # a failing `stack up` stops here
eval "$stack_env"
scripts/stack prune
cargo build --release --locked -p gongshi
GONGSHI_BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/gongshi cargo bench --locked -p gongshi-tests --bench feeds
