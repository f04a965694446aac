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


def test_set_home_rebuilds_the_language_models_prompt_and_grammar() -> None:
    base = Path(os.environ.get("SLM_VOICE_TEST_MODELS_DIR") or models_dir())
    if not is_built(MODEL, base):
        pytest.fail(f"{MODEL} is not built in {base}: `slm-voice models build --model {MODEL}`")
    before = Home(areas=("kitchen",), entities=(Entity("light.kitchen", "kitchen light", (), "kitchen"),),
                  satellite_area="kitchen")
    tier = LanguageModelTier(model_dir(MODEL, base), before)
    tier.load()
    prefix = tier.prefix_tokens
    assert "reading lamp" not in tier.grammar
    after = Home(areas=("kitchen", "study"), entities=(*before.entities,
                                                      Entity("light.reading", "reading lamp", (), "study")),
                 satellite_area="kitchen")
    IntentTiers([tier]).set_home(after)
    assert tier.home == after and "reading lamp" in tier.grammar
    assert "reading lamp" in {n.casefold() for n in sp.entity_names(tier.home)}
    assert tier.prefix_tokens > prefix  # the new device is in the cached prompt
    u = tier.understand("switch on the reading lamp in the study")
    assert u is not None  # well formed, whatever the tiny model makes of it
    if u.intent is not None:
        assert set(u.intent.entity_ids) <= {"light.kitchen", "light.reading"}
