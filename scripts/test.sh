#!/usr/bin/env bash
# The whole test suite, on a fresh machine with only the Rust toolchain, Python 3 and pip.
# Makes a Python virtual environment for the client-library tests (the OpenAI SDK) and the
# reference implementation (sentence-transformers), runs the
# format and lint checks, fetches the two native models, then runs every Rust test, and searches
# the servers' logs for what the tests sent.
# `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# Outside the clone, so a fresh checkout on the same machine reuses it (torch is large).
venv="${EMBEDD_TEST_VENV:-$HOME/.cache/embedd/test-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/test-requirements.txt
export EMBEDD_TEST_PYTHON="$venv/bin/python"
# The Python embedd itself asks: pip for `embedd fetch`, and the onnx provider finds ONNX Runtime's
# library in its onnxruntime package.
export EMBEDD_PYTHON="$venv/bin/python"

# Debian's redis-server for the shared-cache tests (which start and stop their own on 127.0.0.1),
# chromium for the status page's test (headless), docker-compose to validate the compose stack,
# and GNU time.
missing=""
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || missing="redis-server"
command -v chromium >/dev/null || missing="$missing chromium"
command -v docker-compose >/dev/null || missing="$missing docker-compose"
# GNU time measures the batch job's peak memory (crates/embedd/tests/batch_memory.rs).
[ -x /usr/bin/time ] || missing="$missing time"
if [ -n "$missing" ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  $sudo apt-get install -y -qq $missing >/dev/null
fi

# Scratch directories of earlier runs (copies of models among them) are not kept.
rm -rf target/tmp

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The OpenTelemetry export is a cargo feature, off by default: linted and tested on its own.
cargo clippy -p embedd --features otel --all-targets --locked -- -D warnings

# Licenses, banned crates and sources of every dependency (deny.toml; advisories are skipped
# there: their database is on GitHub, out of CI's reach). Built once from crates.io (~5 min).
if ! cargo deny --version 2>/dev/null | grep -q "^cargo-deny 0.20.2$"; then
  cargo install cargo-deny --version 0.20.2 --locked --quiet
fi
cargo deny --log-level error check licenses bans sources

# The weights the inference tests compare against sentence-transformers' vectors.
export EMBEDD_MODEL_DIR="${EMBEDD_MODEL_DIR:-$HOME/.cache/embedd/models}"
cargo build -p embedd --locked
target/debug/embedd fetch all-MiniLM-L6-v2 all-mpnet-base-v2

# Every server a test starts logs at debug level into one directory; afterwards every log line
# of the run is searched for the inputs and keys the tests sent (none may appear).
export EMBEDD_TEST_LOG_DIR="$PWD/target/test-logs"
rm -rf "$EMBEDD_TEST_LOG_DIR"
mkdir -p "$EMBEDD_TEST_LOG_DIR"
touch "$EMBEDD_TEST_LOG_DIR/.started"
cargo test --workspace --locked
cargo test -p embedd --features otel --test otel --locked
python3 scripts/check_logs.py "$EMBEDD_TEST_LOG_DIR/.started" "$EMBEDD_TEST_LOG_DIR" target/tmp
