#!/usr/bin/env bash
# make test-arm64: slm-voice installed and smoke-tested on arm64 Debian bookworm (what 64-bit Raspberry Pi OS
# bookworm is built on), under qemu-user emulation, as a Pi owner would: the project's files copied in fresh,
# the README's install steps run inside, then tests/arm64/smoke.sh (models verified, understand --no-slm, say,
# transcribe, process on a spoken command, and the smallest language model answering from a model archive that
# was built and exported on this machine, then imported there: its answer must equal this machine's).
#
# Needs root (debootstrap, chroot, mounts, binfmt_misc), the host's .venv and .build-venv (`make venv build-env`).
# The root filesystem is cached outside the clone ($SLM_VOICE_ARM64_ROOTFS, else
# ~/.cache/slm-voice-test/arm64-rootfs); the pip cache inside it makes reruns faster.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=tests/arm64/common.sh
. "$here/common.sh"
default_command="it's way too dark in the kitchen"
LM_COMMAND="${SLM_VOICE_ARM64_LM_COMMAND:-$default_command}"

t_start=$SECONDS
need_root
ensure_host_tools
ensure_binfmt
root="$("$here/rootfs.sh")"
[ -x "$repo/.venv/bin/slm-voice" ] || die "$repo/.venv is missing: run make venv build-env first"

# 1. On this machine (the "PC"): the smallest language model, built and exported; its answer to one command.
input="$root/root/arm64-smoke-input"
rm -rf "$input" && mkdir -p "$input"
models_dir="$("$repo/.venv/bin/python" -c 'from slm_voice.models.locate import models_dir; print(models_dir())')"
log "building (if needed) and exporting smollm2-135m from $models_dir ..."
SLM_VOICE_BUILD_PYTHON="$repo/.build-venv/bin/python" \
    "$repo/.venv/bin/slm-voice" models build --model smollm2-135m --models-dir "$models_dir" >&2
"$repo/.venv/bin/slm-voice" models export "$input/" --model smollm2-135m --models-dir "$models_dir" >&2
printf '%s' "$LM_COMMAND" >"$input/lm-command.txt"
"$repo/.venv/bin/python" "$here/smoke_config.py" lm "$input/host-lm.yaml" "$models_dir"
"$repo/.venv/bin/slm-voice" understand --json --config "$input/host-lm.yaml" "$LM_COMMAND" >"$input/expected.json"
log "x86-64 answer: $(tail -n 1 "$input/expected.json")"

# 2. The project's files as a clone has them (tracked and untracked, not ignored: no venvs, no models), fresh.
dest="$root/root/slm-voice"
rm -rf "$dest" && mkdir -p "$dest"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf -) | tar -xf - -C "$dest"

# 3. Into the root filesystem: /proc with a Raspberry Pi 5's cpuinfo (qemu-user 7.2 shows the host's x86 one,
# and onnxruntime's cpuinfo library aborts on it), /dev, /sys, DNS, and the host's CA bundle for pip.
mounted=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
mount -t proc proc "$root/proc" && mounted+=("$root/proc")
mount --bind "$here/cpuinfo-pi5" "$root/proc/cpuinfo" && mounted+=("$root/proc/cpuinfo")
# rslave: unmounting these copies later must not reach the host's own mounts.
mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys" && mounted+=("$root/sys")
mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev" && mounted+=("$root/dev")
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/host-ca-bundle.crt"

log "inside the arm64 root filesystem: make deps-run venv, then the smoke suite (emulated: slow) ..."
t_inside=$SECONDS
set +e
chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_CERT=/etc/ssl/host-ca-bundle.crt SSL_CERT_FILE=/etc/ssl/host-ca-bundle.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive \
    bash /root/slm-voice/tests/arm64/smoke.sh /root/arm64-smoke-input
failed=$?
set -e
log "inside: $((SECONDS - t_inside)) s; all of make test-arm64: $((SECONDS - t_start)) s"
exit "$failed"
