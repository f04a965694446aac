"""The language model's context follows a home that changed in Home Assistant, without a restart (the small
135M model, built by `make test-models`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from slm_voice.models.build_slm import is_built, model_dir
from slm_voice.models.locate import models_dir
from slm_voice.pipeline.intent import slm_prompt as sp
from slm_voice.pipeline.intent.model import Entity, Home
from slm_voice.pipeline.intent.slm import LanguageModelTier
from slm_voice.pipeline.intent.tiers import IntentTiers

pytestmark = pytest.mark.slm

MODEL = "smollm2-135m"


def test_set_home_is_served_from_the_next_turn() -> None:
    """The fine-tuned model never sees the home (its prompt and grammar are the same for every home): a changed
    home needs nothing processed again, and the next turn's words resolve against it."""
    base = Path(os.environ.get("SLM_VOICE_TEST_MODELS_DIR") or models_dir())
    if not is_built(MODEL, base):
        pytest.fail(f"{MODEL} is not built in {base}: `slm-voice models build --model {MODEL}`")
    before = Home(areas=("kitchen",), entities=(Entity("light.kitchen", "kitchen light", (), "kitchen"),),
                  satellite_area="kitchen")
    tier = LanguageModelTier(model_dir(MODEL, base), before)
    tier.load()
    prefix, grammar = tier.prefix_tokens, tier.grammar
    assert tier.interpret("on|name=reading lamp", 0.99).intent is None  # not in this home (yet)
    after = Home(areas=("kitchen", "study"), entities=(*before.entities,
                                                      Entity("light.reading", "reading lamp", (), "study")),
                 satellite_area="kitchen")
    IntentTiers([tier]).set_home(after)
    assert tier.home == after and tier.grammar == grammar == sp.GRAMMAR and tier.prefix_tokens == prefix
    u = tier.interpret("on|name=reading lamp", 0.99)
    assert u.intent is not None and u.intent.entity_ids == ("light.reading",)
    u = tier.understand("switch on the reading lamp in the study")
    assert u is not None  # well formed, whatever the tiny model makes of it
    if u.intent is not None:
        assert set(u.intent.entity_ids) <= {"light.kitchen", "light.reading"}
