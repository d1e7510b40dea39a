#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The man pages: `mandoc -Tlint` prints nothing for either, and every long
# option `--help` lists is documented in xen-virtio-blkd(8) (and the other
# way round). Skips (77) only when mandoc is missing.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
daemon=$top/src/xen-virtio-blkd
command -v mandoc >/dev/null || { echo "mandoc not installed"; exit 77; }
fail=0
for m in "$top/man/xen-virtio-blkd.8" "$top/man/xen-virtio-blkd.conf.5"; do
	out=$(mandoc -Tlint "$m" 2>&1)
	if [ $? -ne 0 ] || [ -n "$out" ]; then
		echo "not ok - mandoc -Tlint ${m##*/}"; printf '%s\n' "$out" | sed 's/^/#   /'
		fail=1
	else
		echo "ok - mandoc -Tlint ${m##*/}"
	fi
done
help=$("$daemon" --help) || { echo "not ok - $daemon --help"; exit 1; }
# The rendered page: roff escapes (\-) resolved.
page=$(mandoc -Tascii "$top/man/xen-virtio-blkd.8" | col -b)
help_opts=$(printf '%s\n' "$help" | grep -oE -- '--[a-z][a-z-]*' | sort -u)
page_opts=$(printf '%s\n' "$page" | sed -n '/^OPTIONS/,/^[A-Z]/p' | grep -oE -- '--[a-z][a-z-]*' | sort -u)
[ -n "$help_opts" ] || { echo "not ok - no option in --help"; exit 1; }
for o in $help_opts; do
	if printf '%s\n' "$page_opts" | grep -qxF -- "$o"; then
		echo "ok - $o of --help is in OPTIONS of xen-virtio-blkd.8"
	else
		echo "not ok - $o of --help is in OPTIONS of xen-virtio-blkd.8"; fail=1
	fi
done
for o in $page_opts; do
	printf '%s\n' "$help_opts" | grep -qxF -- "$o" && continue
	echo "not ok - $o of xen-virtio-blkd.8 is not in --help"; fail=1
done
exit $fail
