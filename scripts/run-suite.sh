#!/usr/bin/env bash
# Run one meson test suite and refuse every way it could pass without testing.
#
#   scripts/run-suite.sh BUILD_DIR SUITE [meson test options...]
#
# Fails (exit 1) when
#   - the build directory defines no test of the suite (for example a build
#     configured with -Dtests=false),
#   - it defines fewer tests than tests/suites.txt (or $FQ_SUITES_FILE) says
#     the project has,
#   - meson ran fewer tests than the suite defines,
#   - any test failed, timed out or was skipped (exit code 77), or a cmocka
#     program reported a skipped case ("[  SKIPPED ]").
# Prints meson's own summary, then one line:
#   suite NAME (BUILD_DIR): N passed, N failed, N skipped
# and, when FQ_TEST_TALLY names a file, appends "PASSED FAILED SKIPPED" to it
# so the caller can print the total over several runs.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ $# -lt 2 ]; then
	echo "usage: $0 BUILD_DIR SUITE [meson test options...]" >&2
	exit 2
fi
bdir=$1
suite=$2
shift 2

if [ ! -f "$bdir/build.ninja" ]; then
	echo "run-suite: $bdir is not a configured build directory" >&2
	exit 1
fi

# What the project says it has: "SUITE MINIMUM" lines, and "SUITE:sanitized
# MINIMUM" for builds with -Db_sanitize, which leave out tests that cannot run
# under a sanitizer.
suites_file=${FQ_SUITES_FILE:-$root/tests/suites.txt}
key=$suite
sanitize=$(meson introspect "$bdir" --buildoptions 2>/dev/null |
	python3 -c 'import json, sys
print(next((o["value"] for o in json.load(sys.stdin) if o["name"] == "b_sanitize"), "none"))' || echo none)
if [ "$sanitize" != none ] && grep -q "^$suite:sanitized " "$suites_file"; then
	key="$suite:sanitized"
fi
floor=$(awk -v s="$key" '$1 == s { print $2 }' "$suites_file")
if [ -z "$floor" ]; then
	echo "run-suite: suite '$suite' is not listed in $suites_file" >&2
	exit 1
fi

ninja -C "$bdir" >/dev/null
defined=$(meson test -C "$bdir" --no-rebuild --list --suite "$suite" 2>/dev/null |
	grep -c ' / ' || true)
if [ "$defined" -eq 0 ]; then
	echo "run-suite: $bdir defines no test in suite '$suite'" \
		"(configured with -Dtests=false? run: meson configure $bdir -Dtests=true)" >&2
	exit 1
fi
if [ "$defined" -lt "$floor" ]; then
	echo "run-suite: $bdir defines $defined tests in suite '$suite';" \
		"$suites_file says the project has at least $floor" >&2
	exit 1
fi

logbase="suite-$suite"
rc=0
meson test -C "$bdir" --no-rebuild --suite "$suite" --logbase "$logbase" "$@" || rc=$?

read -r passed failed skipped ran cm_skips < <(python3 - "$bdir/meson-logs/$logbase.json" <<'PY'
import json, re, sys
passed = failed = skipped = ran = cm = 0
with open(sys.argv[1]) as f:
    for line in f:
        t = json.loads(line)
        ran += 1
        r = t.get("result")
        if r == "OK":
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        for l in out.splitlines():
            # cmocka lists each skipped case as "[  SKIPPED ] name".
            if l.startswith("[  SKIPPED ]") and "test(s)" not in l:
                print("run-suite: %s skipped case %s" % (t["name"], l[12:].strip()),
                      file=sys.stderr)
                cm += 1
            # Python's unittest ends with "OK (skipped=N)" or "FAILED (..., skipped=N)".
            m = re.match(r"(OK|FAILED) \((?:.*, )?skipped=(\d+)", l)
            if m:
                print("run-suite: %s skipped %s Python test case(s)" % (t["name"], m.group(2)),
                      file=sys.stderr)
                cm += int(m.group(2))
print(passed, failed, skipped, ran, cm)
PY
)

echo "suite $suite ($bdir): $passed passed, $failed failed, $skipped skipped"
[ -n "${FQ_TEST_TALLY:-}" ] && echo "$passed $failed $((skipped + cm_skips))" >>"$FQ_TEST_TALLY"

bad=0
if [ "$ran" -lt "$defined" ]; then
	echo "run-suite: only $ran of the $defined tests of suite '$suite' ran" >&2
	bad=1
fi
if [ "$skipped" -gt 0 ] || [ "$cm_skips" -gt 0 ]; then
	echo "run-suite: suite '$suite' skipped $skipped test(s) and $cm_skips case(s);" \
		"a test that cannot run must fail and say why" >&2
	bad=1
fi
if [ "$rc" -ne 0 ] || [ "$failed" -gt 0 ]; then
	bad=1
fi
exit $bad
