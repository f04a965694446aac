"""Announce and ask (issue #18 part 4) with fakes: the answer matching, the MQTT payloads' checks, and the turn
machine speaking a question and hearing its answer without the wake word. End to end against a real Home Assistant:
tests/test_homeassistant.py."""

from __future__ import annotations

import json

import pytest

from slm_voice.daemon.mqtt_bridge import MAX_ASK_BYTES, parse_announce, parse_ask
from slm_voice.pipeline.asking import Answer, AnswerChoice, AnswerStatus, Question, match
from slm_voice.pipeline.events import IntentRecognized, TurnFinished
from slm_voice.pipeline.speaking import MAX_QUEUED_SAYS
from tests.fakes import FakeExecutor, FakeTts, until
from tests.test_assistant import KITCHEN, Rig, run

YES_NO = (AnswerChoice("yes", ("yes", "sure", "go ahead")), AnswerChoice("no", ("no", "not now")))


@pytest.mark.parametrize(("said", "status", "answer_id"), [
    ("Yes.", AnswerStatus.ANSWERED, "yes"),
    ("  SURE!  ", AnswerStatus.ANSWERED, "yes"),
    ("yes please", AnswerStatus.ANSWERED, "yes"),  # a sentence inside the answer, word for word
    ("okay, go ahead", AnswerStatus.ANSWERED, "yes"),
    ("No.", AnswerStatus.ANSWERED, "no"),
    ("not now", AnswerStatus.ANSWERED, "no"),
    ("yes no", AnswerStatus.UNMATCHED, None),  # two answers equally good: neither, never a guess
    ("no, not sure", AnswerStatus.UNMATCHED, None),  # "no" and "sure": one word each
    ("yesterday", AnswerStatus.UNMATCHED, None),  # words, not letters
    ("maybe", AnswerStatus.UNMATCHED, None),
    ("", AnswerStatus.TIMEOUT, None),
    (" ... ", AnswerStatus.TIMEOUT, None),
])
def test_answers_are_matched_by_whole_words(said: str, status: AnswerStatus, answer_id: str | None) -> None:
    assert match(said, YES_NO) == (status, answer_id)


def test_the_whole_answer_beats_a_longer_sentence_inside_it_and_without_choices_anything_is_the_answer() -> None:
    choices = (AnswerChoice("kitchen", ("the kitchen",)), AnswerChoice("all", ("the kitchen and the hall",)))
    assert match("the kitchen and the hall", choices) == (AnswerStatus.ANSWERED, "all")
    assert match("The kitchen", choices) == (AnswerStatus.ANSWERED, "kitchen")
    assert match("I'd like tea", ()) == (AnswerStatus.ANSWERED, None)
    assert Answer(Question("Tea?", (), "q1"), AnswerStatus.ANSWERED, None, "tea").record() == {
        "event_type": "answered", "id": "q1", "answer": None, "sentence": "tea", "question": "Tea?"}


# --- payloads ----------------------------------------------------------------------------------------------


def test_announce_payloads() -> None:
    assert parse_announce(b"  Dinner\x07 is ready \n") == ("Dinner is ready", True)
    assert parse_announce(json.dumps({"message": "Hi", "preannounce": False}).encode()) == ("Hi", False)
    for bad in [b"", b"\x00\x01", json.dumps({"message": 5}).encode(), json.dumps({"msg": "x"}).encode(),
                json.dumps({"message": "x", "preannounce": "yes"}).encode(), b"x" * 2001, b"{oops", b"\xff",
                b"x" * (MAX_ASK_BYTES + 1)]:
        with pytest.raises(ValueError):
            parse_announce(bad)


def test_ask_payloads() -> None:
    q = parse_ask(json.dumps({"question": "Close it?", "id": "garage",
                              "answers": [{"id": "yes", "sentences": ["yes", "sure\u0000"]}, {"id": "no"}]}).encode())
    assert q == Question("Close it?", (AnswerChoice("yes", ("yes", "sure")), AnswerChoice("no", ("no",))), "garage")
    assert parse_ask(b"What shall we cook?") == Question("What shall we cook?")
    ok = {"question": "Q?", "answers": [{"id": "a", "sentences": ["a"]}]}
    for bad in [
        {**ok, "question": ""}, {**ok, "question": ["Q?"]}, {**ok, "extra": 1},
        {**ok, "timeout_s": 0}, {**ok, "timeout_s": 61}, {**ok, "timeout_s": True}, {**ok, "timeout_s": "5"},
        {**ok, "answers": {"a": ["a"]}}, {**ok, "answers": [{"id": "a"}] * 2},
        {**ok, "answers": [{"id": str(i)} for i in range(17)]},
        {**ok, "answers": [{"id": "a", "sentences": []}]}, {**ok, "answers": [{"id": "a", "sentences": "a"}]},
        {**ok, "answers": [{"id": "a", "sentences": ["x" * 101]}]}, {**ok, "answers": [{"id": ""}]},
        {**ok, "answers": [{"id": "a", "words": ["a"]}]}, {**ok, "answers": ["a"]}, {**ok, "id": "i" * 101},
        {**ok, "preannounce": 1},
    ]:
        with pytest.raises(ValueError):
            parse_ask(json.dumps(bad).encode())
    with pytest.raises(ValueError):
        parse_ask(json.dumps({**ok, "question": "x" * MAX_ASK_BYTES}).encode())


# --- the turn machine ------------------------------------------------------------------------------------------


def test_a_question_is_spoken_and_its_answer_heard_without_the_wake_word() -> None:
    answers: list[Answer] = []
    question = Question("Shall I close the garage?", YES_NO, "garage", timeout_s=1.0, preannounce=True)

    async def script(r: Rig) -> None:
        r.frames.add(0, 3)
        await until(lambda: r.frames._queue.empty())
        assert r.assistant.ask(question, answers.append)
        await until(lambda: r.assistant.state == "listening")
        r.frames.add(3000, 8)  # "yes", no wake word
        r.frames.add(0, 14)
        await until(lambda: bool(answers) and r.assistant.state == "idle")

    r = run(Rig(executor=FakeExecutor()), script)
    assert answers == [Answer(question, AnswerStatus.ANSWERED, "yes", "yes")]
    assert r.tts.said == ["Shall I close the garage?"]
    assert len(r.sink.written) == 2 and r.sink.written[0].sample_rate == 22050  # the chime, then the question
    assert not [e for e in r.events if isinstance(e, IntentRecognized)]  # an answer, never a command
    assert r.executor.done == []
    (turn,) = [e for e in r.events if isinstance(e, TurnFinished)]
    assert turn.transcript == "yes" and turn.understanding is None


def test_silence_is_a_timeout_and_the_next_wake_word_is_a_command_again() -> None:
    answers: list[Answer] = []
    question = Question("Anyone there?", YES_NO, timeout_s=1.0, preannounce=False)

    async def script(r: Rig) -> None:
        r.frames.add(0, 3)
        await until(lambda: r.frames._queue.empty())
        r.assistant.ask(question, answers.append)
        await until(lambda: r.assistant.state == "listening")
        r.frames.add(0, 40)  # over a second of silence
        await until(lambda: bool(answers) and r.assistant.state == "idle")
        r.command(1000)
        await until(lambda: any(isinstance(e, IntentRecognized) for e in r.events))

    r = run(Rig(), script)
    assert answers == [Answer(question, AnswerStatus.TIMEOUT, None, "")]
    assert r.tts.said[0] == "Anyone there?" and len(r.sink.written) >= 2  # no chime: the question, then the reply
    assert [e.text for e in r.events if isinstance(e, IntentRecognized)] == [KITCHEN]


def test_an_unmatched_answer_muted_and_too_many_waiting() -> None:
    answers: list[Answer] = []
    question = Question("Yes or no?", YES_NO, timeout_s=1.0, preannounce=False)

    async def script(r: Rig) -> None:
        r.frames.add(0, 3)
        await until(lambda: r.frames._queue.empty())
        r.assistant.ask(question, answers.append)
        await until(lambda: r.assistant.state == "listening")
        r.frames.add(2000, 8)  # "please"
        r.frames.add(0, 14)
        await until(lambda: len(answers) == 1 and r.assistant.state == "idle")
        r.assistant.set_muted(True)
        r.assistant.ask(question, answers.append)
        await until(lambda: len(answers) == 2 and r.assistant.state == "muted")
        r.assistant.set_muted(False)
        for _ in range(MAX_QUEUED_SAYS + 1):  # while the first speaks slowly, the others wait; one too many
            r.assistant.announce("A long announcement.")
        r.assistant.ask(question, answers.append)
        await until(lambda: len(answers) == 3)

    r = run(Rig(tts=FakeTts(seconds_per_sentence=0.05)), script)
    assert [(a.status, a.sentence) for a in answers] == [
        (AnswerStatus.UNMATCHED, "please"), (AnswerStatus.MUTED, ""), (AnswerStatus.BUSY, "")]
    assert r.tts.said.count("Yes or no?") == 2  # muted: spoken, not listened to; busy: never spoken


def test_announce_chimes_first_unless_told_not_to() -> None:
    async def script(r: Rig) -> None:
        assert r.assistant.announce("The washer is done.")
        await r.assistant.wait_idle()
        await until(lambda: len(r.sink.written) == 2)
        assert r.assistant.announce("Quietly.", chime=False)
        await r.assistant.wait_idle()
        await until(lambda: len(r.sink.written) == 3)

    r = run(Rig(), script)
    assert r.tts.said == ["The washer is done.", "Quietly."]
    chime, spoken, quiet = r.sink.written
    assert len(chime.pcm) != len(spoken.pcm) and len(spoken.pcm) == len(quiet.pcm)
