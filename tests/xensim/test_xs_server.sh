#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# xenstored-sim against Debian's real, unmodified xenstore-* tools and
# libxenstore, reaching it through XENSTORED_PATH as the daemon will.
# Exit 0: all passed; 1: a check failed; 77: a prerequisite is missing.
#
# XS_SIM and XS_CLIENT override the binaries (e.g. sanitizer builds).
set -u

here=$(cd "$(dirname "$0")" && pwd)
sim=${XS_SIM:-$here/xenstored-sim}
client=${XS_CLIENT:-$here/test_xs_client}
T="timeout 20"

for tool in xenstore-read xenstore-write xenstore-ls xenstore-rm \
	    xenstore-chmod xenstore-watch; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool not found (Debian package xenstore-utils)"
		exit 77
	fi
done
for bin in "$sim" "$client"; do
	if [ ! -x "$bin" ]; then
		echo "FAIL: $bin is not built (make $bin)"
		exit 1
	fi
done

tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid"
	rm -rf "$tmp"
}
trap cleanup EXIT

sock=$tmp/socket
mkfifo "$tmp/ready"
# --foreground: otherwise timeout follows our SIGTERM with a SIGCONT to its
# process group, which can cancel the SIGSTOP that LeakSanitizer's exit-time
# check uses to stop the threads, and the sanitizer build then hangs.
timeout --foreground 600 "$sim" --socket "$sock" --verbose \
	>"$tmp/ready" 2>"$tmp/log" &
pid=$!
# The server says so once its socket accepts connections.
if ! read -r -t 10 _ <"$tmp/ready"; then
	echo "FAIL: xenstored-sim did not start"
	cat "$tmp/log"
	exit 1
fi
export XENSTORED_PATH=$sock

failed=0
ok() { echo "ok - $1"; }
not_ok() {
	echo "not ok - $1"
	failed=1
}
# expect DESCRIPTION EXPECTED COMMAND...: the command succeeds and prints
# exactly EXPECTED.
expect() {
	local desc=$1 want=$2 got
	shift 2
	if got=$($T "$@" 2>&1) && [ "$got" = "$want" ]; then
		ok "$desc"
	else
		not_ok "$desc"
		printf '  want: %s\n  got:  %s\n' "$want" "$got"
	fi
}
# run DESCRIPTION COMMAND...: the command succeeds.
run() {
	local desc=$1
	shift
	if $T "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
# refuse DESCRIPTION COMMAND...: the command fails.
refuse() {
	local desc=$1
	shift
	if $T "$@" 2>/dev/null; then not_ok "$desc"; else ok "$desc"; fi
}

# --- the store ---
expect "dom0's nodes at start" "0
Domain-0" xenstore-read domid /local/domain/0/name
run "write" xenstore-write /test/a/b/c hello
expect "read back" hello xenstore-read /test/a/b/c
expect "implicit parents are empty" "" xenstore-read /test/a/b
expect "relative paths are below /local/domain/0" "rel" \
	sh -c 'xenstore-write r rel && xenstore-read /local/domain/0/r'
run "several keys" xenstore-write /test/a/x 1 /test/a/y 2
expect "ls of a tree" '/test/a/b = ""
/test/a/b/c = "hello"
/test/a/x = "1"
/test/a/y = "2"' xenstore-ls -f /test/a
refuse "read a missing node" xenstore-read /test/nope
refuse "bad path" xenstore-write /test//x 1
run "rm is recursive" xenstore-rm /test/a
refuse "subtree gone" xenstore-read /test/a/b/c
expect "nothing left" "" xenstore-ls /test
run "rm of an absent node is fine" xenstore-rm /test/absent
refuse "rm below a missing parent fails" xenstore-rm /test/no/such

# --- permissions ---
run "chmod" sh -c 'xenstore-write /test/p/q v && xenstore-chmod /test/p n5 r0 b7'
if $T xenstore-ls -p /test | grep -q '^p = "".*(n5,r0,b7)$'; then
	ok "permissions round trip"
else
	not_ok "permissions round trip"
	$T xenstore-ls -p /test
fi
run "chmod -r" xenstore-chmod -r /test/p b3
if $T xenstore-ls -p /test/p | grep -q '^q = "v".*(b3)$'; then
	ok "recursive chmod"
else
	not_ok "recursive chmod"
fi
refuse "bad permission" xenstore-chmod /test/p x5

# --- watches, through the xenstore-watch tool ---
mkfifo "$tmp/watch"
$T xenstore-watch -n 2 /test/w >"$tmp/watch" &
wpid=$!
exec 3<"$tmp/watch"
if read -r -t 10 -u 3 first && [ "$first" = /test/w ]; then
	ok "watch fires once on registration"
else
	not_ok "watch fires once on registration (${first:-nothing})"
fi
xenstore-write /test/w/child 1
if read -r -t 10 -u 3 second && [ "$second" = /test/w/child ]; then
	ok "watch fires for a child"
else
	not_ok "watch fires for a child (${second:-nothing})"
fi
exec 3<&-
if wait "$wpid"; then ok "xenstore-watch -n 2 ends"; else not_ok "xenstore-watch -n 2 ends"; fi

# --- libxenstore: transactions, watch thread, big directories, domains ---
run "transaction conflicts (two handles)" "$client" conflict
run "watch events via xs_fileno/xs_check_watch" "$client" watch
run "DIRECTORY_PART for long child lists" "$client" dirpart
run "domain introduce/release" "$client" domains
run "C API of an in-process server" "$client" api "$tmp"

# --- libxl 4.17's virtio disk, as xenstore-write replays it: one
# invocation is one transaction ---
be=/local/domain/0/backend/virtio_disk/3/51712
fe=/local/domain/3/device/virtio_disk/51712
run "libxl virtio disk in one xenstore-write" xenstore-write \
	$be/frontend $fe $be/params "$tmp/disk.img" $be/frontend-id 3 \
	$be/online 1 $be/removable 0 $be/bootable 1 $be/state 1 \
	$be/dev xvda $be/type standalone $be/mode w $be/device-type disk \
	$be/discard-enable 1 $be/specification virtio $be/transport mmio \
	$be/base 33554432 $be/irq 33 \
	$fe/backend $be $fe/backend-id 0 $fe/state 1 \
	$fe/virtual-device 51712 $fe/device-type disk $fe/trusted 1
if grep -q "WRITE(11) req=0 tx=0 $be" "$tmp/log"; then
	not_ok "all those writes in a transaction"
else
	ok "all those writes in a transaction"
fi
expect "replayed disk reads back" "$tmp/disk.img
33554432
33
1" xenstore-read $be/params $be/base $be/irq $fe/state
run "libxl replay with permissions, atomic for a watcher" \
	"$client" libxl-disk 5 0 51712 "$tmp/disk.img"

# --- hostile clients ---
run "wire protocol: ids echoed, errors, limits" "$client" raw
run "garbage from many clients" "$client" garbage
expect "server still answers" Domain-0 xenstore-read name

# --- shutdown ---
kill -TERM "$pid"
if wait "$pid"; then ok "SIGTERM: exit 0"; else not_ok "SIGTERM: exit 0"; fi
pid=
if [ -e "$sock" ]; then not_ok "socket removed"; else ok "socket removed"; fi
if [ "$failed" != 0 ]; then
	echo "--- server log (last 40 lines) ---"
	tail -n 40 "$tmp/log"
fi
exit "$failed"
