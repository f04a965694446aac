"""The home's words (pipeline/vocabulary.py) and the n-best choice that uses them (pipeline/stt.py choose)."""

from __future__ import annotations

from slm_voice.daemon.settings import parse_settings
from slm_voice.pipeline.intent.model import Entity, Home
from slm_voice.pipeline.stt import choose
from slm_voice.pipeline.vocabulary import home_fit, home_vocabulary, spell, words

HOME = Home(areas=("kitchen", "office"), floors=("upstairs",),
            entities=(Entity("light.kitchen", "kitchen light", aliases=("worktop lamp",), area="kitchen"),
                      Entity("climate.heater", "office heater", area="office")))


def test_the_home_knows_its_names_and_the_templates_words() -> None:
    vocab = home_vocabulary(HOME)
    assert {"kitchen", "light", "worktop", "lamp", "office", "heater", "upstairs"} <= vocab
    assert {"turn", "on", "off", "pause", "cancel", "timer", "music"} <= vocab
    assert not {"front", "porch", "console"} & vocab
    assert home_fit("front on the kitchen light", vocab) == 0.8
    assert home_fit("Turn on the kitchen light.", vocab) == 1.0 and home_fit("", vocab) == 0.0
    assert words("Set it to 42%!") == ["set", "it", "to", "forty", "two", "percent"] and spell(300) == "three hundred"


def test_the_hypothesis_that_fits_the_home_wins_unless_a_clearly_likelier_one_does_not() -> None:
    vocab = home_vocabulary(HOME)
    texts = ["front on the kitchen light", "turn on the kitchen light"]
    assert choose(texts, [-0.30, -0.45], vocab) == 1  # 0.2 of fit outweighs 0.15 of log-probability
    assert choose(texts, [-0.10, -0.60], vocab) == 0  # a much likelier decode stays
    assert choose(["tell me a joke", "tell me a joe"], [-0.2, -0.5], vocab) == 0  # open talk: the score decides
    assert choose(["a", "a"], [-0.2, -0.2], vocab) == 0  # ties: the likelier (first) decode


def test_home_nbest_is_a_setting_that_defaults_to_five() -> None:
    assert parse_settings({}).stt.home_nbest == 5
    assert parse_settings({"stt": {"home_nbest": 1}}).stt.home_nbest == 1
