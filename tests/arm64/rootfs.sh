#!/usr/bin/env bash
# Build (once) and cache an arm64 Debian bookworm root filesystem for `make test-arm64`, outside the clone.
# Usage: tests/arm64/rootfs.sh [DIR]   (default $SLM_VOICE_ARM64_ROOTFS or ~/.cache/slm-voice-test/arm64-rootfs)
# Needs root, debootstrap, qemu-user-static and a registered qemu-aarch64 binfmt handler (this script registers
# it when it can). Prints the root filesystem's path on stdout when done.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/arm64/common.sh
. "$here/common.sh"

root="${1:-$ARM64_ROOTFS}"
stamp="$root/.slm-voice-rootfs-$ROOTFS_VERSION"
if [ -f "$stamp" ]; then
    echo "$root"
    exit 0
fi
need_root
ensure_host_tools
ensure_binfmt
mirror="${DEBIAN_MIRROR:-$(debian_mirror)}"
log "debootstrap arm64 bookworm into $root from $mirror (a few minutes under emulation) ..."
rm -rf "$root.partial"
mkdir -p "$(dirname "$root")"
# One stage: binfmt runs the arm64 maintainer scripts through qemu-aarch64-static.
debootstrap --arch=arm64 --variant=minbase --include="$ROOTFS_PACKAGES" bookworm "$root.partial" "$mirror" \
    >"$(dirname "$root")/debootstrap.log" 2>&1 || {
    tail -n 30 "$(dirname "$root")/debootstrap.log" >&2
    die "debootstrap failed (log: $(dirname "$root")/debootstrap.log)"
}
# The same apt sources a Pi OS / Debian bookworm image has (main, updates, security), from this mirror.
cat >"$root.partial/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${SECURITY_MIRROR:-${mirror%/debian}/debian-security} bookworm-security main
SOURCES
rm -rf "$root"
mv "$root.partial" "$root"
touch "$root/.slm-voice-rootfs-$ROOTFS_VERSION"
log "arm64 root filesystem ready: $root ($(du -sh "$root" | cut -f1))"
echo "$root"
