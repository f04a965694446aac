"""Second intent tier: a small fine-tuned INT4 ONNX language model (onnxruntime-genai) with constrained decoding.

Asked only when no sentence template matched. The model (fine-tuned by models/tune, merged and quantized by
`models build`) turns the user's words into one line of slm_prompt's answer language, e.g. `off|domain=light|
area=bed room`, forced by a grammar; it never sees the home. Code then does the rest: parse, resolve the spoken
words to the home's entities with the templates tier's resolver (resolve.py, names.py), and phrase the reply
(replies.py). A target that cannot be found, or that fits several devices, becomes an honest sentence or a
question naming the candidates, never a guess.

Calibrated abstention: every decoding step reads the model's logits before the token is chosen, and the answer's
confidence is the probability the model gave the whole answer (the product of the chosen tokens' probabilities,
before the grammar's mask: mass the model put outside the answer language counts against it). Below
`confidence_threshold` (set on the dev set, docs/understanding.md) the action is not taken: the reply asks "Did you
mean ...?" and Understanding.confirm holds the action for a yes.

The prefix (a short system line, the same for every home) is processed once at load; every turn rewinds the
generator's KV cache to its end and appends only the user's words.

Open questions: `understand(text)` answers one ("tell me a joke", "who wrote Hamlet") with Understanding(intent=None,
reply="", tier="slm", open_question=True); the answer comes from sources only (answers.py: small talk, Home
Assistant's conversation agent, else "I can't look that up here"). This tier never generates free text: a 0.5B
model's facts from memory were wrong too often to be said.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import names
from . import slm_prompt as sp
from .intents import BY_NAME, is_risky
from .model import Home, Intent, Understanding
from .names import names_a_kind
from .replies import StateLookup, ask_first, reply_for, which_of
from .resolve import Resolution, floor_said, resolve
from .said import WHOLE_HOME_AREAS, named_in_full, respelled, says, unsaid

_log = logging.getLogger(__name__)

MAX_INPUT_CHARS = 1000
"""Longer transcripts are cut before tokenizing (a spoken command is a sentence or two)."""
MAX_INPUT_TOKENS = 96
"""The user's words are cut to this many tokens."""
_TURN_OVERHEAD = 16
"""Room for the ChatML markers around the user's words."""
CONFIDENCE_THRESHOLD = 0.5
"""Below this answer probability an action is asked about, not taken (each fine-tune's own is set on the dev set's
precision/recall curve, docs/understanding.md; this one is for a model without)."""
RISKY_CONFIDENCE = 0.8
"""Locks, garage doors and alarms need this much, else "Did you mean ...?"."""
SAY_AGAIN = "Sorry, could you say that again?"
CLARIFY = "Sorry, which device do you mean?"
NOT_FOR_ME = "Okay, I'll leave everything as it is."
"""Said to talk that asks for nothing ("my sister is coming tomorrow"): nothing was done, and it says so."""



@dataclass(frozen=True)
class TurnStats:
    """What one call to the model cost, for the bench and the logs."""

    output: str
    """The raw generated text (the answer line, or the free answer)."""
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
    token_probs: tuple[float, ...] = field(default=())
    """The probability the model gave each chosen token (intent answers only)."""


@dataclass(frozen=True)
class Decoded:
    """The model's answer line and how sure it was."""

    text: str
    confidence: float
    """Probability of the whole answer (product over its tokens, the end of the answer included)."""


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
        max_new_tokens: int = 32,
        threads: int = 2,
        temperature: float = 0.0,
        device: Literal["cpu", "cuda"] = "cpu",
        clock: Callable[[], datetime] = datetime.now,
        states: StateLookup | None = None,
        cache_prefix: bool = True,
        confidence_threshold: float = CONFIDENCE_THRESHOLD,
        risky_confidence: float = RISKY_CONFIDENCE,
    ) -> None:
        """model_dir: folder with genai_config.json. max_new_tokens: bound on the answer's tokens.
        threads: ONNX Runtime intra-op threads. temperature: 0 decodes greedily. device: cpu or cuda.
        clock: local time for time/date replies. states: entity id -> state lookup for state questions.
        cache_prefix: reuse the prefix's KV cache
        (False processes the whole prompt every turn: only for comparison). confidence_threshold: below this
        answer probability an action is asked about ("Do you want me to ...?"), not taken; risky_confidence: the same
        for locks, garage doors and alarms."""
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device {device!r}: expected cpu or cuda")
        if threads < 1 or max_new_tokens < 8:
            raise ValueError("threads must be >= 1, max_new_tokens >= 8")
        if not 0.0 <= confidence_threshold <= 1.0 or not 0.0 <= risky_confidence <= 1.0:
            raise ValueError("confidence thresholds must be between 0 and 1")
        self.model_dir = Path(model_dir)
        self.home = home
        self.max_new_tokens = max_new_tokens
        self.threads = threads
        self.temperature = temperature
        self.device = device
        self.cache_prefix = cache_prefix
        self.confidence_threshold = confidence_threshold
        self.risky_confidence = risky_confidence
        self._clock = clock
        self._states = states
        self._lock = threading.Lock()
        self._og: Any = None
        self._model: Any = None
        self._tok: Any = None
        self._eos: frozenset[int] = frozenset()
        self._intent: _Session | None = None
        self.grammar: str = sp.GRAMMAR
        """The Lark grammar every answer is forced into (the same for every home)."""
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
        """Load the model and process its (short) prefix once."""
        with self._lock:
            if self.loaded:
                return
            start = time.perf_counter()
            config = self.model_dir / "genai_config.json"
            if not config.is_file():
                raise FileNotFoundError(
                    f"{self.model_dir}: no genai_config.json here; build the model with `slm-voice models build`"
                )
            import onnxruntime_genai as og

            og.disable_telemetry_events()  # with ORT_DISABLE_TELEMETRY (pipeline.offline): nothing leaves the box

            cfg = og.Config(str(self.model_dir))
            session = {"intra_op_num_threads": self.threads, "inter_op_num_threads": 1}
            cfg.overlay(json.dumps({"model": {"decoder": {"session_options": session}}}))
            cfg.clear_providers()
            if self.device == "cuda":
                cfg.append_provider("cuda")
            self._og = og
            self._model = og.Model(cfg)
            self._tok = og.Tokenizer(self._model)
            eos = json.loads(config.read_text(encoding="utf-8"))["model"].get("eos_token_id")
            self._eos = frozenset(eos if isinstance(eos, list) else [eos])
            self._intent = self._session(sp.intent_prefix(), self.max_new_tokens, guidance=self.grammar)
            self.load_seconds = time.perf_counter() - start
            _log.info(
                "slm: %s loaded in %.2f s (intent prefix %d tokens, %s)",
                self.model_dir.name, self.load_seconds, self.prefix_tokens,
                "cached" if self.cache_prefix else "not cached",
            )

    def _session(self, prefix_text: str, max_new: int, *, guidance: str) -> _Session:
        og = self._og
        prefix = self._encode(prefix_text)
        params = og.GeneratorParams(self._model)
        search: dict[str, Any] = {"max_length": len(prefix) + MAX_INPUT_TOKENS + _TURN_OVERHEAD + max_new}
        if self.temperature > 0:
            search.update(do_sample=True, temperature=self.temperature, top_p=0.9, top_k=40)
        else:
            search.update(do_sample=False)
        params.set_search_options(**search)
        params.set_guidance("lark_grammar", guidance)
        return _Session(og, self._model, params, prefix, cache=self.cache_prefix)

    def warm(self) -> None:
        """One dummy turn, so the first real turn pays no first-call costs."""
        self.load()
        self.decode("what's the weather like")

    def set_home(self, home: Home) -> None:
        """Serve a changed home (Home Assistant's registries changed). The model never sees the home, so nothing
        is processed again: the next turn resolves its words against the new home."""
        self.home = home

    # -- the intent tier ---------------------------------------------------------------------------------------

    def understand(self, text: str, *, transcript_confidence: float | None = None) -> Understanding | None:
        """The intent and reply for a transcript (None only for empty text); never raises on odd input."""
        if not text or not text.strip():
            return None
        try:
            decoded = self.decode(text)
        except Exception:  # the runtime failed on this input: say so rather than crash the turn
            _log.exception("slm: generation failed for %r", text[:80])
            return Understanding(None, SAY_AGAIN, "slm")
        return self.interpret(decoded.text, decoded.confidence, said=text)

    def decode(self, text: str) -> Decoded:
        """The model's answer line for a transcript (constrained decoding) and its probability."""
        self.load()
        assert self._intent is not None
        with self._lock:
            return self._decode_answer(self._intent, self._user_ids(text, sp.user_turn), self.max_new_tokens)

    def generate(self, text: str) -> str:
        """The model's answer line for a transcript, e.g. "on|name=coffee"."""
        return self.decode(text).text

    def interpret(self, raw: str, confidence: float = 1.0, *, said: str = "") -> Understanding:
        """Check an answer line, resolve its words against the home and turn it into an Understanding; an action
        the model is not sure enough of becomes "Did you mean ...?". said: the words the answer is for."""
        try:
            answer = sp.parse(raw)
        except sp.AnswerError as e:
            _log.info("slm: unusable output %r: %s", raw[:200], e)
            return Understanding(None, SAY_AGAIN, "slm", confidence=confidence)
        if answer.key == sp.OPEN_QUESTION:
            return Understanding(None, "", "slm", confidence=confidence, open_question=True)
        if answer.key == sp.NOT_FOR_ME:
            return Understanding(None, NOT_FOR_ME, "slm", confidence=confidence)
        if said:
            answer = respelled(answer, said)  # "diswasher" copied from "dishwasher": the word as said
        if said and (invented := unsaid(answer, said)) is not None:
            # "make it warmer" read as temperature|area=allude to increase: words nobody said are the model's
            # invention; never spoken back ("I don't know an area called ...") and never acted on.
            _log.info("slm: %s=%r was not said in %r", invented, answer.slots[invented], said)
            return Understanding(None, SAY_AGAIN, "slm", confidence=confidence)
        if (said and answer.key == "state" and answer.slots.get("domain")
                and not any(answer.slots.get(k) for k in ("name", "area", "floor"))
                and not says(said, str(answer.slots["domain"]))):
            # "will it rain tomorrow" read as the state of the covers: a question about no device said is looked up
            return Understanding(None, "", "slm", confidence=confidence, open_question=True)
        found = self._intent_of(answer, said)
        if isinstance(found, str):
            return Understanding(None, found, "slm", confidence=confidence)
        reply = reply_for(found, self.home, now=self._clock(), states=self._states)
        understood = Understanding(found, reply, "slm", confidence=confidence)
        needed = self.risky_confidence if is_risky(found, self.home) else self.confidence_threshold
        if confidence < needed:
            return Understanding(None, ask_first(found, self.home), "slm", confidence=confidence, confirm=understood)
        return understood

    def _intent_of(self, answer: sp.Answer, said: str = "") -> Intent | str:
        """The resolved intent an answer means, or the sentence that says why there is none."""
        hass = answer.hass
        assert hass is not None
        slots = answer.hass_slots()
        domain = slots.get("domain")
        if said and domain and not any(e.domain == domain for e in self.home.entities) and not says(said, domain):
            # a domain nobody said and the home lacks ("desk lamp one off" read with domain=valve): the model's
            # noise, not the user's meaning. One the words name ("lock the door") is kept, and refused.
            del slots["domain"]
        if said and not any(slots.get(k) for k in ("name", "area", "floor")) and (floor := floor_said(self.home, said)):
            slots["floor"] = floor  # "what's the temperature upstairs" answered without the floor: the one said
        area_fallback = self.home.satellite_area
        if str(slots.get("area", "")).removeprefix("the ") in WHOLE_HOME_AREAS:
            del slots["area"]  # the whole home: no area, and not the satellite's either
            area_fallback = None
        if hass == "HassStartTimer" and not any(slots.get(u) for u in ("hours", "minutes", "seconds")):
            return "How long should the timer be?"
        if hass == "HassListAddItem" and not slots.get("name"):
            lists = [e for e in self.home.entities if e.domain == "todo"]
            shopping = [e for e in lists if "shopping list" in (n.casefold() for n in e.names)]
            chosen = lists if len(lists) == 1 else shopping
            if len(chosen) != 1:
                return "Which list should I add it to?"
            slots["name"] = chosen[0].name
        res = resolve(hass, slots, self.home, area_fallback=area_fallback, domains=_target_domains(hass))
        if res.problem is not None and hass in _SWITCH_OF_VACUUM and slots.get("name"):
            # "turn on wemo" read as "start the vacuum": a named device that is no vacuum is switched as asked.
            switched = resolve(_SWITCH_OF_VACUUM[hass], slots, self.home, area_fallback=area_fallback,
                               domains=_target_domains(_SWITCH_OF_VACUUM[hass]))
            if switched.problem is None:
                hass, res = _SWITCH_OF_VACUUM[hass], switched
        spec_domains = _domains_of(hass)
        if slots.get("name") and not spec_domains:  # "stop the vacuum": a kind of device named, not a device
            spec_domains = names.kind_domains(str(slots["name"])) & set(_target_domains(hass) or ())
        kind_only = not slots.get("name") or names_a_kind(str(slots["name"]), spec_domains)
        if res.problem is not None and kind_only and not slots.get("area") and spec_domains:
            # "pause" / "start the vacuum cleaner": with one device of the kind in the home, that is the one meant.
            only = [e for e in self.home.entities if e.domain in spec_domains and _is_a(e, slots.get("name"))]
            if len(only) == 1:
                res = resolve(hass, {**slots, "name": only[0].name}, self.home)
            elif len(only) > 1 and _each_of(said, only):
                res = Resolution(tuple(sorted(e.id for e in only)))  # "close all the blinds": each of them
            elif len(only) > 1 and slots.get("name"):
                return which_of(only)
        if res.problem is not None and said and not slots.get("name") and not slots.get("area"):
            # "start the sprinklers" answered with domain=valve alone: the device the words name in full
            kinds = _target_domains(hass) or ()
            domain = slots.get("domain") or (kinds[0] if len(kinds) == 1 else None)
            named = named_in_full(self.home, said, domain)
            if not named and domain:  # "stop watering", "stop the vacuum": none here, but some elsewhere
                named = [e for e in self.home.entities if e.domain == domain]
                if len(named) > 1 and _each_of(said, named):  # "turn off both fans", "the fans"
                    res = Resolution(tuple(sorted(e.id for e in named)))
                elif len(named) > 1:
                    return which_of(named)
            if len(named) == 1:
                res = resolve(hass, {**slots, "name": named[0].name}, self.home, domains=_target_domains(hass))
        if res.problem is not None:
            return res.problem
        hass = _for_the_device(hass, res.entity_ids)
        return Intent(name=hass, slots=slots, entity_ids=res.entity_ids)

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

    def _decode_answer(self, session: _Session, ids: list[int], max_new: int) -> Decoded:
        """Greedy constrained decoding, reading each step's logits to know how likely the chosen token was."""
        t0 = time.perf_counter()
        gen = session.start(ids)
        t1 = time.perf_counter()
        out: list[int] = []
        probs: list[float] = []
        while not gen.is_done() and len(out) < max_new:
            logits = np.asarray(gen.get_logits(), dtype=np.float32).reshape(-1)
            gen.generate_next_token()
            token = int(gen.get_next_tokens()[0])
            probs.append(_probability(logits, token))
            out.append(token)
        t2 = time.perf_counter()
        finished = bool(out) and out[-1] in self._eos
        text = self._tok.decode([t for t in out if t not in self._eos]).strip()
        # An answer cut off by max_new (no end token) is not an answer the model finished: no confidence.
        confidence = math.prod(probs) if finished else 0.0
        prompt = len(ids) + (0 if session.cache else len(session.prefix))
        self.last = TurnStats(text, prompt, len(out), t1 - t0, t2 - t1, session.cache, tuple(probs))
        return Decoded(text, confidence)


def _probability(logits: np.ndarray, token: int) -> float:
    """softmax(logits)[token], computed stably."""
    top = float(logits.max())
    return float(math.exp(float(logits[token]) - top) / np.exp(logits - top).sum())


def _domains_of(hass: str) -> tuple[str, ...]:
    spec = BY_NAME.get(hass)
    return spec.domains if spec is not None and spec.target != "required" else ()


_EVERY = re.compile(r"\b(?:all|every|each|both)\b")
"""Words that ask for every device of a kind ("close all the blinds", "both fans")."""


def _each_of(said: str, devices: list[Any]) -> bool:
    """Whether the words ask for each of the devices: "all"/"both"/"every", or their kind in the plural when no
    name has that plural in it ("the fans" is both fans; "the blinds" may be the one called "bedroom blinds")."""
    words = re.findall(r"[a-z']+", said.casefold())
    if _EVERY.search(" ".join(words)):
        return True
    in_names = {w for e in devices for n in e.names for w in re.findall(r"[a-z']+", n.casefold())}
    return any(w.endswith("s") and w not in in_names and w[:-1] in names.NOUN_DOMAINS for w in words)
_SPECIFIC_KINDS = frozenset({"media_player", "cover"})
"""Domains whose nouns name different things (a tv is not a speaker, blinds are no garage door): the noun must be
in the device's names or its device class."""


def _is_a(entity: Any, spoken: Any) -> bool:
    """Whether a device is what a kind of device said means ("the vacuum" is the Roborock; "the tv" is no speaker)."""
    if not spoken or entity.domain not in _SPECIFIC_KINDS:
        return True
    said = set(names.words(str(spoken)))
    return any(said & set(names.words(n)) for n in (*entity.names, entity.device_class or ""))


_SWITCH_OF_VACUUM = {"HassVacuumStart": "HassTurnOn", "HassVacuumReturnToBase": "HassTurnOff"}


def _target_domains(hass: str) -> tuple[str, ...] | None:
    """The domains an intent's target may be (a vacuum intent never lands on a plug); None: any."""
    spec = BY_NAME.get(hass)
    return spec.domains if spec is not None and spec.domains else None


def _for_the_device(hass: str, entity_ids: tuple[str, ...]) -> str:
    """The intent that means "on"/"off" for the device found: a vacuum cleaner starts or goes back to its dock."""
    domains = {e.split(".", 1)[0] for e in entity_ids}
    if domains == {"vacuum"}:
        return {"HassTurnOn": "HassVacuumStart", "HassTurnOff": "HassVacuumReturnToBase"}.get(hass, hass)
    return hass
