#!/usr/bin/env bash
# Runs INSIDE the arm64 root filesystem (tests/arm64/run.sh starts it as root, in a copy of the project at
# /root/slm-voice): the README's install steps, then the smoke suite. Prints one PASS/FAIL line per check with
# its time; the exit status is the number of failed checks.
# Usage: tests/arm64/smoke.sh INPUT_DIR   (holding the host-built model archive *.tar, lm-command.txt, expected.json)
# shellcheck disable=SC2317  # the check functions are called through check()
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
input=$1
work=/tmp/arm64-smoke
rm -rf "$work" && mkdir -p "$work"
failed=0
bin=.venv/bin

check() {  # check NAME COMMAND...: run it, log to $work/NAME.log, report PASS/FAIL and seconds
    local name=$1 t0=$SECONDS
    shift
    if "$@" >"$work/$name.log" 2>&1; then
        printf '[arm64] PASS %-34s %5ds\n' "$name" $((SECONDS - t0))
    else
        printf '[arm64] FAIL %-34s %5ds   (last lines of %s:)\n' "$name" $((SECONDS - t0)) "$work/$name.log"
        tail -n 15 "$work/$name.log" | sed 's/^/         /'
        failed=$((failed + 1))
    fi
}

json_check() {  # json_check FILE PYTHON-EXPRESSION-ON-d (the last JSON line of FILE)
    "$bin/python" - "$1" "$2" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1], encoding="utf-8") if l.lstrip().startswith("{")]
d = json.loads(lines[-1])
ok = eval(sys.argv[2], {"d": d})
print(("ok: " if ok else "NOT: ") + sys.argv[2], "<-", json.dumps(d)[:400])
sys.exit(0 if ok else 1)
PY
}

# shellcheck source=/dev/null
echo "[arm64] $(uname -m), $(. /etc/os-release && echo "$PRETTY_NAME"), $(python3 --version)"

# The README's install steps: system packages and the venv (`make run` also builds the language model and starts
# the daemon; a Pi short of memory imports a model built elsewhere instead, as below).
check install make deps-run venv

models() {
    "$bin/slm-voice" models --json | tee "$work/models.json" &&
        "$bin/python" -c "
import json, sys
rows = [json.loads(l) for l in open('$work/models.json')]
bad = [r for r in rows if not r['status'].startswith('verified')]
print(len(rows), 'models;', 'not verified:', bad)
sys.exit(1 if bad or not rows else 0)"
}
check models-verified models

understand() {
    "$bin/slm-voice" understand --no-slm --json "turn on the kitchen light" | tee "$work/understand.json" &&
        json_check "$work/understand.json" \
            "d['intent'] == 'HassTurnOn' and d['entity_ids'] == ['light.kitchen_ceiling'] and d['tier'] == 'template'"
}
check understand-no-slm understand

say() {
    "$bin/slm-voice" say "Turn on the kitchen light." --out "$work/command.wav" &&
        "$bin/python" -c "
import wave
with wave.open('$work/command.wav') as w:
    s = w.getnframes() / w.getframerate()
print(f'{s:.2f} s of speech')
assert 0.8 < s < 6"
}
check say say

transcribe() {
    "$bin/slm-voice" transcribe --json "$work/command.wav" | tee "$work/transcribe.json" &&
        json_check "$work/transcribe.json" "'kitchen light' in d['text'].lower()"
}
check transcribe transcribe

process() {
    "$bin/python" tests/arm64/smoke_config.py process "$work/process.yaml" &&
        "$bin/slm-voice" process --no-wake --json --config "$work/process.yaml" "$work/command.wav" |
        tee "$work/process.json" &&
        json_check "$work/process.json" "d['intent'] == 'HassTurnOn' and d['entity_ids'] == ['light.kitchen_ceiling']"
}
check process-spoken-command process

import_archive() {
    local archive
    archive=$(ls "$input"/*.tar) && "$bin/slm-voice" models import "$archive" && "$bin/slm-voice" models | grep smollm2
}
check models-import import_archive

language_model() {
    "$bin/python" tests/arm64/smoke_config.py lm "$work/lm.yaml" &&
        "$bin/slm-voice" understand --json --config "$work/lm.yaml" "$(cat "$input/lm-command.txt")" |
        tee "$work/lm.json" &&
        "$bin/python" - "$work/lm.json" "$input/expected.json" <<'PY'
import json, sys
got, want = (json.loads([l for l in open(p) if l.startswith("{")][-1]) for p in sys.argv[1:])
keys = ("text", "intent", "slots", "entity_ids", "reply", "tier")
print("arm64:  ", {k: got.get(k) for k in keys})
print("x86-64: ", {k: want.get(k) for k in keys})
sys.exit(0 if got["tier"] == "slm" and all(got.get(k) == want.get(k) for k in keys) else 1)
PY
}
check smollm2-answers-as-on-x86 language_model

echo "[arm64] $failed check(s) failed"
exit "$failed"
