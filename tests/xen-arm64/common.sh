# shellcheck shell=bash disable=SC2034
# Shared settings for the real-Xen arm64 test (sourced by setup, build-daemon, run).
# Everything is downloaded and built under $XT_CACHE (default build/xen-arm64/ under the
# repo root); nothing from there is ever committed.

XT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
XT_REPO=$(cd "$XT_DIR/../.." && pwd)
XT_CACHE=${XT_CACHE:-$XT_REPO/build/xen-arm64}

# Pinned kernel ABI for dom0 and the guest. Debian's linux-image-arm64 metapackage moves
# from ABI to ABI; on 2025-11 bookworm(-security) served 6.1.0-56 (6.1.192-2), which
# is also the one real-xen-notes.md was measured with. Override with XT_KERNEL_ABI=...
XT_KERNEL_ABI=${XT_KERNEL_ABI:-6.1.0-56}
XT_KVER=$XT_KERNEL_ABI-arm64

# Xen hypervisor source: Debian's own source package from bookworm main (the security
# suite's 4.17.7 source is not served). The arm64 toolstack is Debian's candidate
# (4.17.7 from bookworm-security at the time of writing); it works with this hypervisor.
XT_XEN_SRC_VERSION=${XT_XEN_SRC_VERSION:-4.17.5+72-g01140da4e8-1}
XT_XEN_SERIES=4.17

# Guest-visible layout that xl (Xen 4.17, Arm) gives the first two virtio disks.
XT_GUEST_NAME=vblk-guest

# Private apt configuration for arm64 downloads: the host's dpkg/apt state is untouched
# (no dpkg --add-architecture); only indexes and .debs under $XT_CACHE/apt.
XT_APT_DIR=$XT_CACHE/apt
xt_apt_opts=(
  -o APT::Architecture=arm64 -o APT::Architectures::=arm64
  -o Dir::Etc::SourceList="$XT_APT_DIR/sources.list" -o Dir::Etc::SourceParts=/nonexistent
  -o Dir::State::Lists="$XT_APT_DIR/lists" -o Dir::Cache="$XT_APT_DIR/cache"
  -o Dir::State::status=/dev/null -o Debug::NoLocking=1 -o APT::Sandbox::User=root
)

XT_T0=$(date +%s.%N)
xt_now() { date +%s.%N; }
xt_elapsed() { awk -v a="$1" -v b="$(xt_now)" 'BEGIN { printf "%.1f", b - a }'; }
xt_log() { printf '[%6ss] %s\n' "$(xt_elapsed "$XT_T0")" "$*"; }
xt_die() { printf 'xen-arm64: ERROR: %s\n' "$*" >&2; exit 1; }

# xt_step NAME TIMEOUT_SECONDS CMD...: run one bounded step and print its wall time.
xt_step() {
  local name=$1 limit=$2 t rc=0
  shift 2
  t=$(xt_now)
  xt_log "step $name: start (limit ${limit}s)"
  timeout --foreground -k 10 "$limit" "$@" || rc=$?
  if [ "$rc" -eq 124 ]; then
    xt_log "step $name: TIMED OUT after ${limit}s"
  fi
  xt_log "step $name: done in $(xt_elapsed "$t")s (rc=$rc)"
  return "$rc"
}
