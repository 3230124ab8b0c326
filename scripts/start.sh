#!/usr/bin/env bash
# Installs what is missing, builds Karpacz (release build in build/) and runs it in the
# foreground with the sample configuration, conf/karpacz.yaml (http://localhost:8080/).
#
# Usage: scripts/start.sh [extra karpacz options]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target karpacz
exec build/karpacz -c conf/karpacz.yaml "$@"
