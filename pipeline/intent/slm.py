"""Second intent tier: a small INT4 ONNX language model (onnxruntime-genai) with constrained decoding.

Asked only when no sentence template matched. The model reads a fixed prefix (system prompt with this home's
devices and areas, then few-shot examples: see slm_prompt.py) that is processed once at load; every turn rewinds
the generator's KV cache to the end of that prefix and appends only the user's words, so a turn costs a few dozen
prompt tokens instead of hundreds. Guidance (llguidance, JSON schema) forces the answer into one compact JSON object
whose intent, entity and area names are enums from the Home; the answer is checked once more, resolved to entity
ids with the templates tier's rules (resolve.py) and phrased by replies.py.

Chit-chat contract for the assistant: `understand(text)` answers an open question ("tell me a joke") with
Understanding(intent=None, reply="", tier="slm") — an empty reply from this tier means "open question". The
assistant then speaks `stream_reply(text)`, which yields the generated answer sentence by sentence while it is still
being generated. `answer(text)` joins that stream for callers that do not stream (the CLI).
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

from . import slm_prompt as sp
from .model import Home, Intent, Understanding
from .replies import StateLookup, domain_noun, reply_for
from .resolve import resolve

_log = logging.getLogger(__name__)

MAX_INPUT_CHARS = 1000
"""Longer transcripts are cut before tokenizing (a spoken command is a sentence or two)."""
MAX_INPUT_TOKENS = 96
"""The user's words are cut to this many tokens."""
_TURN_OVERHEAD = 16
"""Tokens of the ChatML markers around the user's words."""
SAY_AGAIN = "Sorry, could you say that again?"

# A sentence ends at . ! or ? (plus closing quotes/brackets) followed by whitespace.
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*\s+")
_MARKUP = re.compile(r"[*_#`~]+")


def is_open_question(u: Understanding | None) -> bool:
    """True for this tier's "open question" answer: speak stream_reply(text) instead of u.reply."""
    return u is not None and u.tier == "slm" and u.intent is None and not u.reply


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
    ) -> None:
        """model_dir: folder with genai_config.json. max_new_tokens: bound on the JSON answer's tokens.
        threads: ONNX Runtime intra-op threads. temperature: 0 decodes greedily. device: cpu or cuda.
        clock: local time for time/date replies. states: entity id -> state lookup for state questions.
        max_reply_tokens / max_reply_sentences: bounds on a free answer. cache_prefix: reuse the prefix's KV cache
        (False processes the whole prompt every turn: only for comparison)."""
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
        self._clock = clock
        self._states = states
        self._lock = threading.Lock()
        self._og: Any = None
        self._model: Any = None
        self._tok: Any = None
        self._intent: _Session | None = None
        self._chat: _Session | None = None
        self.schema: dict[str, Any] = sp.output_schema(home)
        """The JSON schema every answer is forced into."""
        self.load_seconds: float | None = None
        """How long load() took, prefixes included (None until loaded)."""
        self.last: TurnStats | None = None
        """Costs of the latest turn."""

    # -- lifecycle ---------------------------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._intent is not None

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
            self._intent = self._session(
                sp.intent_prefix(self.home), self.max_new_tokens, guidance=json.dumps(self.schema)
            )
            self._chat = self._session(sp.chat_prefix(), self.max_reply_tokens, guidance=None)
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
        if self.temperature > 0:
            search.update(do_sample=True, temperature=self.temperature, top_p=0.9, top_k=40)
        else:
            search.update(do_sample=False)
        params.set_search_options(**search)
        if guidance is not None:
            params.set_guidance("json_schema", guidance)
        return _Session(og, self._model, params, prefix, cache=self.cache_prefix)

    def warm(self) -> None:
        """One dummy turn of each kind, so the first real turn pays no first-call costs."""
        self.load()
        self.generate("what's the weather like")
        for _ in self.stream_reply("hello"):
            break

    # -- the intent tier ---------------------------------------------------------------------------------------

    def understand(self, text: str) -> Understanding | None:
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
        """The model's raw JSON answer for a transcript (constrained decoding)."""
        self.load()
        assert self._intent is not None
        with self._lock:
            out, _ = self._decode(self._intent, self._user_ids(text), self.max_new_tokens, stop=_json_complete)
        return out

    def interpret(self, raw: str) -> Understanding:
        """Check the model's JSON against the home and turn it into an Understanding."""
        try:
            obj = json.loads(raw)
        except ValueError:
            _log.info("slm: unusable output %r", raw[:200])
            return Understanding(None, SAY_AGAIN, "slm")
        problem, slots, d = self._validate(obj)
        if d is not None and d.key == "answer":
            return Understanding(None, "", "slm")
        if d is not None and d.key == "clarify":
            return Understanding(None, _question(obj.get("text")), "slm")
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
        """(problem or None, Home Assistant slots, intent definition) for one decoded answer."""
        if not isinstance(obj, dict) or obj.get("intent") not in sp.BY_KEY:
            return SAY_AGAIN, {}, None
        d = sp.BY_KEY[obj["intent"]]
        slots: dict[str, Any] = {}
        names = {n.casefold(): n for n in sp.entity_names(self.home, d.domains)}
        areas = {a.casefold(): a for a in self.home.areas}
        noun = domain_noun(d.domains[0]) if len(d.domains) == 1 else "device"
        for key, value in obj.items():
            if key == "intent" or (key == "text" and d.key == "clarify"):
                continue
            slot = sp.SLOT_NAMES.get(key, key)
            if key == "name":
                if not isinstance(value, str) or value.casefold() not in names:
                    return f"Which {noun} do you mean?", {}, d
                value = names[value.casefold()]
            elif key == "area":
                if not isinstance(value, str) or value.casefold() not in areas:
                    return "Which room do you mean?", {}, d
                value = areas[value.casefold()]
            elif key == "domain":
                if value not in d.domains:
                    return "Which device do you mean?", {}, d
            elif key in ("brightness", "volume", "temperature", *sp.TIMER_MAX):
                if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
                    return SAY_AGAIN, {}, d
            elif key == "color":
                if value not in sp.COLORS:
                    return "Which colour would you like?", {}, d
            elif key == "item":
                value = " ".join(str(value).split())
                if not value:
                    return "What should I add?", {}, d
            else:
                return SAY_AGAIN, {}, d
            slots[slot] = value
        if d.key == "light_set" and not ("brightness" in slots or "color" in slots):
            return "How bright, or which colour?", {}, d
        if d.key == "start_timer":
            slots = {k: v for k, v in slots.items() if v}
            if not slots:
                return "How long should the timer be?", {}, d
        if d.target == "required" and not (slots.get("name") or slots.get("domain")):
            return f"Which {noun} do you mean?", {}, d
        return None, slots, d

    # -- free answers ------------------------------------------------------------------------------------------

    def stream_reply(self, text: str) -> Iterator[str]:
        """A short spoken answer, yielded sentence by sentence while it is generated.

        Holds the tier's lock until the iterator is exhausted or closed: consume it (or close() it) promptly.
        """
        if not text or not text.strip():
            return
        self.load()
        assert self._chat is not None
        with self._lock:
            t0 = time.perf_counter()
            ids = self._user_ids(text)
            gen = self._chat.start(ids)
            t1 = time.perf_counter()
            stream = self._tok.create_stream()
            buf, out, sentences, n = "", [], 0, 0
            try:
                while not gen.is_done() and n < self.max_reply_tokens:
                    gen.generate_next_token()
                    n += 1
                    piece = stream.decode(int(gen.get_next_tokens()[0]))
                    buf += piece
                    out.append(piece)
                    while (m := _SENTENCE_END.search(buf)) is not None:
                        sentence, buf = _clean(buf[: m.end()]), buf[m.end():]
                        if sentence:
                            yield sentence
                            sentences += 1
                            if sentences >= self.max_reply_sentences:
                                return
                tail = _clean(buf)
                if tail and (sentences == 0 or gen.is_done()):
                    yield tail if tail[-1] in ".!?" else tail + "."
            finally:
                t2 = time.perf_counter()
                self.last = TurnStats("".join(out), len(ids) + (0 if self.cache_prefix else len(self._chat.prefix)),
                                      n, t1 - t0, t2 - t1, self.cache_prefix)

    def answer(self, text: str) -> str:
        """The whole free answer as one string (stream_reply joined)."""
        return " ".join(self.stream_reply(text))

    # -- helpers -----------------------------------------------------------------------------------------------

    def _encode(self, text: str) -> list[int]:
        return [int(t) for t in self._tok.encode(text)]

    def _user_ids(self, text: str) -> list[int]:
        """The user turn's tokens, the words cut to MAX_INPUT_TOKENS (ChatML markers in them defused)."""
        words = " ".join(text[:MAX_INPUT_CHARS].replace("<|", "<").split())
        ids = self._encode(words)
        if len(ids) > MAX_INPUT_TOKENS:
            words = self._tok.decode(ids[:MAX_INPUT_TOKENS])
        return self._encode(sp.user_turn(words))

    def _decode(
        self, session: _Session, ids: list[int], max_new: int, *, stop: Callable[[str], bool]
    ) -> tuple[str, int]:
        t0 = time.perf_counter()
        gen = session.start(ids)
        t1 = time.perf_counter()
        stream = self._tok.create_stream()
        text, n = "", 0
        while not gen.is_done() and n < max_new:
            gen.generate_next_token()
            n += 1
            piece = stream.decode(int(gen.get_next_tokens()[0]))
            text += piece
            if "}" in piece and stop(text):
                break
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


def _question(text: Any) -> str:
    text = " ".join(str(text or "").split())
    if not text:
        return "Which device do you mean?"
    return text if text[-1] in ".!?" else text + "?"


def _clean(text: str) -> str:
    return " ".join(_MARKUP.sub("", text).split())
