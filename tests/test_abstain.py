"""Never act on a guess: a risky action (a lock, a garage door) heard in an uncertain transcript is asked about
first, whichever tier understood it; safe actions and sure transcripts go through (fake tiers, no models)."""

from __future__ import annotations

import pytest

from slm_voice.pipeline.intent.intents import INTENTS, is_risky
from slm_voice.pipeline.intent.model import Entity, Home, Intent, Understanding
from slm_voice.pipeline.intent.tiers import RISKY_TRANSCRIPT_CONFIDENCE, IntentTiers

HOME = Home(
    areas=("garage", "hall", "kitchen"),
    entities=(
        Entity("cover.garage_door", "garage door", (), "garage", "garage"),
        Entity("cover.kitchen_blind", "kitchen blind", (), "kitchen", "blind"),
        Entity("cover.side_gate", "side gate", (), "garage"),
        Entity("lock.front_door", "front door", (), "hall"),
        Entity("light.kitchen", "kitchen light", (), "kitchen"),
    ),
)


class FixedTier:
    """A tier that always understands the same thing."""

    name = "template"

    def __init__(self, u: Understanding) -> None:
        self.u, self.home = u, HOME

    def load(self) -> None: ...

    def warm(self) -> None: ...

    def understand(self, text: str, *, transcript_confidence: float | None = None) -> Understanding | None:
        return self.u


def said(name: str, *ids: str) -> Understanding:
    return Understanding(Intent(name, {}, ids), "Done.", "template", 1.0)


@pytest.mark.parametrize(("intent", "ids", "risky"), [
    ("HassTurnOn", ("cover.garage_door",), True),
    ("HassTurnOff", ("lock.front_door",), True),
    ("HassTurnOn", ("cover.side_gate",), True),  # no device class: the name says gate
    ("HassTurnOn", ("cover.kitchen_blind",), False),
    ("HassTurnOn", ("light.kitchen",), False),
    ("HassGetState", ("lock.front_door",), False),  # asking changes nothing
])
def test_what_is_risky(intent: str, ids: tuple[str, ...], risky: bool) -> None:
    assert is_risky(Intent(intent, {}, ids), HOME) is risky


def test_a_risky_action_in_an_uncertain_transcript_is_asked_about() -> None:
    u = said("HassTurnOn", "cover.garage_door")
    tiers = IntentTiers([FixedTier(u)])
    asked = tiers.understand("open the garage door", transcript_confidence=RISKY_TRANSCRIPT_CONFIDENCE - 0.1)
    assert asked.intent is None and asked.confirm == u
    assert asked.reply == "Do you want me to open the garage door?"
    assert tiers.yes_or_no("yes please") is True and tiers.yes_or_no("no") is False


@pytest.mark.parametrize("confidence", [None, RISKY_TRANSCRIPT_CONFIDENCE, 0.95])
def test_a_sure_transcript_acts(confidence: float | None) -> None:
    u = said("HassTurnOff", "lock.front_door")
    assert IntentTiers([FixedTier(u)]).understand("unlock the front door", transcript_confidence=confidence) == u


def test_a_safe_action_is_not_asked_about_even_when_unsure() -> None:
    u = said("HassTurnOn", "light.kitchen")
    assert IntentTiers([FixedTier(u)]).understand("kitchen light on", transcript_confidence=0.1) == u


def test_the_intent_list_marks_the_intents_that_can_open_the_home() -> None:
    assert {i.name for i in INTENTS if i.risky} == {"HassTurnOn", "HassTurnOff", "HassSetPosition"}
