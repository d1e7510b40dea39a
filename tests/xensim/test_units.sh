#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The systemd units: @SBINDIR@ substituted as `make install` does, then
# `systemd-analyze verify` must print nothing. Xen's own units
# (proc-xen.mount, xenstored.service) are stood in for when this host has
# no Xen packages; the man pages the units name are found in the tree.
# Skips (77) only when systemd-analyze is missing.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed"; exit 77; }
t=$(mktemp -d) || exit 1
trap 'rm -rf "$t"' EXIT
units=$t/units
mkdir -p "$units" "$t/man/man8" "$t/man/man5"
cp "$top"/man/*.8 "$t/man/man8/"
cp "$top"/man/*.5 "$t/man/man5/" 2>/dev/null
for u in "$top"/systemd/*.service; do
	sed -e "s|@SBINDIR@|$top/src|g" -e "s|@SYSCONFDIR@|/etc|g" "$u" >"$units/$(basename "$u")"
done
if grep -q '@[A-Z]*@' "$units"/*; then
	echo "FAIL: unsubstituted @VARIABLES@ remain"; grep '@[A-Z]*@' "$units"/*; exit 1
fi
[ -x "$top/src/xen-virtio-blkd" ] || { echo "FAIL: build the daemon first"; exit 1; }
systemctl cat proc-xen.mount >/dev/null 2>&1 || cat >"$units/proc-xen.mount" <<'UNIT'
[Unit]
Description=stand-in for Xen's proc-xen.mount (test only)
[Mount]
What=xenfs
Where=/proc/xen
Type=xenfs
UNIT
systemctl cat xenstored.service >/dev/null 2>&1 || cat >"$units/xenstored.service" <<'UNIT'
[Unit]
Description=stand-in for Xen's xenstored.service (test only)
[Service]
ExecStart=/bin/true
UNIT
fail=0
for u in xen-virtio-blkd.service xen-virtio-blkd@guest1.service; do
	out=$(cd "$units" && MANPATH="$t/man" systemd-analyze verify "./$u" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] || [ -n "$out" ]; then
		echo "not ok - systemd-analyze verify $u (exit $rc)"
		printf '%s\n' "$out" | sed 's/^/#   /'
		fail=1
	else
		echo "ok - systemd-analyze verify $u"
	fi
done
# The properties the issue asks for.
props=$(grep -h -E '^(Type|Requires|ConditionPathExists|Restart|DevicePolicy)=' \
	"$units/xen-virtio-blkd.service")
for want in Type=notify 'Requires=proc-xen.mount xenstored.service' \
	ConditionPathExists=/proc/xen/capabilities Restart=on-failure DevicePolicy=closed; do
	if printf '%s\n' "$props" | grep -qxF "$want"; then
		echo "ok - xen-virtio-blkd.service has $want"
	else
		echo "not ok - xen-virtio-blkd.service has $want"; fail=1
	fi
done
exit $fail
