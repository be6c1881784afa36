#!/usr/bin/env bash
# Build Fabriq (installing its Debian dependencies if needed) and start fabriqd
# with the default configuration: subsystem nqn.2026-11.io.fabriq:default with
# a 1 GiB RAM namespace and a 1 GiB file namespace on 127.0.0.1:4420, and the
# discovery service on 127.0.0.1:8009. Extra arguments go to fabriqd.
#
# The tests are not built here (scripts/test.sh builds them in its own
# directory). Environment: BUILD_DIR (default build), FABRIQ_SKIP_DEPS=1 (do not check
# the Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
bdir=${BUILD_DIR:-build}

failed() {
	echo "run.sh: $*" >&2
	exit 1
}

if [ "${FABRIQ_SKIP_DEPS:-0}" != 1 ]; then
	scripts/deps.sh || failed "installing the dependencies failed (see above)"
fi
if [ ! -f "$bdir/build.ninja" ]; then
	echo "run.sh: configuring $bdir"
	meson setup "$bdir" -Dtests=false >"$bdir.setup.log" 2>&1 || {
		cat "$bdir.setup.log" >&2
		failed "meson setup $bdir failed (log above)"
	}
	rm -f "$bdir.setup.log"
fi
# Show only what goes wrong: on success ninja's progress lines are noise, on
# failure the compiler's messages are what a newcomer needs.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! ninja -C "$bdir" >"$log" 2>&1; then
	grep -v '^\[[0-9]*/[0-9]*\] ' "$log" >&2 || true
	failed "build failed in $bdir (compiler output above)"
fi
rm -f "$log"
trap - EXIT
exec "$bdir/tools/fabriqd/fabriqd" "$@"
