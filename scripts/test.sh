#!/usr/bin/env bash
# Runs every test gait has, from a fresh clone, with nothing installed by hand beyond the Rust
# toolchain, Python 3 and git. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# Python packages the tests use (e.g. junitparser to read our JUnit output) live in a project venv.
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
export GAIT_TEST_PYTHON="$PWD/.venv/bin/python"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
