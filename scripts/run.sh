#!/usr/bin/env bash
# Build Fabriq (installing its Debian dependencies if needed) and start fabriqd
# with the default configuration: subsystem nqn.2026-11.io.fabriq:default with
# a 1 GiB RAM namespace and a 1 GiB file namespace on 127.0.0.1:4420, and the
# discovery service on 127.0.0.1:8009. Extra arguments go to fabriqd.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
[ -f build/build.ninja ] || meson setup build -Dtests=false >/dev/null
ninja -C build >/dev/null
exec build/tools/fabriqd/fabriqd "$@"
