"""Audio sources and sinks on real files, real pipes and real PortAudio devices (ALSA file plugins)."""

from __future__ import annotations

import io
import json
import math
import os
import random
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import soxr

from slm_voice.pipeline.audio import AudioFormatError
from slm_voice.pipeline.earcon import earcon
from slm_voice.pipeline.frames import FRAME_SAMPLES, SAMPLE_RATE, OutputAudio
from slm_voice.pipeline.pcm import StreamResampler, to_float32
from slm_voice.pipeline.sinks import NullSink, StdoutSink, WavFileSink, open_sink
from slm_voice.pipeline.sources import StdinSource, WavFileSource, open_source
from slm_voice.pipeline.wav import read_wav_16k, write_wav

REPO = Path(__file__).resolve().parents[1]


def sox(*args: str | Path) -> None:
    subprocess.run(["sox", *map(str, args)], check=True, capture_output=True)


def spectrum_peaks(x: np.ndarray, rate: int, count: int = 1) -> list[float]:
    """Frequencies (Hz) of the strongest spectral peaks, strongest first."""
    spec = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    peaks: list[float] = []
    for _ in range(count):
        i = int(np.argmax(spec))
        peaks.append(float(freqs[i]))
        spec[max(0, i - 20) : i + 20] = 0  # suppress this peak's skirt before looking for the next
    return peaks


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def concat(frames: list) -> np.ndarray:
    return np.concatenate([f.samples for f in frames])


def check_framing(frames: list, seconds: float) -> None:
    assert len(frames) == math.ceil(round(seconds * SAMPLE_RATE) / FRAME_SAMPLES)
    assert {len(f.pcm) for f in frames} == {FRAME_SAMPLES * 2}
    assert [f.stream_s for f in frames] == pytest.approx([i * FRAME_SAMPLES / SAMPLE_RATE for i in range(len(frames))])
    arrived = [f.arrived for f in frames]
    assert arrived == sorted(arrived)


# ---------------------------------------------------------------------------------------------- WAV sources


@pytest.mark.parametrize(
    "sox_format",
    [
        ["-r", "48000", "-c", "2", "-b", "16"],
        ["-r", "8000", "-c", "1", "-b", "16"],
        ["-r", "44100", "-c", "1", "-b", "24"],  # sox writes WAVE_FORMAT_EXTENSIBLE here
        ["-r", "22050", "-c", "3", "-b", "8"],
        ["-r", "16000", "-c", "1", "-b", "32"],
        ["-r", "32000", "-c", "2", "-e", "floating-point", "-b", "32"],
        ["-r", "16000", "-c", "1", "-e", "floating-point", "-b", "64"],
    ],
    ids=["48k-stereo-16", "8k-mono-16", "44k1-mono-24", "22k05-3ch-8", "16k-mono-32", "32k-stereo-f32", "f64"],
)
def test_wav_source_yields_16k_mono_frames(tmp_path: Path, sox_format: list[str]) -> None:
    path = tmp_path / "sine.wav"
    sox("-n", *sox_format, path, "synth", "1.0", "sine", "1000", "vol", "0.5")
    source = WavFileSource(path)
    frames = list(source.frames())
    check_framing(frames, 1.0)
    x = concat(frames)
    assert spectrum_peaks(x[:SAMPLE_RATE], SAMPLE_RATE) == [pytest.approx(1000, abs=2)]
    # every channel carries the same sine, so the mono mix keeps its level (amplitude 0.5 full scale)
    assert rms(x[800:15200]) == pytest.approx(0.5 * 32768 / math.sqrt(2), rel=0.03)
    assert str(path) in source.description


def test_stereo_downmix_averages_channels(tmp_path: Path) -> None:
    path = tmp_path / "two.wav"
    # left channel 1 kHz, right channel 3 kHz: the mix holds both at half level
    sox("-n", "-r", "48000", "-c", "2", "-b", "16", path, "synth", "1.0", "sine", "1000", "sine", "3000", "vol", "0.8")
    x = read_wav_16k(path)
    assert len(x) == SAMPLE_RATE
    assert sorted(spectrum_peaks(x, SAMPLE_RATE, 2)) == [pytest.approx(1000, abs=2), pytest.approx(3000, abs=2)]
    assert rms(x[800:15200]) == pytest.approx(0.8 * 32768 / 2, rel=0.03)  # two half-level sines


def test_16k_mono_passes_bit_exact_with_padding_and_silences(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    pcm = rng.integers(-32768, 32768, size=20_000, dtype=np.int16)
    path = tmp_path / "noise.wav"
    write_wav(path, pcm, SAMPLE_RATE)

    x = concat(list(WavFileSource(path).frames()))
    assert len(x) == 40 * FRAME_SAMPLES  # 20 000 samples fill 39.06 frames: the last one is zero-padded
    assert np.array_equal(x[: len(pcm)], pcm)
    assert not x[len(pcm) :].any()

    frames = list(WavFileSource(path, lead_silence_s=0.25, tail_silence_s=0.5).frames())
    check_framing(frames, 0.25 + 20_000 / SAMPLE_RATE + 0.5)
    y = concat(frames)
    assert not y[:4000].any()
    assert np.array_equal(y[4000:24_000], pcm)
    assert not y[24_000:].any()
    assert np.array_equal(read_wav_16k(path), pcm)


def test_read_wav_16k_matches_the_streamed_frames(tmp_path: Path) -> None:
    path = tmp_path / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-w", str(path), "turn on the kitchen light"], check=True, capture_output=True
    )
    with wave.open(str(path)) as w:  # espeak-ng writes 22 050 Hz mono
        seconds = w.getnframes() / w.getframerate()
    whole = read_wav_16k(path)
    assert len(whole) == round(seconds * SAMPLE_RATE)
    streamed = concat(list(WavFileSource(path).frames()))
    assert np.array_equal(streamed[: len(whole)], whole)
    assert rms(whole) > 500  # speech, not silence


def _valid_wav(path: Path) -> Path:
    write_wav(path, (np.sin(np.arange(8000) / 5) * 10_000).astype(np.int16), SAMPLE_RATE)
    return path


def _bad_file(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.wav"
    if kind == "empty":
        write_wav(path, np.zeros(0, np.int16), SAMPLE_RATE)
    elif kind == "truncated":
        data = _valid_wav(tmp_path / "ok.wav").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "header-only-half":
        path.write_bytes(_valid_wav(tmp_path / "ok.wav").read_bytes()[:30])
    elif kind == "text":
        path.write_text("this is not audio at all\n" * 10)
    elif kind == "adpcm":
        sox("-n", "-r", "16000", "-c", "1", "-e", "ima-adpcm", path, "synth", "0.5", "sine", "440")
    elif kind == "directory":
        path.mkdir()
    return path


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("empty", "no audio samples"),
        ("truncated", "truncated"),
        ("header-only-half", "truncated"),
        ("text", "not a WAV file"),
        ("missing", "no such file"),
        ("directory", "directory"),
        ("adpcm", "unsupported WAV encoding"),
    ],
)
def test_bad_wav_files_fail_in_the_constructor_with_a_clear_message(tmp_path: Path, kind: str, problem: str) -> None:
    path = _bad_file(tmp_path, kind)
    with pytest.raises(AudioFormatError) as err:
        WavFileSource(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    assert problem in message
    assert "\n" not in message and "Traceback" not in message
    assert isinstance(err.value, ValueError)
    with pytest.raises(AudioFormatError, match=problem):
        read_wav_16k(path)
    with pytest.raises(AudioFormatError, match=problem):
        open_source(f"file:{path}")


def test_realtime_pacing_and_close(tmp_path: Path) -> None:
    path = _valid_wav(tmp_path / "half.wav")  # 0.5 s
    source = WavFileSource(path, realtime=True, tail_silence_s=0.5)
    start = time.monotonic()
    frames = list(source.frames())
    elapsed = time.monotonic() - start
    check_framing(frames, 1.0)
    assert elapsed >= 0.8  # 1 s of audio at real speed (no upper bound: the machine is shared)
    # each frame arrives no earlier than its last sample would have been captured live
    assert all(f.arrived - start >= f.end_s - 0.01 for f in frames)

    # close() from another thread ends a paced stream early
    source = WavFileSource(path, realtime=True, tail_silence_s=30.0)
    threading.Timer(0.3, source.close).start()
    assert len(list(source.frames())) < 200


# ---------------------------------------------------------------------------------------------- stdin / pipes


def test_stdin_source_reads_a_real_pipe_bit_exact() -> None:
    rng = np.random.default_rng(2)
    pcm = rng.integers(-32768, 32768, size=10_000, dtype=np.int16).astype("<i2").tobytes() + b"\x7f"
    read_fd, write_fd = os.pipe()

    def writer() -> None:
        chunks = random.Random(3)
        pos = 0
        while pos < len(pcm):
            n = chunks.randint(1, 1500)  # irregular sizes, often odd, splitting samples and frames
            os.write(write_fd, pcm[pos : pos + n])
            pos += n
            time.sleep(chunks.choice([0, 0, 0.001, 0.005]))
        os.close(write_fd)

    thread = threading.Thread(target=writer)
    thread.start()
    with os.fdopen(read_fd, "rb") as stream:
        frames = list(StdinSource(stream).frames())
    thread.join()
    check_framing(frames, 10_000 / SAMPLE_RATE)
    x = concat(frames)
    assert x[:10_000].tobytes() == pcm[:-1]  # the odd trailing byte is dropped
    assert not x[10_000:].any()


def test_stdin_source_close_stops_a_quiet_pipe_and_reads_memory_streams() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, bytes(2 * FRAME_SAMPLES))  # one frame, then the writer goes quiet but stays open
    source = StdinSource(os.fdopen(read_fd, "rb"))
    got: list = []
    thread = threading.Thread(target=lambda: got.extend(source.frames()))
    thread.start()
    deadline = time.monotonic() + 30
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    source.close()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(got) == 1
    os.close(write_fd)

    data = np.arange(1000, dtype="<i2").tobytes()
    frames = list(StdinSource(io.BytesIO(data), tail_silence_s=0.064).frames())
    check_framing(frames, (1000 + 1024) / SAMPLE_RATE)
    assert concat(frames)[:1000].tolist() == list(range(1000))


# ---------------------------------------------------------------------------------------------- sounddevice via ALSA


def run_with_alsa(tmp_path: Path, script: str) -> dict:
    """Run a script in a fresh interpreter whose ALSA sees two file-backed devices.

    filemic reads tmp_path/in.raw (raw samples in whatever format the stream asks for, not paced);
    filespk writes what it plays to tmp_path/out.raw. PortAudio enumerates devices when sounddevice
    is imported, hence the fresh process with its own HOME.
    """
    (tmp_path / ".asoundrc").write_text(
        "pcm.nulldev { type null }\n"
        f'pcm.filemic {{ type file; slave.pcm "nulldev"; file "/dev/null"; infile "{tmp_path}/in.raw"; '
        'format "raw" }\n'
        f'pcm.filespk {{ type file; slave.pcm "nulldev"; file "{tmp_path}/out.raw"; format "raw" }}\n'
    )
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


MIC_SCRIPT = """
import itertools, json, sys
import numpy as np
from slm_voice.pipeline.sources import MicSource, open_source
tmp, device, rate, n = sys.argv[1], sys.argv[2], sys.argv[3], 28
source = MicSource(device, sample_rate=int(rate) if rate != "auto" else None)
frames = list(itertools.islice(source.frames(), n))
source.close()
np.save(f"{tmp}/got.npy", np.concatenate([f.samples for f in frames]))
print(json.dumps({"description": source.description, "stream_s": [f.stream_s for f in frames],
                  "sizes": sorted({len(f.pcm) for f in frames}), "rate": source.sample_rate,
                  "by_factory": open_source("mic", input_device=device).description}))
"""


def test_mic_source_reads_a_16k_device_bit_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    pcm = (rng.normal(0, 3000, size=SAMPLE_RATE)).astype("<i2")
    (tmp_path / "in.raw").write_bytes(pcm.tobytes())
    out = run_with_alsa(tmp_path, MIC_SCRIPT.replace("sys.argv[2], sys.argv[3]", '"FileMic", "auto"'))
    assert out["rate"] == SAMPLE_RATE  # the null device takes 16 kHz, so no resampling
    assert out["sizes"] == [FRAME_SAMPLES * 2]
    assert out["stream_s"] == pytest.approx([i * 0.032 for i in range(28)])
    assert "filemic" in out["description"] and "filemic" in out["by_factory"]
    got = np.load(tmp_path / "got.npy")
    assert np.array_equal(got, pcm[: len(got)])


def test_mic_source_resamples_a_48k_device(tmp_path: Path) -> None:
    t = np.arange(48_000) / 48_000
    pcm48 = (np.sin(2 * np.pi * 1000 * t) * 12_000 + np.sin(2 * np.pi * 2500 * t) * 4000).astype("<i2")
    (tmp_path / "in.raw").write_bytes(pcm48.tobytes())
    write_wav(tmp_path / "in48.wav", pcm48, 48_000)
    out = run_with_alsa(tmp_path, MIC_SCRIPT.replace("sys.argv[2], sys.argv[3]", '"filemic", "48000"'))
    assert out["rate"] == 48_000 and "resampled to 16 kHz" in out["description"]
    got = np.load(tmp_path / "got.npy")
    assert len(got) == 28 * FRAME_SAMPLES
    # the streaming resampler gives what resampling the whole file at once gives
    expected = read_wav_16k(tmp_path / "in48.wav")[: len(got)]
    assert np.abs(got.astype(int) - expected).max() <= 1
    assert sorted(spectrum_peaks(got[1000:], SAMPLE_RATE, 2)) == [
        pytest.approx(1000, abs=3),
        pytest.approx(2500, abs=3),
    ]


def test_device_errors_list_the_devices(tmp_path: Path) -> None:
    (tmp_path / "in.raw").write_bytes(bytes(1024))
    out = run_with_alsa(
        tmp_path,
        """
import json
from slm_voice.pipeline.audio import AudioDeviceError
from slm_voice.pipeline.sinks import SpeakerSink
from slm_voice.pipeline.sources import MicSource
errors = {}
for name, make in [("missing", lambda: MicSource("usb headset")), ("ambiguous", lambda: MicSource("file")),
                   ("index", lambda: SpeakerSink(99))]:
    try:
        make()
        errors[name] = None
    except AudioDeviceError as e:
        errors[name] = str(e)
errors["by_index"] = MicSource("1").description
errors["default"] = MicSource().description  # PortAudio's default: the first ALSA device here
print(json.dumps(errors))
""",
    )
    assert "no input device matches 'usb headset'" in out["missing"]
    assert "#1 filemic" in out["missing"] and "#0 nulldev" in out["missing"]
    assert "ambiguous" in out["ambiguous"] and "filemic" in out["ambiguous"] and "filespk" in out["ambiguous"]
    assert "nulldev" in out["default"]
    assert "output device #99 does not exist" in out["index"] and "filespk" in out["index"]
    assert "filemic" in out["by_index"]


def test_speaker_sink_plays_through_a_device(tmp_path: Path) -> None:
    (tmp_path / "in.raw").write_bytes(b"")
    tone = (np.sin(2 * np.pi * 440 * np.arange(11_025) / 22_050) * 9000).astype("<i2")
    high = (np.sin(2 * np.pi * 3000 * np.arange(8000) / 16_000 + 0.3) * 9000).astype("<i2")
    np.save(tmp_path / "tone.npy", tone)
    np.save(tmp_path / "high.npy", high)
    out = run_with_alsa(
        tmp_path,
        """
import json, sys
import numpy as np
from slm_voice.pipeline.sinks import open_sink
from slm_voice.pipeline.frames import OutputAudio
tmp = sys.argv[1]
sink = open_sink("speaker", output_device="filespk")
sink.write(OutputAudio(np.load(f"{tmp}/tone.npy").tobytes(), 22050))
sink.drain()
sink.write(OutputAudio(np.load(f"{tmp}/high.npy").tobytes(), 16000))
sink.drain()
sink.close()
print(json.dumps({"description": sink.description}))
""",
    )
    assert "22050 Hz" in out["description"]  # opened at the first chunk's rate
    played = np.frombuffer((tmp_path / "out.raw").read_bytes(), dtype="<i2")
    start = np.flatnonzero(played)[0] - 1  # PortAudio primes the device with silence; tone[0] is 0 too
    assert np.array_equal(played[start : start + len(tone)], tone)
    # The null device is not paced: whenever the queue runs dry (here: while the resampler still holds
    # the chunk's last few ms until drain()) it plays zeros at full speed, so drop the zeros.
    rest = played[start + len(tone) :]
    second = rest[rest != 0]
    resampled = soxr.resample(high.astype(np.float32) / 32768, 16_000, 22_050)
    expected = np.clip(np.rint(resampled * 32768), -32768, 32767).astype(np.int16)
    assert np.abs(len(second) - len(expected[expected != 0])) <= 2
    n = min(len(second), len(expected[expected != 0]))
    assert np.abs(second[:n].astype(int) - expected[expected != 0][:n]).max() <= 1  # the 16 kHz chunk, resampled


# ---------------------------------------------------------------------------------------------- file/null sinks


def test_wav_file_sink_appends_turns_into_one_valid_wav(tmp_path: Path) -> None:
    path = tmp_path / "reply.wav"
    rng = np.random.default_rng(5)
    turn1 = [rng.integers(-8000, 8000, size=n, dtype=np.int16) for n in (5000, 7001)]
    turn2 = rng.integers(-8000, 8000, size=3000, dtype=np.int16)
    sink = open_sink(f"file:{path}")
    assert isinstance(sink, WavFileSink)
    for chunk in turn1:
        sink.write(OutputAudio(chunk.tobytes(), 22_050))
    sink.drain()
    with wave.open(str(path)) as w:  # the header is valid between turns, before close()
        assert w.getnframes() == 12_001
    sink.write(OutputAudio(turn2.tobytes(), 22_050))
    tone16 = (np.sin(2 * np.pi * 500 * np.arange(16_000) / 16_000) * 8000).astype(np.int16)
    sink.write(OutputAudio(tone16.tobytes(), 16_000))  # another rate: resampled to the file's 22 050 Hz
    sink.drain()
    sink.close()
    sink.close()  # idempotent

    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (22_050, 1, 2)
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert np.array_equal(data[:15_001], np.concatenate([*turn1, turn2]))
    resampled = data[15_001:]
    assert len(resampled) == pytest.approx(22_050, abs=2)
    assert spectrum_peaks(resampled, 22_050) == [pytest.approx(500, abs=2)]


def test_wav_file_sink_closed_without_audio_leaves_an_empty_valid_wav(tmp_path: Path) -> None:
    sink = WavFileSink(tmp_path / "nothing.wav")
    sink.close()
    with wave.open(str(tmp_path / "nothing.wav")) as w:
        assert w.getnframes() == 0


def test_null_sink_counts() -> None:
    sink = open_sink("null")
    assert isinstance(sink, NullSink)
    sink.write(OutputAudio(bytes(2 * 22_050), 22_050))
    sink.write(OutputAudio(bytes(2 * 8000), 16_000))
    sink.drain()
    assert sink.samples_written == 30_050
    assert sink.seconds_written == pytest.approx(1.5)
    assert sink.chunks == 2


def test_bad_specs() -> None:
    with pytest.raises(ValueError, match="expected mic, stdin or file:PATH"):
        open_source("microphone")
    with pytest.raises(ValueError, match="expected speaker, null, stdout or file:PATH"):
        open_sink("file:")
    assert isinstance(open_source("stdin"), StdinSource)
    assert isinstance(open_sink("stdout"), StdoutSink)


def test_a_live_stdin_drops_what_waited_in_the_pipe_and_is_never_paced() -> None:
    """What arrived while the daemon was loading is not replayed (it would put every command behind by as much)."""
    r, w = os.pipe()
    os.write(w, b"\x01\x00" * 16000 + b"\x02")  # 1 s of backlog (and half a sample)
    source = open_source("stdin", live=True)
    assert isinstance(source, StdinSource)
    source._stream = os.fdopen(r, "rb")  # the pipe stands in for stdin
    frames = source.frames()
    # Once the source runs: the other half of that sample, then one live frame.
    later = threading.Timer(0.3, os.write, (w, b"\x00" + b"\x07\x00" * 512))
    later.start()
    first = next(frames)
    later.join()
    assert source.dropped_s == pytest.approx(1.0, abs=0.01)
    assert set(np.frombuffer(first.pcm, dtype="<i2")) == {7}  # aligned: the live frame, not the backlog
    assert first.stream_s == 0.0
    source.close()
    os.close(w)


def test_stdout_sink_writes_raw_pcm_at_its_rate() -> None:
    out = io.BytesIO()
    sink = StdoutSink(out, sample_rate=22050)
    sink.write(OutputAudio(np.full(2205, 1000, dtype="<i2").tobytes(), 22050))
    sink.drain()
    assert np.frombuffer(out.getvalue(), dtype="<i2").tolist() == [1000] * 2205


# ---------------------------------------------------------------------------------------------- helpers


def test_earcon_is_a_short_two_tone_chime() -> None:
    chime = earcon()
    x = np.frombuffer(chime.pcm, dtype="<i2")
    assert chime.sample_rate == 22_050
    assert len(x) / 22_050 == pytest.approx(0.15, abs=0.01)
    assert 0.3 * 32768 < np.abs(x).max() < 0.4 * 32768  # audible, far from clipping
    assert abs(int(x[0])) < 500 and abs(int(x[-1])) < 50  # no click at either end
    assert sorted(spectrum_peaks(x, 22_050, 2)) == [pytest.approx(880, abs=20), pytest.approx(1318.5, abs=20)]
    assert len(np.frombuffer(earcon(16_000).pcm, dtype="<i2")) == 2400


def test_to_float32_and_stream_resampler() -> None:
    pcm = np.array([-32768, -16384, 0, 16384, 32767], dtype="<i2").tobytes()
    assert to_float32(pcm + b"\x01").tolist() == pytest.approx([-1.0, -0.5, 0.0, 0.5, 32767 / 32768])
    assert to_float32(pcm).dtype == np.float32

    x = np.random.default_rng(6).normal(0, 0.1, 44_100).astype(np.float32)
    rs = StreamResampler(44_100, SAMPLE_RATE)
    pieces = [rs.process(x[i : i + 1234]) for i in range(0, len(x), 1234)] + [rs.flush()]
    streamed = np.concatenate(pieces)
    assert len(streamed) == SAMPLE_RATE
    assert np.allclose(streamed, soxr.resample(x, 44_100, SAMPLE_RATE), atol=1e-6)
    same = StreamResampler(SAMPLE_RATE, SAMPLE_RATE)
    assert np.array_equal(same.process(x), x) and same.flush().size == 0
