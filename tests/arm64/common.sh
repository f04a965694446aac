# Shared helpers of the arm64 check (sourced, not run).
# shellcheck shell=bash disable=SC2034  # the variables are used by the scripts that source this file

ARM64_ROOTFS="${SLM_VOICE_ARM64_ROOTFS:-$HOME/.cache/slm-voice-test/arm64-rootfs}"
# Bump when ROOTFS_PACKAGES change: a cached root filesystem of another version is rebuilt.
ROOTFS_VERSION=1
# What a fresh 64-bit Pi OS Lite image already has that debootstrap's minbase lacks (make, sudo, certificates);
# the project's own steps (make deps-run) install the rest.
ROOTFS_PACKAGES="ca-certificates,make,sudo,python3,python3-venv,git"

log() { printf '[arm64] %s\n' "$*" >&2; }
die() { printf '[arm64] error: %s\n' "$*" >&2; exit 1; }

need_root() {
    [ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot and binfmt_misc): run it with sudo"
}

ensure_host_tools() {
    local missing=()
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
    command -v update-binfmts >/dev/null || missing+=(binfmt-support)
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing ${missing[*]} ..."
        apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# Register qemu-aarch64 with the kernel's binfmt_misc (flag F: the interpreter is opened now, so it need not exist
# inside the chroot). Without binfmt_misc, arm64 programs cannot start other arm64 programs (pip, venv, make all
# do): qemu-user has no exec interception, so there is no fallback; say so.
ensure_binfmt() {
    local bm=/proc/sys/fs/binfmt_misc
    [ -e "$bm/register" ] || mount binfmt_misc -t binfmt_misc "$bm" 2>/dev/null || true
    [ -e "$bm/qemu-aarch64" ] || update-binfmts --enable qemu-aarch64 2>/dev/null || true
    if ! grep -qs '^enabled' "$bm/qemu-aarch64"; then
        die "cannot register qemu-aarch64 in binfmt_misc ($bm): this machine (a container without privileges?) " \
            "cannot run an arm64 root filesystem. Single arm64 programs still run as 'qemu-aarch64-static -L ROOT " \
            "PROGRAM', but pip and make start other programs, which needs binfmt_misc."
    fi
}

# The Debian mirror this host's apt uses (deb822 or one-line sources), else deb.debian.org.
debian_mirror() {
    local m
    m="$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null |
        grep -v security | grep -oE 'https?://[^ ]+/debian/?' | head -n1)"
    m="${m:-http://deb.debian.org/debian}"
    echo "${m%/}"
}
