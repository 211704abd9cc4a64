#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main demo.
# Usage: bash examples/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/deps.sh
tapegrad_install_deps

cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" --target first_steps >/dev/null
./build/release/examples/first_steps
