"""Second intent tier: a small INT4 ONNX language model (onnxruntime-genai) with constrained decoding.

Asked only when no sentence template matched. The model reads a fixed prefix (system prompt with this home's
devices and areas, then few-shot examples: see slm_prompt.py) that is processed once at load; every turn rewinds
the generator's KV cache to the end of that prefix and appends only the user's words, so a turn costs a few dozen
prompt tokens instead of hundreds. Guidance (llguidance, a Lark grammar) forces the answer into one compact JSON
object whose intent, entity and area names are enums from the Home; the answer is checked once more, resolved to
entity ids with the templates tier's rules (resolve.py) and phrased by replies.py. The intent choice is calibrated:
the model's prior over intents, measured on content-free inputs at load, is partly divided out (a few-shot 0.5B
model otherwise calls most commands "other").

Chit-chat contract for the assistant: `understand(text)` answers an open question ("tell me a joke") with
Understanding(intent=None, reply="", tier="slm", open_question=True). The assistant then speaks
`stream_reply(text)`, which yields the generated answer sentence by sentence while it is still being generated.
`answer(text)` joins that stream for callers that do not stream.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import slm_prompt as sp
from .model import Home, Intent, Understanding
from .replies import StateLookup, reply_for
from .resolve import resolve

_log = logging.getLogger(__name__)

MAX_INPUT_CHARS = 1000
"""Longer transcripts are cut before tokenizing (a spoken command is a sentence or two)."""
MAX_INPUT_TOKENS = 96
"""The user's words are cut to this many tokens."""
_TURN_OVERHEAD = 32
"""Room for the ChatML markers around the user's words (and the answer's opening)."""
CALIBRATION = 0.5
"""How much of the intent prior to divide out: 0.5 was best for both models on the evaluation set (1 overcorrects)."""
_CONTENT_FREE = ("N/A", "", "[MASK]", "hmm")
SAY_AGAIN = "Sorry, could you say that again?"
CLARIFY = "Sorry, which device do you mean?"

# A sentence ends at . ! or ? (plus closing quotes/brackets) followed by whitespace.
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*\s+")
_MARKUP = re.compile(r"[*_#`~]+")


@dataclass(frozen=True)
class TurnStats:
    """What one call to the model cost, for the bench and the logs."""

    output: str
    """The raw generated text (the JSON answer, or the free answer)."""
    prompt_tokens: int
    """Tokens processed before decoding: the user turn with the cached prefix, the whole prompt without."""
    output_tokens: int
    """Tokens generated."""
    prefill_s: float
    """Seconds to process the prompt tokens."""
    decode_s: float
    """Seconds spent generating."""
    cached_prefix: bool
    """Whether the prefix's KV cache was reused."""


class _Session:
    """One generator with a processed prefix, rewound to it at every turn."""

    def __init__(self, og: Any, model: Any, params: Any, prefix: list[int], *, cache: bool) -> None:
        self._og, self._model, self._params, self.prefix = og, model, params, prefix
        self.cache = cache
        self._gen: Any = None
        if cache:
            self._gen = og.Generator(model, params)
            self._gen.append_tokens(prefix)

    def start(self, ids: list[int]) -> Any:
        """A generator positioned after prefix + ids."""
        if self.cache:
            self._gen.rewind_to(len(self.prefix))
            self._gen.append_tokens(ids)
            return self._gen
        gen = self._og.Generator(self._model, self._params)
        gen.append_tokens(self.prefix + ids)
        return gen


class LanguageModelTier:
    """Intent tier and free-answer generator on an onnxruntime-genai model folder (built by models.build_slm)."""

    name = "slm"

    def __init__(
        self,
        model_dir: str | Path,
        home: Home,
        *,
        max_new_tokens: int = 48,
        threads: int = 2,
        temperature: float = 0.0,
        device: Literal["cpu", "cuda"] = "cpu",
        clock: Callable[[], datetime] = datetime.now,
        states: StateLookup | None = None,
        max_reply_tokens: int = 80,
        max_reply_sentences: int = 3,
        cache_prefix: bool = True,
        calibration: float = CALIBRATION,
    ) -> None:
        """model_dir: folder with genai_config.json. max_new_tokens: bound on the JSON answer's tokens.
        threads: ONNX Runtime intra-op threads. temperature: 0 decodes greedily. device: cpu or cuda.
        clock: local time for time/date replies. states: entity id -> state lookup for state questions.
        max_reply_tokens / max_reply_sentences: bounds on a free answer. cache_prefix: reuse the prefix's KV cache
        (False processes the whole prompt every turn: only for comparison). calibration: strength (0-1) of the
        correction for the model's prior over intents (0: off)."""
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device {device!r}: expected cpu or cuda")
        if threads < 1 or max_new_tokens < 8 or max_reply_tokens < 1:
            raise ValueError("threads must be >= 1, max_new_tokens >= 8, max_reply_tokens >= 1")
        self.model_dir = Path(model_dir)
        self.home = home
        self.max_new_tokens = max_new_tokens
        self.threads = threads
        self.temperature = temperature
        self.device = device
        self.max_reply_tokens = max_reply_tokens
        self.max_reply_sentences = max_reply_sentences
        self.cache_prefix = cache_prefix
        self.calibration = calibration
        self._clock = clock
        self._states = states
        self._lock = threading.Lock()
        self._og: Any = None
        self._model: Any = None
        self._tok: Any = None
        self._intent: _Session | None = None
        self._chat: _Session | None = None
        self._bias: np.ndarray | None = None
        self.variants: list[sp.Variant] = sp.variants(home)
        """Every answer shape this home allows."""
        self.grammar: str = sp.output_grammar(home)
        """The Lark grammar every answer is forced into (the text after sp.ANSWER_OPENING)."""
        self.load_seconds: float | None = None
        """How long load() took, prefixes included (None until loaded)."""
        self.last: TurnStats | None = None
        """Costs of the latest turn."""

    # -- lifecycle ---------------------------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._intent is not None

    @property
    def busy(self) -> bool:
        """A turn or a reply stream is in progress (the next call waits for it)."""
        return self._lock.locked()

    @property
    def prefix_tokens(self) -> int:
        """Tokens in the cached intent prefix (0 before load)."""
        return len(self._intent.prefix) if self._intent else 0

    def load(self) -> None:
        """Load the model and process both prefixes once (about 1 s plus the prefix at ~120 tokens/s on 2 cores)."""
        with self._lock:
            if self.loaded:
                return
            start = time.perf_counter()
            if not (self.model_dir / "genai_config.json").is_file():
                raise FileNotFoundError(
                    f"{self.model_dir}: no genai_config.json here; build the model with `slm-voice models build`"
                )
            import onnxruntime_genai as og

            cfg = og.Config(str(self.model_dir))
            session = {"intra_op_num_threads": self.threads, "inter_op_num_threads": 1}
            cfg.overlay(json.dumps({"model": {"decoder": {"session_options": session}}}))
            cfg.clear_providers()
            if self.device == "cuda":
                cfg.append_provider("cuda")
            self._og = og
            self._model = og.Model(cfg)
            self._tok = og.Tokenizer(self._model)
            self._intent = self._session(sp.intent_prefix(self.home), self.max_new_tokens, guidance=self.grammar)
            self._chat = self._session(sp.chat_prefix(), self.max_reply_tokens, guidance=None)
            if self.calibration > 0:
                self._bias = self._calibrate()
            self.load_seconds = time.perf_counter() - start
            _log.info(
                "slm: %s loaded in %.2f s (intent prefix %d tokens, %s)",
                self.model_dir.name, self.load_seconds, self.prefix_tokens,
                "cached" if self.cache_prefix else "not cached",
            )

    def _session(self, prefix_text: str, max_new: int, *, guidance: str | None) -> _Session:
        og = self._og
        prefix = self._encode(prefix_text)
        params = og.GeneratorParams(self._model)
        search: dict[str, Any] = {"max_length": len(prefix) + MAX_INPUT_TOKENS + _TURN_OVERHEAD + max_new}
        if guidance is None:
            search["repetition_penalty"] = 1.15  # tiny models loop on a free answer ("I am ... I am ...")
        if self.temperature > 0:
            search.update(do_sample=True, temperature=self.temperature, top_p=0.9, top_k=40)
        else:
            search.update(do_sample=False)
        params.set_search_options(**search)
        if guidance is not None:
            params.set_guidance("lark_grammar", guidance)
        return _Session(og, self._model, params, prefix, cache=self.cache_prefix)

    def _calibrate(self) -> np.ndarray:
        """Logit bias that divides out the model's prior for each intent's first token (Zhao et al. 2021,
        "Calibrate before use"): few-shot small models lean towards some answers whatever the input (here
        "other", about 80 % on an empty input). The prior is measured on content-free inputs, once."""
        assert self._intent is not None
        firsts = sorted({self._encode(d.key)[0] for d in sp.available_intents(self.home)})
        probs = []
        for text in _CONTENT_FREE:
            gen = self._intent.start(self._user_ids(text, sp.user_turn))
            logits = np.asarray(gen.get_logits(), dtype=np.float64).reshape(-1)[firsts]
            p = np.exp(logits - logits.max())
            probs.append(p / p.sum())
        prior = np.mean(probs, axis=0)
        bias = np.zeros((1, int(np.asarray(gen.get_logits()).size)), dtype=np.float32)
        bias[0, firsts] = -self.calibration * np.log(np.maximum(prior, 1e-6))
        return bias

    def warm(self) -> None:
        """One dummy turn of each kind, so the first real turn pays no first-call costs."""
        self.load()
        self.generate("what's the weather like")
        reply = self.stream_reply("hello")
        next(reply, None)
        reply.close()

    def set_home(self, home: Home) -> None:
        """Serve a changed home (Home Assistant's registries changed): new answer shapes and grammar, and the intent
        prefix processed again if the model is loaded (the prefix's length at ~120 tokens/s on 2 cores). Call it
        between turns, where understand() runs."""
        if home == self.home:
            return
        with self._lock:
            self.home = home
            self.variants = sp.variants(home)
            self.grammar = sp.output_grammar(home)
            if self._model is not None:
                self._intent = self._session(sp.intent_prefix(home), self.max_new_tokens, guidance=self.grammar)
                if self.calibration > 0:
                    self._bias = self._calibrate()

    # -- the intent tier ---------------------------------------------------------------------------------------

    def understand(self, text: str, *, transcript_confidence: float | None = None) -> Understanding | None:
        """The intent and reply for a transcript (None only for empty text); never raises on odd input."""
        if not text or not text.strip():
            return None
        try:
            raw = self.generate(text)
        except Exception:  # the runtime failed on this input: say so rather than crash the turn
            _log.exception("slm: generation failed for %r", text[:80])
            return Understanding(None, SAY_AGAIN, "slm")
        return self.interpret(raw)

    def generate(self, text: str) -> str:
        """The model's raw JSON answer for a transcript (constrained decoding), e.g. {"intent":"time"}."""
        self.load()
        assert self._intent is not None
        with self._lock:
            out, _ = self._decode(self._intent, self._user_ids(text, sp.user_turn), self.max_new_tokens)
        return sp.ANSWER_OPENING + out

    def interpret(self, raw: str) -> Understanding:
        """Check the model's JSON against the home and turn it into an Understanding."""
        try:
            obj = json.loads(raw)
        except ValueError:
            _log.info("slm: unusable output %r", raw[:200])
            return Understanding(None, SAY_AGAIN, "slm")
        problem, slots, d = self._validate(obj)
        if d is not None and d.key == "other":
            return Understanding(None, "", "slm", open_question=True)
        if d is not None and d.key == "clarify":
            return Understanding(None, CLARIFY, "slm")
        if problem is not None or d is None or d.hass is None:
            _log.info("slm: doubtful output %r: %s", raw[:200], problem)
            return Understanding(None, problem or SAY_AGAIN, "slm")
        res = resolve(d.hass, slots, self.home, area_fallback=self.home.satellite_area)
        if res.problem is not None and not slots.get("name") and not slots.get("area") and d.domains:
            # "add eggs" / "pause": with one device of the kind in the home, that is the one meant.
            only = [e for e in self.home.entities if e.domain in d.domains]
            if len(only) == 1:
                slots = {**slots, "name": only[0].name}
                res = resolve(d.hass, slots, self.home, area_fallback=self.home.satellite_area)
        if res.problem is not None:
            return Understanding(None, res.problem, "slm")
        intent = Intent(name=d.hass, slots=slots, entity_ids=res.entity_ids)
        return Understanding(intent, reply_for(intent, self.home, now=self._clock(), states=self._states), "slm")

    def _validate(self, obj: Any) -> tuple[str | None, dict[str, Any], sp.IntentDef | None]:
        """(problem or None, Home Assistant slots, intent definition) for one decoded answer.

        The grammar already allows only these shapes; checking again keeps a runtime or grammar slip from
        ever reaching a device."""
        variant = sp.matching_variant(obj, self.variants)
        if variant is None:
            loose = sp.matching_variant(obj, self.variants, ranges=False)
            bad = [p for p in loose.props if p.key in obj and not p.accepts(obj[p.key])] if loose else []
            if loose is None or not bad:
                return SAY_AGAIN, {}, None
            p = bad[0]
            return f"Sorry, the {p.key} must be between {p.lo} and {p.hi}.", {}, sp.BY_KEY[loose.intent]
        d = sp.BY_KEY[variant.intent]
        slots = {sp.SLOT_NAMES.get(k, k): v for k, v in obj.items() if k != "intent"}
        if "item" in slots:
            slots["item"] = " ".join(str(slots["item"]).split())
            if not slots["item"]:
                return "What should I add to the list?", {}, d
        if d.key == "timer":
            slots = {k: v for k, v in slots.items() if v}  # "hours":0 says nothing
            if not slots:
                return "How long should the timer be?", {}, d
        return None, slots, d

    # -- free answers ------------------------------------------------------------------------------------------

    def stream_reply(self, text: str) -> Iterator[str]:
        """A short spoken answer, yielded sentence by sentence while it is generated.

        Holds the tier's lock until the iterator is exhausted or closed: consume it (or close() it) promptly.
        A runtime failure is logged and ends the stream (with an apology when nothing was said yet).
        """
        if not text or not text.strip():
            return
        self.load()
        assert self._chat is not None
        with self._lock:
            t0 = time.perf_counter()
            ids = self._user_ids(text, sp.chat_turn)
            pieces: list[str] = []
            said: list[str] = []
            t1 = t0
            try:
                gen = self._chat.start(ids)
                t1 = time.perf_counter()
                stream = self._tok.create_stream()
                buf = ""
                while not gen.is_done() and len(pieces) < self.max_reply_tokens:
                    gen.generate_next_token()
                    pieces.append(stream.decode(int(gen.get_next_tokens()[0])))
                    buf += pieces[-1]
                    while (m := _SENTENCE_END.search(buf)) is not None:
                        sentence, buf = _clean(buf[: m.end()]), buf[m.end():]
                        if sentence and sentence not in said:  # tiny models repeat themselves
                            said.append(sentence)
                            yield sentence
                            if len(said) >= self.max_reply_sentences:
                                return
                tail = _clean(buf)
                if tail and (not said or gen.is_done()):  # a sentence cut off by the token limit is dropped
                    yield tail if tail[-1] in ".!?" else tail + "."
            except Exception:
                _log.exception("slm: free answer failed for %r", text[:80])
                if not said:
                    yield SAY_AGAIN
            finally:
                prompt = len(ids) + (0 if self.cache_prefix else len(self._chat.prefix))
                self.last = TurnStats("".join(pieces), prompt, len(pieces), t1 - t0, time.perf_counter() - t1,
                                      self.cache_prefix)

    def answer(self, text: str) -> str:
        """The whole free answer as one string (stream_reply joined)."""
        return " ".join(self.stream_reply(text))

    # -- helpers -----------------------------------------------------------------------------------------------

    def _encode(self, text: str) -> list[int]:
        return [int(t) for t in self._tok.encode(text)]

    def _user_ids(self, text: str, turn: Callable[[str], str]) -> list[int]:
        """The user turn's tokens, the words cut to MAX_INPUT_TOKENS (ChatML markers in them defused)."""
        words = " ".join(text[:MAX_INPUT_CHARS].replace("<|", "<").split())
        ids = self._encode(words)
        keep = MAX_INPUT_TOKENS
        while True:
            if len(ids) > keep:
                words = self._tok.decode(ids[:keep])
            turn_ids = self._encode(turn(words))
            # Decoding a cut token sequence and encoding it again can come out a token or two longer.
            if len(turn_ids) <= MAX_INPUT_TOKENS + _TURN_OVERHEAD or keep <= 8:
                return turn_ids
            keep -= 8

    def _decode(self, session: _Session, ids: list[int], max_new: int) -> tuple[str, int]:
        t0 = time.perf_counter()
        gen = session.start(ids)
        if self._bias is not None:
            # Contextual calibration of the intent choice (the first answer token), see _calibrate().
            logits = np.asarray(gen.get_logits(), dtype=np.float32).reshape(1, -1)
            gen.set_logits(logits + self._bias)
        t1 = time.perf_counter()
        stream = self._tok.create_stream()
        text, n = "", 0
        while not gen.is_done() and n < max_new:
            gen.generate_next_token()
            n += 1
            piece = stream.decode(int(gen.get_next_tokens()[0]))
            text += piece
            if "}" in piece and _json_complete(sp.ANSWER_OPENING + text):
                break  # the object is closed: no need to wait for the end-of-turn token
        t2 = time.perf_counter()
        prompt = len(ids) + (0 if session.cache else len(session.prefix))
        self.last = TurnStats(text, prompt, n, t1 - t0, t2 - t1, session.cache)
        return text, n


def _json_complete(text: str) -> bool:
    """The compact JSON object is closed: stop without waiting for the end-of-turn token."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _clean(text: str) -> str:
    return " ".join(_MARKUP.sub("", text).split())
