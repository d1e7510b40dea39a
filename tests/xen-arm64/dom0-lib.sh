# Helpers for the dom0 side (busybox ash). Output protocol read by tests/xen-arm64/run:
#   XT-SAY text                       narration
#   XT-STEP name seconds              a step's wall time (dom0 clock)
#   XT-RESULT PASS|FAIL name [detail] one per check
#   XT-INFO key=value                 a measured number
#   XT-LOG source| line               log excerpts (printed by run on failure)
#   XT-DONE                           the scenario ran to its end
now()    { cut -d' ' -f1 /proc/uptime; }
since()  { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
say()    { echo "XT-SAY $*"; }
info()   { echo "XT-INFO $*"; }
result() { r=$1; shift; echo "XT-RESULT $r $*"; }
kparam() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" /proc/cmdline; }
# dump SOURCE FILE [LINES]: the last lines of a log, for the failure report.
dump()   { [ -f "$2" ] && tail -n "${3:-30}" "$2" | tr -d '\r' | sed "s/^/XT-LOG $1| /"; }
