"""The one list of intents (pipeline/intent/intents.py) and everything that derives from it: no drift.

(Home Assistant's event entity, the service table and the blueprint are checked in test_homeassistant_logic.py;
the language model's schema in test_slm*.)"""

from __future__ import annotations

from home_assistant_intents import get_intents

from slm_voice.pipeline.intent import replies
from slm_voice.pipeline.intent.intents import BY_NAME, HOME_INTENTS, INTENTS, NAMES, SATELLITE_INTENTS, TARGETLESS
from slm_voice.pipeline.intent.templates import TemplateTier


def test_every_intent_is_home_assistants_and_listed_once() -> None:
    assert len(NAMES) == len(set(NAMES)) == len(INTENTS)
    assert set(NAMES) <= set(get_intents("en")["intents"])  # same names, same meaning as Home Assistant's
    assert set(NAMES) == HOME_INTENTS | SATELLITE_INTENTS and not HOME_INTENTS & SATELLITE_INTENTS


def test_every_intent_has_a_reply_and_no_reply_is_for_an_unlisted_intent() -> None:
    assert set(replies._HANDLERS) == set(NAMES)
    assert frozenset(NAMES) == replies.SUPPORTED_INTENTS


def test_targets_follow_the_list() -> None:
    for spec in INTENTS:
        assert (spec.name in TARGETLESS) == (spec.target == "none")
        assert spec.target == "none" or spec.domains, spec  # something to act on


def test_the_template_tier_recognises_exactly_the_listed_intents() -> None:
    tier = TemplateTier(_home_with_every_domain())
    tier.load()
    assert tier._intents is not None
    assert set(tier._intents.intents) <= set(NAMES)
    # Every intent a template can express for this home (all of them but those HA's English templates leave out).
    assert {"HassTurnOn", "HassTurnOff", "HassLightSet", "HassGetState", "HassStartTimer", "HassNevermind",
            "HassSetVolumeRelative", "HassMediaPlayerMute", "HassVacuumStart"} <= set(tier._intents.intents)
    assert BY_NAME["HassTurnOn"].where == "home"


def _home_with_every_domain():  # noqa: ANN202 - the pipeline's Home
    from slm_voice.pipeline.intent.model import Entity, Home

    domains = sorted({d for spec in INTENTS for d in spec.domains})
    return Home(areas=("kitchen",), satellite_area="kitchen",
                entities=tuple(Entity(f"{d}.thing_{i}", f"thing {i}", (), "kitchen") for i, d in enumerate(domains)))
