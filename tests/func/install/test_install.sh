#!/usr/bin/env bash
# `meson install` into a staging directory, then use the installed tree the
# way a user would: programs built with pkg-config alone, man pages that
# render cleanly and cover every option, the systemd unit and the example.
#
#   test_install.sh MESON BUILD_ROOT SOURCE_ROOT "CC..." SANITIZE \
#                   PREFIX BINDIR LIBDIR INCLUDEDIR MANDIR DATADIR UNITDIR
#
# Directory arguments are the configured, absolute install paths; the files
# are looked for under the staging directory.
set -euo pipefail
MESON=$1 BUILD=$2 SRC=$3
read -r -a CC <<<"$4"
SANITIZE=$5
BINDIR=$7 LIBDIR=$8 INCDIR=$9 MANDIR=${10} DATADIR=${11} UNITDIR=${12}

D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
need() { [ -e "$D/root$1" ] || fail "not installed: $1"; }

"$MESON" install -C "$BUILD" --destdir "$D/root" --no-rebuild --quiet >"$D/install.log" 2>&1 ||
	{ cat "$D/install.log" >&2; fail "meson install"; }
R=$D/root

# --- files in place -------------------------------------------------------
for f in "$BINDIR/fabriq" "$BINDIR/fabriqd" "$INCDIR/fabriq/host.h" "$INCDIR/fabriq/storage.h" \
	"$INCDIR/fabriq/log.h" "$INCDIR/fabriq/loop.h" "$INCDIR/fabriq/nvme_spec.h" "$INCDIR/fabriq/target.h" \
	"$LIBDIR/libfabriq.so" "$LIBDIR/libfabriq_storage.so" "$LIBDIR/libfabriq_storage.a" \
	"$LIBDIR/libfabriq_target.so" "$LIBDIR/pkgconfig/libfabriq-target.pc" \
	"$LIBDIR/pkgconfig/libfabriq.pc" "$LIBDIR/pkgconfig/libfabriq-storage.pc" \
	"$MANDIR/man8/fabriq.8" "$MANDIR/man8/fabriqd.8" "$MANDIR/man5/fabriqd.ini.5" \
	"$UNITDIR/fabriqd.service" "$UNITDIR/fabriq-map.service" "$DATADIR/doc/fabriq/examples/fabriqd.ini"; do
	need "$f"
done
# The example configuration is the one the unit tests load, byte for byte.
cmp -s "$SRC/examples/fabriqd.ini" "$R$DATADIR/doc/fabriq/examples/fabriqd.ini" ||
	fail "installed fabriqd.ini differs from examples/fabriqd.ini"

# --- shared libraries: SONAME, and the storage library carries its deps ---
soname() { readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'; }
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
[ "$(soname "$R$LIBDIR/libfabriq.so")" = libfabriq.so.0 ] || fail "libfabriq SONAME"
[ "$(soname "$R$LIBDIR/libfabriq_storage.so")" = libfabriq_storage.so.0 ] ||
	fail "libfabriq_storage SONAME"
for dep in libfabriq.so.0 libinih.so; do
	grep -q "^$dep" <<<"$(needed "$R$LIBDIR/libfabriq_storage.so")" ||
		fail "libfabriq_storage.so does not link $dep (NEEDED: $(needed "$R$LIBDIR/libfabriq_storage.so" | tr '\n' ' '))"
done

# --- pkg-config -------------------------------------------------------------
export PKG_CONFIG_PATH=$R$LIBDIR/pkgconfig PKG_CONFIG_SYSROOT_DIR=$R
export LD_LIBRARY_PATH=$R$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
pkg-config --exists --print-errors libfabriq libfabriq-storage || fail "pkg-config --exists"
[ "$(pkg-config --modversion libfabriq)" = "$(pkg-config --modversion libfabriq-storage)" ] ||
	fail "the two .pc files disagree on the version"
for r in libfabriq inih liburing; do
	grep -q "^$r\b" <<<"$(pkg-config --print-requires-private libfabriq-storage)" ||
		fail "libfabriq-storage.pc: $r missing from Requires.private"
done

SANFLAGS=()
[ "$SANITIZE" = none ] || SANFLAGS=("-fsanitize=$SANITIZE")
WFLAGS=(-std=c11 -Wall -Wextra -Wpedantic -Werror)

# Each public header compiles on its own, as C and (if there is one) C++.
for h in host.h log.h loop.h nvme_spec.h storage.h target.h; do
	echo "#include <fabriq/$h>" >"$D/h.c"
	# shellcheck disable=SC2046
	"${CC[@]}" "${WFLAGS[@]}" $(pkg-config --cflags libfabriq) -fsyntax-only "$D/h.c" ||
		fail "fabriq/$h does not compile on its own"
	if command -v c++ >/dev/null; then
		# shellcheck disable=SC2046
		c++ -std=c++11 -Wall -Wextra -Werror $(pkg-config --cflags libfabriq) -fsyntax-only \
			-x c++ "$D/h.c" || fail "fabriq/$h does not compile as C++"
	fi
done

# A host-library program: transport IDs parse, format and round-trip; a
# loop (fabriq/loop.h) fires a timer.
cat >"$D/host.c" <<'C'
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <fabriq/host.h>
#include <fabriq/loop.h>

static int fired;

static void on_timer(struct fq_loop *l, struct fq_timer *t)
{
	(void)l;
	(void)t;
	fired++;
}

int main(void)
{
	struct fq_timer t = {on_timer, 0, 0};
	struct fq_loop *l;
	struct fq_trid a, b;
	char s[512];
	int n;

	if (fq_loop_create(NULL, &l) || fq_timer_arm(l, &t, 1000000))
		return 5;
	while (!fired)
		if (fq_loop_turn(l, -1) < 0)
			return 6;
	fq_loop_destroy(l);

	if (fq_trid_parse(&a, "trtype:TCP traddr:::1 trsvcid:4421 subnqn:nqn.2026-11.io.fabriq:t"))
		return 1;
	if (a.trtype != FQ_TRANSPORT_TCP || a.adrfam != FQ_AF_IPV6 || strcmp(a.traddr, "::1") ||
	    strcmp(a.trsvcid, "4421") || strcmp(a.subnqn, "nqn.2026-11.io.fabriq:t"))
		return 2;
	n = fq_trid_format(&a, s, sizeof(s));
	if (n <= 0 || fq_trid_parse(&b, s) || memcmp(&a, &b, sizeof(a)))
		return 3;
	if (fq_trid_parse(&b, "traddr:127.0.0.1 bogus:1") != -EINVAL)
		return 4;
	printf("%s\n", s);
	return 0;
}
C
# shellcheck disable=SC2046
"${CC[@]}" "${WFLAGS[@]}" "${SANFLAGS[@]}" -o "$D/host" "$D/host.c" \
	$(pkg-config --cflags --libs libfabriq) || fail "host program does not build with pkg-config"
out=$("$D/host") || fail "host program exited $?"
[[ $out == *"traddr:::1"* ]] || fail "host program printed '$out'"

# A storage program over the file backend, linked with libfabriq-storage alone:
# a write at an odd offset, read back, then again after reopening.
cat >"$D/storage.c" <<'C'
#include <stdio.h>
#include <string.h>

#include <fabriq/storage.h>

static int roundtrip(const char *ini, int write)
{
	const char msg[] = "installed fabriq storage";
	char back[sizeof(msg)], err[256];
	struct fq_storage *st;
	int rc;

	rc = fq_storage_open_string(ini, &st, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "open: %d %s\n", rc, err);
		return 1;
	}
	if (write && fq_storage_write_sync(st, "data", 1001, msg, sizeof(msg)))
		rc = 2;
	memset(back, 0, sizeof(back));
	if (!rc && fq_storage_read_sync(st, "data", 1001, back, sizeof(back)))
		rc = 3;
	if (!rc && memcmp(back, msg, sizeof(msg)))
		rc = 4;
	if (rc)
		fprintf(stderr, "I/O: %s\n", fq_storage_last_error(st));
	fq_storage_close(st);
	return rc;
}

int main(int argc, char **argv)
{
	char ini[1024];
	int rc;

	if (argc != 2)
		return 9;
	snprintf(ini, sizeof(ini),
		 "[storage]\nbackend = file\nfile_path = %s\nfile_size = 1M\n[names]\ndata = nsid:1\n",
		 argv[1]);
	rc = roundtrip(ini, 1);
	return rc ? rc : roundtrip(ini, 0);
}
C
# shellcheck disable=SC2046
"${CC[@]}" "${WFLAGS[@]}" "${SANFLAGS[@]}" -o "$D/storage" "$D/storage.c" \
	$(pkg-config --cflags --libs libfabriq-storage) ||
	fail "storage program does not build with pkg-config --libs libfabriq-storage"
"$D/storage" "$D/data.img" || fail "storage program exited $?"

# The static archive links with what `pkg-config --static` lists, and then
# needs no libfabriq_storage.so at run time.
# shellcheck disable=SC2046
"${CC[@]}" "${WFLAGS[@]}" "${SANFLAGS[@]}" -Wl,--as-needed -o "$D/storage-static" "$D/storage.c" \
	"$R$LIBDIR/libfabriq_storage.a" $(pkg-config --cflags --static --libs libfabriq-storage) ||
	fail "static storage program does not build with pkg-config --static"
grep -q libfabriq_storage <<<"$(needed "$D/storage-static")" && fail "static program needs libfabriq_storage.so"
rm -f "$D/data.img"
"$D/storage-static" "$D/data.img" || fail "static storage program exited $?"

# A program that embeds the target (libfabriq-target) and reaches it with
# the host library (libfabriq): both libraries in one process.
cat >"$D/target.c" <<'C'
#include <signal.h>
#include <stdio.h>

#include <fabriq/host.h>
#include <fabriq/nvme_spec.h>
#include <fabriq/target.h>

#define NQN "nqn.2026-11.io.fabriq:installed"

int main(void)
{
	struct fq_target_port_info port;
	const struct fq_id_ctrl *id;
	struct fq_ctrlr *ctrlr;
	struct fq_target *t;
	struct fq_trid trid;
	char s[256];
	int rc = 0;

	signal(SIGPIPE, SIG_IGN);
	if (fq_target_create(NULL, &t) || fq_target_add_port(t, "io", "127.0.0.1:0", false) ||
	    fq_target_add_subsystem(t, NQN) || fq_target_add_ns(t, NQN, "ram:8M") ||
	    fq_target_start(t) || fq_target_get_port(t, 0, &port)) {
		fprintf(stderr, "target: %s\n", fq_target_last_error(t));
		return 1;
	}
	snprintf(s, sizeof(s), "traddr:127.0.0.1 trsvcid:%u subnqn:%s", port.port, NQN);
	if (fq_trid_parse(&trid, s) || fq_ctrlr_connect(&trid, NULL, &ctrlr)) {
		fprintf(stderr, "host: %s\n", fq_last_error());
		rc = 2;
	} else {
		id = fq_ctrlr_get_identify(ctrlr);
		if (fq_ctrlr_num_ns(ctrlr) != 1 || id->nn == 0)
			rc = 3;
		fq_ctrlr_disconnect(ctrlr);
	}
	fq_target_destroy(t);
	return rc;
}
C
# shellcheck disable=SC2046
"${CC[@]}" "${WFLAGS[@]}" "${SANFLAGS[@]}" -o "$D/target" "$D/target.c" \
	$(pkg-config --cflags --libs libfabriq-target libfabriq) ||
	fail "target program does not build with pkg-config --libs libfabriq-target libfabriq"
"$D/target" || fail "target program exited $?"

# --- man pages: render without warnings, cover every option ---------------
for m in man8/fabriq.8 man8/fabriqd.8 man5/fabriqd.ini.5; do
	f=$R$MANDIR/$m
	warn=$(groff -man -t -ww -z "$f" 2>&1) || fail "groff failed on $m"
	[ -z "$warn" ] || fail "groff warns on $m: $warn"
	if command -v man >/dev/null; then
		warn=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$f" 2>&1 >/dev/null) || fail "man -l $m"
		[ -z "$warn" ] || fail "man warns on $m: $warn"
	fi
done
# Options are written \-\-name in troff; compare against what the programs
# accept. (Here-strings, not pipes: grep -q may leave before its input ends.)
fabriqd8=$(sed 's/\\-/-/g' "$R$MANDIR/man8/fabriqd.8")
fabriq8=$(sed 's/\\-/-/g' "$R$MANDIR/man8/fabriq.8")
ini5=$(cat "$R$MANDIR/man5/fabriqd.ini.5")
for o in $("$R$BINDIR/fabriqd" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
	grep -q -- "$o\b" <<<"$fabriqd8" || fail "fabriqd(8) does not describe $o"
done
cmds=$("$R$BINDIR/fabriq" help 2>&1 | sed -n '/^commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p')
[ -n "$cmds" ] || fail "no command list from 'fabriq help'"
for c in $cmds; do
	grep -qx "\.B $c" <<<"$fabriq8" || fail "fabriq(8) does not describe the $c command"
	for o in $("$R$BINDIR/fabriq" help "$c" 2>&1 | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
		grep -q -- "$o\b" <<<"$fabriq8" || fail "fabriq(8) does not describe $o (fabriq help $c)"
	done
done
keys=$(sed -n 's/^;\? *\([a-z_]*\) *=.*/\1/p' "$SRC/examples/fabriqd.ini" | sort -u)
[ -n "$keys" ] || fail "no keys found in examples/fabriqd.ini"
for k in $keys; do
	grep -qx "\.B $k" <<<"$ini5" || fail "fabriqd.ini(5) does not describe the key $k"
done

# --- systemd unit -------------------------------------------------------------
unit=$R$UNITDIR/fabriqd.service
exec_start="$BINDIR/fabriqd -c /etc/fabriq/fabriqd.ini --rpc-socket /run/fabriq/fabriqd.sock --state-dir /var/lib/fabriq"
grep -qx "ExecStart=$exec_start" "$unit" ||
	fail "fabriqd.service: ExecStart is not '$exec_start'"
grep -q '@' "$unit" && fail "fabriqd.service has an unsubstituted @VARIABLE@"
if command -v systemd-analyze >/dev/null; then
	# systemd-analyze checks that ExecStart's binary exists: point a copy at
	# the staged one (the line itself is checked above). MANPATH lets it find
	# the Documentation= pages among the staged ones.
	mkdir "$D/unit"
	sed "s|^ExecStart=$BINDIR/fabriqd |ExecStart=$R$BINDIR/fabriqd |" "$unit" >"$D/unit/fabriqd.service"
	out=$(MANPATH=$R$MANDIR systemd-analyze verify "$D/unit/fabriqd.service" 2>&1) ||
		fail "systemd-analyze verify: $out"
	[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
fi
munit=$R$UNITDIR/fabriq-map.service
grep -qx "ExecStart=$BINDIR/fabriq mapall -f /etc/fabriq/maps" "$munit" ||
	fail "fabriq-map.service: ExecStart is not '$BINDIR/fabriq mapall -f /etc/fabriq/maps'"
grep -qx "ExecStop=$BINDIR/fabriq unmapall -f /etc/fabriq/maps" "$munit" ||
	fail "fabriq-map.service: ExecStop is not '$BINDIR/fabriq unmapall -f /etc/fabriq/maps'"
grep -q '@' "$munit" && fail "fabriq-map.service has an unsubstituted @VARIABLE@"
if command -v systemd-analyze >/dev/null; then
	sed "s|=$BINDIR/fabriq |=$R$BINDIR/fabriq |" "$munit" >"$D/unit/fabriq-map.service"
	out=$(MANPATH=$R$MANDIR systemd-analyze verify "$D/unit/fabriq-map.service" 2>&1) ||
		fail "systemd-analyze verify fabriq-map.service: $out"
	[ -z "$out" ] || fail "systemd-analyze verify warns on fabriq-map.service: $out"
fi
echo "install: OK"
