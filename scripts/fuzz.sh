#!/usr/bin/env bash
# Fuzz every dialect's request parsing for a fixed budget: each target sends what libFuzzer makes
# as the body of one request to the whole router (over a hash model) and fails on a 5xx or a
# panic. Needs a nightly toolchain and cargo-fuzz (installed here when missing). Not part of
# scripts/test.sh: a useful budget is minutes per target.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
# The corpus each run grows is kept in fuzz/corpus/TARGET (seeded from fuzz/seeds); findings land
# in fuzz/artifacts/TARGET.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in openai tei ollama seed st_service; do
  mkdir -p "fuzz/corpus/$target"
  echo "== $target, ${seconds}s"
  cargo +nightly fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 2>&1 \
    | grep -E "^(#[0-9]+\s+DONE|Done|==[0-9]+==|SUMMARY|thread .* panicked)" || true
done
