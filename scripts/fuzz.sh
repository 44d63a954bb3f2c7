#!/usr/bin/env bash
# Fuzzes the CSV and Parquet readers (with the validator after them) and the
# Impact and WooCommerce record decoders for SECONDS each (default 120):
# a proptest generator on stable Rust, since cargo-fuzz needs nightly. Any
# panic fails with the input that caused it. The test suite runs the same
# targets for 3 seconds each.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/campaign-pilot-target}"
FUZZ_SECONDS="${1:-120}" cargo test --locked --test fuzz -- --nocapture --test-threads 1 2>&1 | grep -E "^fuzz |^test |test result|panicked: "
