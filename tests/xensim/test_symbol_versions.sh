#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The stand-in Xen libraries must not drift from Debian's: same soname,
# same exported symbols with the same versions, and every Xen symbol the
# daemon binary imports exported by the stand-in with the version the
# daemon asks for (which is Debian's). Prints TAP. Exit 77 when objdump or
# Debian's libraries are missing.
set -u
cd "$(dirname "$0")/../.." || exit 1

stubdir=build/xensim/lib
daemon=src/xen-virtio-blkd
libs="xendevicemodel xenforeignmemory xenevtchn xengnttab xentoolcore"

command -v objdump >/dev/null || { echo "objdump not found (binutils)"; exit 77; }
multiarch=$(gcc -print-multiarch 2>/dev/null || true)
sysdir=/usr/lib/${multiarch:-x86_64-linux-gnu}
for l in $libs; do
	[ -e "$sysdir/lib$l.so.1" ] || { echo "$sysdir/lib$l.so.1 missing (libxen-dev)"; exit 77; }
	[ -e "$stubdir/lib$l.so.1" ] || { echo "not ok - $stubdir/lib$l.so.1 not built"; exit 1; }
done

# "symbol version" lines of a library's defined dynamic functions.
exports() {
	objdump -T "$1" | awk '$4 == ".text" { print $7, $6 }' | sort
}

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

for l in $libs; do
	sys=$(readlink -f "$sysdir/lib$l.so.1")
	stub=$stubdir/lib$l.so.1
	soname=$(objdump -p "$stub" | awk '$1 == "SONAME" { print $2 }')
	if [ "$soname" = "lib$l.so.1" ]; then
		ok "lib$l soname $soname"
	else
		not_ok "lib$l soname '$soname'"
	fi
	diffs=$(diff <(exports "$sys") <(exports "$stub"))
	if [ -z "$diffs" ]; then
		ok "lib$l exports the same $(exports "$sys" | wc -l) symbols and versions as $sys"
	else
		not_ok "lib$l exports differ from $sys (< Debian, > stand-in):"
		echo "$diffs" | sed 's/^/#   /'
	fi
done

if [ ! -x "$daemon" ]; then
	ok "daemon imports # SKIP $daemon not built"
	echo "1..$n"
	[ "$failed" -eq 0 ]; exit
fi
# UND entries: "0..0  DF *UND*  0..0  (VERS_1.0)  xendevicemodel_open"
xen_re='^xen(devicemodel|foreignmemory|evtchn|gnttab|gntshr|toolcore)_'
imports=$(objdump -T "$daemon" | awk -v re="$xen_re" '$3 == "*UND*" && $NF ~ re {
	v = $(NF - 1); gsub(/[()]/, "", v); print $NF, v }' | sort -u)
if [ -z "$imports" ]; then
	not_ok "daemon imports no Xen library symbol: is $daemon linked against libxen*?"
fi
all_stub=$(for l in $libs; do exports "$stubdir/lib$l.so.1"; done)
all_sys=$(for l in $libs; do exports "$(readlink -f "$sysdir/lib$l.so.1")"; done)
while read -r sym ver; do
	[ -n "$sym" ] || continue
	if ! grep -qx "$sym $ver" <<<"$all_sys"; then
		not_ok "daemon imports $sym@$ver, which Debian's library does not export"
	elif grep -qx "$sym $ver" <<<"$all_stub"; then
		ok "daemon import $sym@$ver exported by the stand-in"
	else
		not_ok "daemon imports $sym@$ver; stand-in has: $(grep "^$sym " <<<"$all_stub" || echo nothing)"
	fi
done <<<"$imports"
echo "1..$n"
[ "$failed" -eq 0 ]
