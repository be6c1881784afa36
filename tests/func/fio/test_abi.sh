#!/usr/bin/env bash
# The engine is compiled against fio's headers from a source tree, not from
# the installed fio; this checks that the two are the same fio, configured
# alike: the source's version is the installed package's, it was configured
# with debian/rules' options, every CONFIG_ macro that changes a structure the
# engine reads agrees with what the installed binary was linked with, and the
# installed fio runs the engine, whose load-time check compares its
# structure offsets with fio's own option table.
set -euo pipefail
SRC=$1
ENGINE=$2
FQD=$3
FIO=${FIO:-/usr/bin/fio}
fail() { echo "FAIL: $*"; exit 1; }
[ -f "$SRC/config-host.h" ] || fail "no configured fio source in $SRC (scripts/deps.sh --test)"
[ -f "$ENGINE" ] || fail "$ENGINE was not built (meson found no fio source)"

src_ver=$(sed -n 's/^DEF_VER=//p' "$SRC/FIO-VERSION-GEN")
bin_ver=$("$FIO" --version)
[ "$src_ver" = "$bin_ver" ] || fail "source is $src_ver, installed fio is $bin_ver"
deb_src=$(sed -n '1s/^fio (\([^)]*\)).*/\1/p' "$SRC/debian/changelog")
deb_bin=$(dpkg-query -W -f='${Version}' fio)
[ "$deb_src" = "$deb_bin" ] || fail "source package is $deb_src, installed package is $deb_bin"

# debian/rules' configure options, less --enable-gfio (the GUI program only).
want=$(sed -n 's/^[[:space:]]*\.\/configure //p' "$SRC/debian/rules" | sed 's/ *--enable-gfio//')
got=$(sed -n "s/^# Configured with: //p" "$SRC/config-host.mak" | tr -d "'" | sed 's/^\.\/configure //')
[ "$want" = "$got" ] || fail "configured with '$got', Debian built with '$want'"

needed=$(readelf -d "$FIO" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
for pair in CONFIG_LIBAIO:libaio.so CONFIG_RDMA:librdmacm.so CONFIG_LIBNUMA:libnuma.so \
	CONFIG_ZLIB:libz.so; do
	macro=${pair%%:*} lib=${pair#*:}
	in_src=no in_bin=no
	grep -q "^#define $macro\$" "$SRC/config-host.h" && in_src=yes
	grep -q "^$lib" <<<"$needed" && in_bin=yes
	[ $in_src = $in_bin ] || fail "$macro is $in_src in the source but $FIO links $lib: $in_bin"
done

# The installed fio loads the engine; its layout check passes and I/O runs.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
NQN=nqn.2026-11.io.fabriq:fio-abi
"$FQD" --listen 127.0.0.1:$PORT --nqn $NQN --ns ram:8M --reactors 1 >/dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
out=$(timeout -s KILL 60 "$FIO" --ioengine="$ENGINE" --name=abi --thread=1 --rw=randwrite --bs=8k \
	--iodepth=7 --size=4M --verify=crc32c --verify_fatal=1 \
	--filename="trtype=TCP adrfam=IPv4 traddr=127.0.0.1 trsvcid=$PORT subnqn=${NQN/:/\\:} ns=1" 2>&1) ||
	{ echo "$out"; fail "fio with the engine"; }
grep -q 'ioengine=fabriq, iodepth=7' <<<"$out" || { echo "$out"; fail "engine not reported by fio"; }
! grep -q 'built for another fio' <<<"$out" || { echo "$out"; fail "layout check"; }
echo "fio engine matches $bin_ver ($deb_bin)"
