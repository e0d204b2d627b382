#!/usr/bin/env bash
# Installs the Debian packages kolors.c needs to build and test, when any is missing.
# Idempotent: does nothing (and needs no network) when everything is already installed.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libcjson-dev libpng-dev libjpeg62-turbo-dev zlib1g-dev libomp-dev python3 clang)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "tools/deps.sh: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
