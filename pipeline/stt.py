"""Speech-to-text stage: faster-whisper (CTranslate2) on one command's audio (the faster-whisper engine of
daemon/engines.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .frames import SAMPLE_RATE
from .intent.model import Home
from .roles import Transcription

MAX_SHORT_S = 28.0
"""Commands longer than this take faster-whisper's ordinary 30 s path."""
HOP = 160
"""Whisper's mel hop: one feature frame per 10 ms."""
PAD_FRAMES = 300
"""Three seconds of silence after the command: with less, Whisper tends to repeat the sentence."""
MIN_WINDOW_FRAMES = 1000
"""At least 10 s: shorter windows made Whisper repeat short commands more often."""
PHRASE_PAD_FRAMES = 100
"""A few words (hear_phrase): one second of silence after them is enough to end the decode."""
PHRASE_MIN_FRAMES = 200
"""... in a window of at least 2 s."""
HOME_FIT_WEIGHT = 1.0
"""n-best rescoring: a hypothesis's mean token log-probability plus this times the share of its words the home
knows (pipeline/vocabulary.py): one unknown word in five costs 0.2, what a clearly likelier decode outweighs."""


class SpeechToText:
    """Stage: command audio (16 kHz mono int16 bytes) -> transcript text."""

    name = "stt"

    def __init__(
        self,
        model_dir: Path,
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        beam_size: int = 1,
        threads: int = 2,
        language: str = "en",
        hotwords: Sequence[str] = (),
        short_window: bool = True,
        follow_home: bool = False,
        nbest: int = 1,
        vocabulary: frozenset[str] = frozenset(),
    ) -> None:
        self.model_dir = model_dir
        self.device = device
        self.compute_type = compute_type
        self.beam_size = beam_size
        self.threads = threads
        self.language = language
        # Whisper takes hotwords as a text prompt; the home's names make it spell them as the home does.
        self.hotwords = _hotword_text(hotwords)
        self.follow_home = follow_home
        """set_home() replaces the hotwords with the changed home's names."""
        self.short_window = short_window
        self.nbest = max(1, nbest)
        """Short window: decode this many hypotheses (beam search) and keep the one that best fits vocabulary."""
        self.vocabulary = vocabulary
        self.keep_details = False
        """Record every transcription's decoder numbers in details (the bench sets it; it costs an alignment)."""
        self.details: list[dict] = []
        """With keep_details: per transcription, its text, avg_logprob, no_speech_prob, token_probs (the
        probability of each text token given the audio; None on the 30 s path) and, with nbest, hypotheses (text,
        score, tokens with the end)."""
        self._model = None
        self._prompt: list[int] = []
        self._plain_prompt: list[int] = []
        self._suppress: list[int] = []

    def load(self) -> None:
        if self._model is not None:
            return
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self._model = WhisperModel(
            str(self.model_dir), device=self.device, compute_type=self.compute_type, cpu_threads=self.threads
        )
        m = self._model
        tokenizer = Tokenizer(m.hf_tokenizer, m.model.is_multilingual, task="transcribe",
                              language=self.language if m.model.is_multilingual else None)
        self._tokenizer = tokenizer
        self._prompt = m.get_prompt(tokenizer, [], without_timestamps=True, hotwords=self.hotwords)
        self._plain_prompt = m.get_prompt(tokenizer, [], without_timestamps=True)
        self._suppress = get_suppressed_tokens(tokenizer, [-1])

    def set_home(self, home: Home) -> None:
        """Spell a changed home's names from the next transcription on (call it between model calls)."""
        if self.nbest > 1:
            from .vocabulary import home_vocabulary

            self.vocabulary = home_vocabulary(home)
        if not self.follow_home:
            return
        self.hotwords = _hotword_text(home_hotwords(home))
        if self._model is not None:
            self._prompt = self._model.get_prompt(self._tokenizer, [], without_timestamps=True,
                                                  hotwords=self.hotwords)

    def warm(self) -> None:
        # Low noise rather than digital silence: silence can short-circuit decoding and warm nothing.
        # Both windows: the first recheck with Whisper's 30 s window would otherwise pay its first-call costs
        # (about a second) in a user's turn.
        rng = np.random.default_rng(0)
        noise = (rng.standard_normal(SAMPLE_RATE) * 300).astype(np.int16).tobytes()
        self.transcribe(noise, short_window=True)
        self.transcribe(noise, short_window=False)
        self.hear_phrase(noise)

    def recheck(self, audio: bytes) -> Transcription | None:
        """Whisper's ordinary 30 s window after a short-window transcript (the two mishear different commands);
        None when the stage already uses that window."""
        return self.transcribe(audio, short_window=False) if self.short_window else None

    def hear_phrase(self, audio: bytes) -> Transcription:
        """A few words, quickly (a stop word said over the reply): the audio's own length plus a second, one greedy
        decode of a few tokens, and no hotwords prompt. The home's names in the prompt cost a decoder pass over them
        on every call and pull a short word towards them ("cancel" was heard as "council"); a loop in the short
        window ("cancel cancel cancel") still holds the words, so it is kept."""
        assert self._model is not None, "load() first"
        samples = _float_samples(audio)
        if samples.size < SAMPLE_RATE // 10:
            return Transcription("", None)
        encoded = self._encoded(samples, pad_frames=PHRASE_PAD_FRAMES, min_frames=PHRASE_MIN_FRAMES)
        result = self._model.model.generate(
            encoded, [self._plain_prompt], beam_size=1,
            max_length=len(self._plain_prompt) + 4 + int(4 * samples.size / SAMPLE_RATE),
            suppress_blank=True, suppress_tokens=self._suppress, return_scores=True, return_no_speech_prob=True,
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < self._tokenizer.eot]
        avg_logprob = _text_logprob(result.scores[0], tokens)
        return Transcription(self._tokenizer.decode(tokens).strip(), confidence(avg_logprob, result.no_speech_prob))

    def transcribe(self, audio: bytes | np.ndarray, *, short_window: bool | None = None) -> Transcription:
        """Transcribe 16 kHz mono audio (int16 bytes or a float32/int16 array) to text, with a confidence.

        short_window: override the stage's setting for this call (False: Whisper's ordinary 30 s window).
        """
        assert self._model is not None, "load() first"
        samples = _float_samples(audio)
        if samples.size < SAMPLE_RATE // 10:
            return Transcription("", None)
        short = self.short_window if short_window is None else short_window
        if short and samples.size <= MAX_SHORT_S * SAMPLE_RATE:
            heard = self._transcribe_short(samples)
            if heard is not None:
                return heard
        segments, _info = self._model.transcribe(
            samples,
            language=self.language,
            beam_size=self.beam_size,
            without_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,  # the endpointer already cut the command
            hotwords=self.hotwords,
            temperature=0.0,  # no fallback re-decoding: a command is short, a retry costs a whole decode
        )
        segments = list(segments)
        text = "".join(s.text for s in segments).strip()
        if not segments:
            return Transcription(text, None)
        worst = min(segments, key=lambda s: s.avg_logprob)
        self._detail(text, worst.avg_logprob, worst.no_speech_prob, None)
        return Transcription(text, confidence(worst.avg_logprob, worst.no_speech_prob))

    def _encoded(self, samples: np.ndarray, *, pad_frames: int, min_frames: int) -> Any:
        """Whisper's encoder output for the samples in a window of their own length plus pad_frames 10 ms frames
        (whole seconds, at least min_frames, at most 30 s), padded with audio silence (not with zero features: zero
        is not silence in Whisper's normalised log-mel, and the decoder then loops)."""
        import ctranslate2

        m = self._model
        assert m is not None
        frames = min(3000, max(min_frames, -(-(samples.size // HOP + pad_frames) // 100) * 100))
        padded = np.zeros(frames * HOP, dtype=np.float32)
        padded[: min(samples.size, padded.size)] = samples[: padded.size]
        window = np.ascontiguousarray(m.feature_extractor(padded)[None, :, :frames])
        return m.model.encode(ctranslate2.StorageView.from_array(window), to_cpu=False)

    def _detail(self, text: str, avg_logprob: float, no_speech_prob: float, token_probs: list[float] | None,
                hypotheses: list[tuple[str, float, int]] | None = None) -> None:
        if self.keep_details:
            self.details.append({"text": text, "avg_logprob": avg_logprob, "no_speech_prob": no_speech_prob,
                                 "token_probs": token_probs, "hypotheses": hypotheses or []})
            del self.details[:-50]

    def _transcribe_short(self, samples: np.ndarray) -> Transcription | None:
        """Encode only the command's length (plus a margin) instead of Whisper's fixed 30 s window.

        faster-whisper always pads to 30 s, so a 2 s command pays for 30 s of encoder work (about 1 s here).
        CTranslate2's encoder takes shorter inputs; with a second of padding the transcripts of commands stay
        the same (the test suite checks intents through it) at a tenth of the encoder cost. Whisper sometimes
        loops on a short window ("turn on the light, turn on the light, ..."): then None, and the caller takes
        the ordinary 30 s path.

        Why CTranslate2 directly, not faster-whisper's public API: WhisperModel.transcribe() cannot encode less
        than 30 s. Its chunk_length argument only sizes the feature extraction; generate_segments() still passes
        every segment through audio.pad_or_trim(segment), whose length is fixed at 3000 frames (1.2.1), and that
        pads with zero features, which in Whisper's normalised log-mel are not silence (the decoder loops on
        them). So this path uses faster-whisper's feature extractor, tokenizer, prompt builder and suppressed
        tokens, and CTranslate2's encode()/generate() that WhisperModel itself calls; those internals are why
        pyproject pins faster-whisper==1.2.1 (tests/test_pipeline.py hears real speech through this path).
        """
        m = self._model
        assert m is not None
        n = samples.size // HOP
        encoded = self._encoded(samples, pad_frames=PAD_FRAMES, min_frames=MIN_WINDOW_FRAMES)
        # About 3 tokens a second are spoken; the bound stops a decoder loop early.
        max_new = 10 + int(6 * samples.size / SAMPLE_RATE)
        nbest = min(self.nbest, max(self.beam_size, 1)) if self.vocabulary else 1
        result = m.model.generate(
            encoded,
            [self._prompt],
            beam_size=max(self.beam_size, nbest),
            num_hypotheses=nbest,
            max_length=min(m.max_length, len(self._prompt) + max_new),
            suppress_blank=True,
            suppress_tokens=self._suppress,
            return_scores=True,
            return_no_speech_prob=True,
        )[0]
        best, texts = 0, []
        if nbest > 1:
            texts = [self._tokenizer.decode([t for t in seq if t < self._tokenizer.eot]).strip()
                     for seq in result.sequences_ids]
            best = choose(texts, list(result.scores), self.vocabulary)
        tokens = [t for t in result.sequences_ids[best] if t < self._tokenizer.eot]
        if len(result.sequences_ids[best]) >= max_new - 1:
            return None
        # faster-whisper's own silence rule (likely no speech and a low-confidence decode), plus a floor for
        # noise that Whisper "transcribes" with very low confidence.
        avg_logprob = _text_logprob(result.scores[best], tokens)
        if (result.no_speech_prob > 0.6 and avg_logprob < -1.0) or avg_logprob < -3.0:
            return Transcription("", None)
        text = self._tokenizer.decode(tokens).strip()
        if _repeats(text):
            return None
        if self.keep_details:
            aligned = m.model.align(encoded, self._prompt, [tokens], n)[0]
            self._detail(text, avg_logprob, result.no_speech_prob, [float(p) for p in aligned.text_token_probs],
                         list(zip(texts, result.scores, [len(q) for q in result.sequences_ids], strict=True))
                         if texts else None)
        return Transcription(text, confidence(avg_logprob, result.no_speech_prob))


def _float_samples(audio: bytes | np.ndarray) -> np.ndarray:
    """16 kHz mono audio (int16 bytes or a float32/int16 array) as float32 in -1..1."""
    if isinstance(audio, bytes | bytearray):
        return np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768.0
    if audio.dtype == np.int16:
        return audio.astype(np.float32) / 32768.0
    return audio.astype(np.float32, copy=False)


def _text_logprob(score: float, tokens: Sequence[int]) -> float:
    """CTranslate2's mean log-probability over the text tokens and the end token, as a mean over the text tokens'
    count plus one (faster-whisper's avg_logprob); -10 for no text at all."""
    return score * len(tokens) / (len(tokens) + 1) if tokens else -10.0


def choose(texts: Sequence[str], scores: Sequence[float], vocabulary: frozenset[str],
           weight: float = HOME_FIT_WEIGHT) -> int:
    """The index of the hypothesis that best fits the home: its score (mean token log-probability, as CTranslate2
    returns it) plus weight times the share of its words in vocabulary. Ties go to the likelier decode; a sentence
    the home's words do not fit at all is still chosen by its score alone."""
    from .vocabulary import home_fit

    ranked = [(score + weight * home_fit(text, vocabulary), -i) for i, (text, score) in enumerate(zip(texts, scores,
                                                                                                      strict=True))]
    return -max(ranked)[1]


def confidence(avg_logprob: float, no_speech_prob: float) -> float:
    """0-1: the decoder's mean token probability, discounted by Whisper's belief that nothing was said."""
    return round(max(0.0, min(1.0, math.exp(avg_logprob) * (1.0 - no_speech_prob))), 3)


def _repeats(text: str, min_words: int = 2) -> bool:
    """True when a phrase of at least min_words words is said twice in a row: Whisper looping, not a person."""
    words = ["".join(c for c in w.lower() if c.isalnum()) for w in text.split()]
    n = len(words)
    return any(
        words[i : i + k] == words[i + k : i + 2 * k]
        for k in range(min_words, n // 2 + 1)
        for i in range(n - 2 * k + 1)
    )


def home_hotwords(home: Home) -> list[str]:
    """What Whisper should spell as the home does: every entity's names and aliases, every area."""
    return [n for e in home.entities for n in e.names] + list(home.areas)


def _hotword_text(words: Sequence[str]) -> str | None:
    """Whisper's hotwords prompt: the words once each, comma-separated (None for none)."""
    return ", ".join(dict.fromkeys(words)) or None
