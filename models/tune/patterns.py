"""Everyday phrasing written for the project, in hassil's template syntax, with the answer each one means.

Home Assistant's templates (expanded separately) cover the formal commands; these cover what people actually say
to a speaker: indirect requests ("it's too dark in here"), verbs of their own ("kill the lights", "get the fan
going"), relative changes ("a bit brighter", "turn the sound up"), things named by what they make ("brew some
coffee"), questions the assistant answers freely, and talk that asks for nothing. Each Pattern is an answer key,
fixed answer slots and templates; {list:slot} references fill the other slots with the words that were said.

Rules of the answer language the patterns follow (the model learns them from here):
- the lights with no room: no area (the satellite's room); "all the lights" / "the house": area=all;
- a device is named with the words said (name=coffee for "make coffee"); open/close adds domain=cover, lock and
  unlock domain=lock;
- dimmer/brighter: light|brightness=down/up; louder/quieter: volume|step=up/down; a level: brightness=N, level=N;
- a question about the world, a joke, small talk: answer; a statement or a "don't": ignore.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Pattern:
    """Templates that all mean one answer (up to the slots they fill)."""

    key: str
    """Answer key (slm_prompt.ANSWERS)."""
    templates: tuple[str, ...]
    fixed: dict[str, Any] = field(default_factory=dict)
    """Answer slots every sentence of these templates has (domain=light, area=all, minutes=30)."""
    weight: float = 1.0
    """How many examples, relative to the others."""
    polite: bool = True
    """Whether "please", "can you" and the like may be added around it."""


def P(key: str, *templates: str, weight: float = 1.0, polite: bool = True, **fixed: Any) -> Pattern:  # noqa: N802
    return Pattern(key, templates, dict(fixed), weight, polite)


RULES = {
    "the": "(the|my|our)",
    "lights": "(lights|lighting|lamps|light)",
    "turn_on": "(turn on|switch on|put on|flip on|power on)",
    "turn_off": "(turn off|switch off|shut off|put out|flip off|power off|shut down)",
    "some": "(some|a little|a bit of|a bit more|more)",
    "here": "(in here|here|over here|in this room|down here|up here|in the room)",
    "bit": "(a bit|a little|a little bit|a touch|slightly|a tad|somewhat)",
    "in_area": "(in|of|in the|of the|for the|in my|of my|on the) {area}",
    "everywhere": "(in the (house|home|flat|apartment)|everywhere|in every room|all over the (house|place)|"
                  "throughout the house|of my (house|home|flat|apartment)|in the whole (house|home|place))",
    "all_the": "(all [of] the|all [of] my|every|all)",
    "music": "(music|song|audio|track|podcast|audiobook|radio|playlist|episode|album|show|video|movie|tunes)",
    "volume": "(volume|sound|music|audio|speaker volume|tv volume)",
    "louder": "(louder|higher|up a bit|up|a bit louder)",
    "quieter": "(quieter|softer|lower|down a bit|down|a bit quieter)",
    "time_word": "(time|hour)",
    "make": "(make|brew|prepare|fix|get|start|pour|do)",
}

PATTERNS: tuple[Pattern, ...] = (
    # ---- lights on / off, the lights of a room, of the house -----------------------------------------------------
    P("on", "<turn_on> [the] <lights>", "[the] <lights> on", "(turn|switch|put) [the] <lights> on",
      "[can you] (give me|i need|i want) (some|) light", "let there be light", "(light|lights) up [the room]",
      "(turn|switch) the <lights> back on", "get the <lights> on", "on with the <lights>",
      domain="light", weight=3),
    P("on", "it's [(too|very|so|quite|really|a bit|way too|kind of)] dark [<here>]",
      "it is [(too|very|so|quite|really)] dark [<here>]", "i can't see [(anything|a thing)] [<here>]",
      "(it's|it is) (pitch black|gloomy|too dim) [<here>]", "i can barely see", "why is it so dark [<here>]",
      "(too|so) dark [<here>]", "[it's] dark <here>", "it's getting dark [<here>]",
      domain="light", weight=2.5),
    P("on", "it's [(too|very|so|really)] dark <in_area>", "i can't see [anything] <in_area>",
      "it is [(too|very|so|quite|really)] dark <in_area>", "the {area} is (too|so|really) dark",
      domain="light", weight=2),
    P("on", "<turn_on> [the] {area} <lights>", "<turn_on> [the] <lights> <in_area>",
      "(turn|switch) [the] <lights> <in_area> on", "[the] {area} <lights> on", "<lights> on <in_area>",
      "light up the {area}", "(turn|switch) on the {area}", "(brighten|light) up the {area} [please]",
      domain="light", weight=3),
    P("on", "<turn_on> <all_the> <lights> [<everywhere>]", "<turn_on> [the] <lights> <everywhere>",
      "<all_the> <lights> on", "light up the (whole|entire) (house|home|place|flat)",
      "(turn|switch) on every (light|lamp) [in the house]", "(turn|switch) <all_the> <lights> on",
      domain="light", area="all", weight=2),
    P("off", "<turn_off> [the] <lights>", "[the] <lights> (off|out)", "(turn|switch|shut|put) [the] <lights> off",
      "(kill|cut|douse) the <lights>", "<lights> out", "no (more|) <lights> [please]",
      "(switch|turn|set) the <lights> to off", "<turn_off> [the] lighting", "(get rid of|enough with) the <lights>",
      "make it dark [in here]", "(too|way too) bright turn [them|it] off", "i don't need the <lights> (anymore|now)",
      domain="light", weight=3.5),
    P("off", "<turn_off> [the] {area} <lights>", "<turn_off> [the] <lights> <in_area>",
      "(turn|switch|shut) [the] <lights> <in_area> off", "[the] {area} <lights> (off|out)",
      "(kill|cut) the <lights> <in_area>", "<lights> out <in_area>", "no <lights> <in_area> [please]",
      "(please|) turn [the] {area} <lights> off", "(turn|switch) off the {area}", "darken the {area}",
      "i'm leaving the {area} (turn|switch) off the <lights>", "nobody is in the {area} (turn|switch) the lights off",
      domain="light", weight=3.5),
    P("off", "<turn_off> <all_the> <lights> [<everywhere>]", "<turn_off> [the] <lights> <everywhere>",
      "<all_the> <lights> (off|out)", "(kill|cut) <all_the> <lights>", "lights out <everywhere>",
      "(turn|switch|shut) <all_the> <lights> off", "i'm going to bed turn off <all_the> <lights>",
      "(turn|switch) off every (light|lamp) [in the house]", "make sure <all_the> <lights> are off",
      domain="light", area="all", weight=2),
    # a named light, plug, fan, device
    P("on", "<turn_on> [the] {light:name}", "(turn|switch|put) [the] {light:name} on", "[the] {light:name} on",
      "(light up|fire up) the {light:name}", "i want the {light:name} on", "{light:name} on please",
      weight=3),
    P("off", "<turn_off> [the] {light:name}", "(turn|switch|shut) [the] {light:name} off", "[the] {light:name} off",
      "(kill|cut) the {light:name}", "i don't need the {light:name} (anymore|now)", "{light:name} (off|out)",
      weight=3),
    P("on", "<turn_on> [the] {light:name} <in_area>", "(turn|switch) [the] {area} {light:name} on",
      "<turn_on> the {area} {light:name}", weight=1.5),
    P("off", "<turn_off> [the] {light:name} <in_area>", "(turn|switch) [the] {area} {light:name} off",
      "<turn_off> the {area} {light:name}", weight=1.5),
    P("on", "<turn_on> [<the>] {switch:name}", "(turn|switch|toggle|put) [<the>] {switch:name} on",
      "[<the>] {switch:name} on", "(start|power up|fire up|activate|enable) [<the>] {switch:name}",
      "get the {switch:name} (going|started|running)", "i need the {switch:name} on", "{switch:name} on please",
      weight=4),
    P("off", "<turn_off> [<the>] {switch:name}", "(turn|switch|toggle|put) [<the>] {switch:name} off",
      "[<the>] {switch:name} off", "(stop|power down|deactivate|disable|kill|cut) [<the>] {switch:name}",
      "we don't need the {switch:name} (anymore|now)", "{switch:name} off please", weight=4),
    P("on", "<turn_on> [<the>] {fan:name}", "(turn|switch|put) [<the>] {fan:name} on",
      "(get|set) the {fan:name} (going|running|spinning)", "(start|fire up) the {fan:name}",
      "it's (too|so|really) (hot|warm|stuffy) [in here] (get|turn on|switch on) the {fan:name}",
      "i need some air (get|turn on) the {fan:name}", weight=2),
    P("off", "<turn_off> [<the>] {fan:name}", "(turn|switch|put) [<the>] {fan:name} off", "(stop|kill) the {fan:name}",
      "it's (too|so|getting) (cold|chilly) (turn|switch) off the {fan:name}", weight=2),
    P("on", "the {area} is (too|so|really) (hot|warm|stuffy) (get|turn on|switch on) the fan [going]",
      "(turn|switch) on the fan <in_area>", "get the fan going <in_area>", "<in_area> (turn|switch) the fan on",
      domain="fan", weight=1.5),
    P("off", "(turn|switch) off the fan <in_area>", "stop the fan <in_area>", "<in_area> (turn|switch) the fan off",
      domain="fan", weight=1),
    P("on", "<turn_on> [<the>] {media:name}", "(turn|switch|put) [<the>] {media:name} on",
      "(start|fire up) the {media:name}", weight=1.5),
    P("off", "<turn_off> [<the>] {media:name}", "(turn|switch|put) [<the>] {media:name} off",
      weight=1.5),
    P("on", "<turn_on> [<the>] {any:name}", "(turn|switch) [<the>] {any:name} on", "(start|activate) the {any:name}",
      weight=3),
    P("off", "<turn_off> [<the>] {any:name}", "(turn|switch) [<the>] {any:name} off",
      "(stop|deactivate) the {any:name}", weight=3),
    # coffee and the like: the thing named by what it makes
    P("on", "[please] <make> [me] [(a|some|my|a cup of|a pot of|a fresh)] [(morning|hot|fresh)] {coffee:name} "
      "[(now|please|for me)]", "i (would like|want|need|could use|'d love) [(a|some|my)] {coffee:name} [now]",
      "(start|start up|turn on|switch on|fire up|run) the {coffee:name} [(now|please)]",
      "(it's|its) {coffee:name} time", "time for [(a|some|my)] {coffee:name}", "{coffee:name} please",
      "(get|set) the {coffee:name} (going|running|started|brewing)", "can i get a {coffee:name}",
      "i need my {coffee:name}", "(let's|lets) have [(a|some)] {coffee:name}", weight=4.5),
    P("off", "(stop|turn off|switch off) the {coffee:name}", "[i'm] done with the {coffee:name}",
      "{coffee:name} off", weight=1),
    # covers and locks: open/close, lock/unlock
    P("on", "(open|raise|lift|pull up|roll up) [<the>] {cover:name}", "(can you|) open up the {cover:name}",
      "let some (light|air) in open the {cover:name}", "{cover:name} up", "i'm home open the {cover:name}",
      domain="cover", weight=2),
    P("off", "(close|shut|lower|pull down|roll down|draw) [<the>] {cover:name}", "{cover:name} down",
      "i'm leaving (close|shut) the {cover:name}", "(close|shut) the {cover:name} for the night",
      domain="cover", weight=2),
    P("on", "lock [<the>] {lock:name}", "(make sure|check) the {lock:name} is locked",
      "[i'm going to bed] lock [up] the {lock:name}", "secure the {lock:name}", domain="lock", weight=1.5),
    P("off", "unlock [<the>] {lock:name}", "let me in unlock the {lock:name}",
      domain="lock", weight=1.2),
    # ---- brightness and colour --------------------------------------------------------------------------------
    P("light", "dim [the] <lights> [<bit>] [<here>]",
      "(lower|reduce|decrease|turn down|bring down|tone down) [the] <lights> [<bit>] [<here>]",
      "<lights> down [<bit>]", "(lower|decrease|reduce) [the] (lighting|light|brightness|light level)",
      "(this|it's|it is) (too|way too|really) bright [in here]", "make it [<bit>] (darker|dimmer|less bright)",
      "(give me|i want|i'd like) (low|dim|soft|dimmed|mood|subdued) (lighting|light|lights)",
      "the <lights> (are|is) (too|really) bright",
      "(minimize|minimise|soften) [the] (light|lights|lighting) [(power|brightness|level)]",
      "(can|could|will|would) you dim the <lights>", "darker please", "less light please",
      "(cut|drop) the brightness [<bit>]", "the <lights> hurt my eyes", "not so bright",
      brightness="down", weight=4),
    P("light", "dim the <lights> <in_area>", "(lower|reduce|turn down) the <lights> <in_area>",
      "dim the {area} <lights>", "(make|set) the {area} [<bit>] (darker|dimmer)", "(give me|i want) (low|dim|soft) "
      "(lighting|light) <in_area>", "it's too bright <in_area>", "the {area} is too bright",
      brightness="down", weight=2.5),
    P("light", "dim <all_the> <lights> [<everywhere>]", "(lower|turn down) <all_the> <lights>",
      "dim the <lights> <everywhere>", brightness="down", area="all", weight=1.8),
    P("light", "dim [<the>] {light:name} [<bit>]", "(lower|turn down) [<the>] {light:name}",
      "make the {light:name} [<bit>] (darker|dimmer)", brightness="down", weight=1.5),
    P("light", "(brighten|brighten up|bright) [the] <lights> [<bit>]", "(raise|increase|turn up|bring up|boost) [the] "
      "<lights> [<bit>] [<here>]", "<lights> up [<bit>]",
      "(increase|raise|boost) [the] (lighting|light|brightness|light level)",
      "make it [<bit>] (brighter|lighter)", "i need (some more|more|a bit more) (light|lights)",
      "(more|brighter) light please", "(can|could|will) you (brighten|bright) the <lights>", "brighter please",
      "increase the brightness [of the <lights>]", "the <lights> (are|is) too (dim|dark|low)",
      "it's (hard|difficult) to see [(here|in here|down here)] (brighten|turn up) the <lights>",
      "turn the brightness up", "full brightness", brightness="up", weight=3.5),
    P("light", "(brighten|turn up|raise|increase) [the] <lights> <in_area>", "(brighten|turn up) the {area} <lights>",
      "make the {area} [<bit>] brighter", "(more|brighter) light <in_area>", brightness="up", weight=2),
    P("light", "(brighten|turn up) [<the>] {light:name}", "make the {light:name} [<bit>] brighter",
      brightness="up", weight=1.2),
    P("light", "(set|put|turn|dim|bring) the <lights> to {pct:brightness} [percent]",
      "<lights> (at|to) {pct:brightness} [percent]", "(set|change) [the] brightness to {pct:brightness} [percent]",
      "{pct:brightness} percent (brightness|lights|light)", "make the <lights> {pct:brightness} percent",
      weight=1.5),
    P("light", "(set|put|dim|turn) the {area} <lights> to {pct:brightness} [percent]",
      "(set|put|dim) [<the>] {light:name} to {pct:brightness} [percent]", "{light:name} (at|to) {pct:brightness} "
      "percent", "brightness <in_area> to {pct:brightness} [percent]", weight=1.5),
    P("light", "(make|turn|set|change|switch) [the] <lights> {color}", "<lights> {color} please",
      "(set|change) the <lights> to {color}",
      "(change|set|switch) [the] (light|lights|lighting) colo[u]r[s] to {color}",
      "(change|switch) [the] (light|lights) colo[u]r[s] from {color2} to {color}", "i want {color} <lights>",
      "(can|could) the <lights> be (changed|turned|set|made) [to] {color}", "make it {color} [in here]",
      "{color} (light|lights) please", "(set|make) the (mood|room) {color}", "go {color}",
      weight=3),
    P("light", "(make|turn|set|paint) the {area} {color}", "(make|turn|set|change) the {area} <lights> [to] {color}",
      "(set|change) the <lights> <in_area> to {color}", "{color} <lights> <in_area>", "i want the {area} {color}",
      weight=2.5),
    P("light", "(make|turn|set|change) <all_the> <lights> [to] {color} [<everywhere>]",
      "(set|change) [the] colo[u]r [to] {color} (for|on|of) <all_the> <lights> [<everywhere>]",
      "(make|turn|set) the <lights> <everywhere> {color}", "{color} <lights> <everywhere>",
      "(set|change) the (whole|entire) (house|home|flat) to {color}", area="all", weight=3),
    P("light", "(make|turn|set|change) [<the>] {light:name} [to] {color}", "{light:name} {color} please",
      weight=1.5),
    # ---- media, volume, mute ----------------------------------------------------------------------------------
    P("volume", "(turn|crank|pump|bring|push) (up|it up) the <volume>", "(turn|crank|pump) the <volume> up [<bit>]",
      "<volume> up [<bit>]", "(increase|raise|boost) the <volume> [<bit>]", "(make it|play it) <louder>",
      "louder [please]", "i can't hear [(anything|it|the music|you)] [just] (turn it up|increase the volume|"
      "turn up the volume)", "(it's|its) too quiet", "(can|could) you make it louder", "more volume",
      "(increase|raise|turn up) [the] volume (on|of) the {media:name}", "(turn|crank) up the {media:name}",
      "(increase|raise) [(all|the)] volume (on|of) [the] {media:name}", "i can barely hear (it|the music)",
      step="up", weight=4),
    P("volume", "(turn|bring|tone|take) (down|it down) the <volume>", "(turn|bring) the <volume> down [<bit>]",
      "<volume> down [<bit>]", "(lower|decrease|reduce|drop|soften|slow) the <volume> [<bit>]",
      "(make it|play it) <quieter>", "(quieter|softer) [please]", "(it's|its|that's) too loud",
      "(can|could) you make it (quieter|softer)", "less volume", "not so loud",
      "(lower|decrease|reduce|turn down) [(all|the)] volume (on|of) [the] {media:name}",
      "(turn|bring) down the {media:name}", "the {media:name} is too loud", "(slow|tone) down the <volume>",
      step="down", weight=4),
    P("volume", "(set|put|turn|change) the <volume> to {level:level} [percent]", "volume {level:level} [percent]",
      "(increase|decrease|raise|lower|turn up|turn down) the <volume> [of the <music>] to {level:level} [percent]",
      "<volume> (at|to) {level:level} [percent]", "(set|put) the {media:name} (volume|) to {level:level} [percent]",
      weight=1.8),
    P("volume", "(increase|raise|turn up|push|lower|decrease|reduce|turn down|bring|drop) [the] <volume> "
      "[(of|on) [the] (<music>|{media:name})] to {level:level} [percent]", "<volume> (up|down) to {level:level}",
      weight=1.5),
    P("volume", "(set|turn|put) the <volume> to (the|) (loudest|max|maximum|highest|full) [(setting|level)]",
      "(full|max|maximum) volume", "volume (all the way up|to the max)", level=100, weight=0.8),
    P("mute", "mute [<the>] {media:name} [please]", "mute [the] (audio|sound|music|tv|speakers|volume)",
      "(press|hit|touch|push) the mute button", "(set|put|turn) [it] on mute [until i say (otherwise|so)]",
      "mute [(it|everything|that)]", "(silence|hush) [<the>] {media:name}", "mute (the sound|audio) (from|on) "
      "[the] {media:name}", "kill the sound", "(turn|switch) the sound off", "no sound please", "mute please",
      "(set|turn on) mute", weight=3),
    P("unmute", "unmute [<the>] {media:name}", "unmute [(it|the sound|the audio|the music|the tv)]",
      "(turn|switch|put) the sound back on", "take it off mute", "(turn|switch) off mute", "sound back on please",
      weight=1.5),
    P("pause", "(pause|stop|hold) [<the>] <music> [(please|for a (sec|second|moment|minute))]",
      "(can|could) you pause [the] <music>", "pause [it|this|that]", "hold on pause [the|this|it]",
      "(stop|pause) (playing|playback)", "pause [the] {media:name}", "put the <music> on pause", weight=2.5),
    P("resume", "(resume|continue|unpause|restart) [(playing|playback|with)] [<the>] <music> [please]",
      "(carry|keep) on (playing|with the <music>)", "(play|start) [the] <music> again", "continue [with] my <music>",
      "(resume|continue) [(it|playing|playback)]", "(unpause|resume) the {media:name}", "back to the <music>",
      weight=2.5),
    P("next", "(play|skip to|go to|jump to) [the] next <music>", "skip [(this|the)] <music>", "next <music> [please]",
      "skip [(it|this one|ahead)]", "(play|give me) something else", "next one", "(skip|forward) to the next one",
      "i don't like this (song|track) skip (it|)", weight=2.5),
    P("previous", "(play|go back to|skip back to) [the] (previous|last) <music>", "previous <music> [please]",
      "go back (a|one) (song|track)", "(replay|play) the last (song|track) again", "back one (song|track)",
      weight=1.2),
    # ---- vacuum ----------------------------------------------------------------------------------------------
    P("vacuum", "(clean|vacuum|hoover) the (house|flat|apartment|home|place|floors|floor|carpets|rooms)",
      "(start|begin|do|run) [the] (house|home|flat) (cleaning|cleanup|clean up|clean)",
      "(start|begin) (cleaning|vacuuming|hoovering) [the (house|floor|flat)]", "time to (clean|vacuum|hoover)",
      "get the (cleaning|vacuuming|hoovering) (on|going|started|done)", "(clean|vacuum|hoover) [the] {area}",
      "the (floor|house|carpet|kitchen floor) (is|looks) (dirty|filthy) (clean it|vacuum it|)",
      "(do|run) (a|the) (vacuum|clean|cleaning) [(run|cycle)]", "(start|do) the cleaning",
      weight=3),
    P("vacuum", "(start|run|activate|launch|turn on|switch on|power on|fire up|start up) [<the>] {vacuum:name} "
      "[(now|please|cleaner)]", "(get|set|send) the {vacuum:name} (going|cleaning|started|to work|running|off)",
      "(let|have) the {vacuum:name} (clean|do its thing|run)", "{vacuum:name} (start|go|clean)",
      "(can|could) you (start|run) the {vacuum:name}", "(help me|) (turn|switch) on the {vacuum:name}",
      weight=3.5),
    P("dock", "(send|return|take) [<the>] {vacuum:name} (back|home|back to (its|the) (dock|base|charger))",
      "(dock|park|recall) the {vacuum:name}", "{vacuum:name} go home", "stop (cleaning|vacuuming) and go home",
      "send the (vacuum|robot|hoover) back to (its|the) (dock|base|charger)", weight=1.2),
    # ---- lists, timers, time and date ----------------------------------------------------------------------------
    P("add", "add {item} to [<the>] {todo:list}", "put {item} on [<the>] {todo:list}", "(add|put) {item} to [the] list",
      "(add|put) {item} on (the|my) {todo:list}", "{item} (on|to) the {todo:list}", "write {item} on the {todo:list}",
      "(can|could) you add {item} to [<the>] {todo:list}", "(add|include) {item} in [<the>] {todo:list}",
      weight=2.5),
    P("add", "(we're|we are|i'm|i am) (out of|running low on|low on|almost out of) {item}", "we need [(some|more)] "
      "{item}", "(remind me to|i need to|don't let me forget to) buy {item}", "(buy|get|pick up) {item} (next time|"
      "later|this week)", "add {item} [please]", "put {item} on (the|my) list", "note that we need {item}",
      weight=2),
    P("timer", "(set|start|make) [a] timer (for|of) {hours} (hour|hours)", "alert me in {hours} (hour|hours)",
      "(remind|wake) me [up] in {hours} (hour|hours)", "{hours} hour timer", "(give me a shout|ping me|tell me) in "
      "{hours} (hour|hours)", weight=1),
    P("timer", "(set|start|make) [a] timer (for|of) {minutes} (minute|minutes) [for [the] {item}]",
      "(alert|remind|wake) me [up] in {minutes} (minute|minutes)", "{minutes} minute timer [for [the] {item}]",
      "count down {minutes} minutes", "(give me a shout|ping me|tell me|let me know|buzz me) in {minutes} "
      "(minute|minutes)", "timer {minutes} minutes", "(can you|) time {minutes} minutes",
      "set an alarm for {minutes} minutes from now", "(set|start) [a] {minutes} minute (timer|countdown)",
      weight=2.5),
    P("timer", "(set|start) [a] timer (for|of) {seconds} seconds", "{seconds} second timer",
      "(alert|tell|remind) me in {seconds} seconds", weight=0.8),
    P("timer", "(set|start) [a] timer (for|of) {hours} (hour|hours) and {minutes} (minute|minutes)",
      "(remind|alert|wake) me [up] in {hours} (hour|hours) and {minutes} (minute|minutes)", weight=0.8),
    P("timer", "(set|start) [a] timer for half an hour", "(remind|alert|wake) me in half an hour",
      "half hour timer", "thirty minute countdown", minutes=30, weight=0.5),
    P("timer", "(set|start) [a] timer for (an|one) hour and a half", "(remind|alert) me in an hour and a half",
      hours=1, minutes=30, weight=0.3),
    P("timer", "(set|start) [a] timer for (an|one) hour", "(remind|alert|wake) me in an hour", hours=1, weight=0.4),
    P("cancel_timer", "(cancel|stop|kill|delete|forget) the timer", "(stop|cancel) the (countdown|alarm)",
      "i don't need the timer (anymore|now)", "turn off the timer", "timer off", weight=1.2),
    P("cancel_all_timers", "(cancel|stop|delete|clear) (all|every|all the|all of the|all my) timers",
      "get rid of all the timers", weight=0.5),
    P("clock", "what time is it [(now|right now|please)]", "what's the time [(now|please)]", "(tell|give) me the "
      "<time_word> [please]", "(tell|give) me [the] current time", "(do you know|have you got) the time",
      "let me know the <time_word>", "(current|the) time [please]", "time please", "what hour is it",
      "(tell|show) me what time it is", "(could|can) you tell me the time", "how late is it",
      "(tell me|) what time (it is|is it) [now]", "what's the time right now", "time check",
      "what time have we got", weight=3, polite=False),
    P("date", "what's the date [today]", "what is [the] date [today]", "what day is it [today]",
      "what's (today|today's date)", "(tell|give) me [the] (date|day) [today]", "(can|could) i have today's date",
      "today's date [please]", "(tell|let) me know [the] [current] date [today]", "which (day|date) is it [today]",
      "is it {weekday} today", "is today {weekday}", "what day of the week is it", "what's the day today",
      "date please", "what is today", "what date is it", "today date", "is it the weekend yet",
      "(tell me|remind me) what day it is", weight=3, polite=False),
    P("nevermind", "never mind", "nevermind", "forget it", "cancel [that]", "(oh|) forget (about|) it",
      "nothing", "stop", "that's all", "no thanks", "i didn't mean (that|you)", "ignore that", "oops not you",
      weight=1, polite=False),
    # ---- state and temperature ---------------------------------------------------------------------------------
    P("state", "is the {light:name} (on|off)", "are the <lights> (on|off) <in_area>", "did i leave the {any:name} on",
      "is [the] {any:name} (on|still on|running)", "are (any|the) <lights> on [in the house]",
      "(check|tell me) if the {switch:name} is on", weight=1.5),
    P("state", "is the {cover:name} (open|closed|shut)", "did (i|someone|somebody) leave the {cover:name} open",
      domain="cover", weight=1),
    P("state", "is the {lock:name} (locked|unlocked)", "did i lock the {lock:name}", "is the door locked",
      domain="lock", weight=1),
    P("temperature", "what's the temperature [(inside|in here|now)]", "how (warm|cold|hot) is it [(inside|in here)]",
      "what's the temperature <in_area>", "how (warm|cold|hot) is [it in] the {area}", "what is the {climate:name} "
      "set to", "(tell me|what's) the (indoor|room|house) temperature", weight=1.2),
    P("set_temperature", "(set|turn|put|change) the {climate:name} to {temp:temperature} [degrees]",
      "(set|make) it {temp:temperature} degrees [in here]", "{climate:name} (to|at) {temp:temperature} [degrees]",
      "(set|change) the temperature to {temp:temperature} [degrees]", "i want it {temp:temperature} degrees",
      "(warm|heat) the (house|place|room) (up|) to {temp:temperature} [degrees]", weight=1.2),
    P("fan_speed", "(set|put|turn) the {fan:name} (to|at) {pct:percentage} [percent]", "{fan:name} speed "
      "{pct:percentage} [percent]", "fan (speed|) to {pct:percentage} percent", weight=0.5),
    P("position", "(open|set|put|raise|lower) the {cover:name} (to|at) {pct:position} [percent]",
      "{cover:name} (to|at) {pct:position} percent", weight=0.5),
    # ---- homes shaped like real Home Assistant homes: floors, valves and watering, lists of their own -----------
    P("on", "<turn_on> [the] {floor} <lights>", "<turn_on> [the] <lights> (on the {floor}|{floor})",
      "(turn|switch) [the] {floor} <lights> on", "(light up|brighten up) the {floor}", domain="light", weight=1.5),
    P("off", "<turn_off> [the] {floor} <lights>", "<turn_off> [the] <lights> (on the {floor}|{floor})",
      "(turn|switch|shut) [the] {floor} <lights> off", "(kill|cut) the <lights> {floor}", "{floor} <lights> off",
      domain="light", weight=1.5),
    P("on", "(open|turn on|switch on|start) [<the>] {valve:name}", "(turn|switch) [<the>] {valve:name} on",
      "(get|set) the {valve:name} (going|running)", domain="valve", weight=1.2),
    P("off", "(close|shut|turn off|switch off|stop|shut off) [<the>] {valve:name}", "(turn|switch|shut) [<the>] "
      "{valve:name} off", domain="valve", weight=1.2),
    P("on", "(water|irrigate) the {area}", "(start|turn on) the watering <in_area>",
      "the {area} (needs|could use) (water|watering|a drink)", "(start|begin) watering the {area}",
      domain="valve", weight=1),
    P("off", "stop (watering|irrigating) the {area}", "(stop|turn off|shut off) the watering <in_area>",
      domain="valve", weight=0.8),
    P("off", "stop (watering|irrigating)", "(stop|turn off|shut off|cut) the (watering|water)",
      "(shut|turn) off the water [supply]", "(the|my) (garden|lawn) has had enough water", domain="valve", weight=0.8),
    P("on", "(start|begin) (watering|irrigating)", "(turn|switch) on the (watering|water)",
      "turn the water [back] on", domain="valve", weight=0.6),
    P("state", "(is|are) [<the>] {valve:name} (open|on|running|closed)", "is the watering (on|running)",
      "did i leave the {valve:name} (on|open)", domain="valve", weight=0.7),
    P("add", "(add|put) {task:item} (to|on) [(my|the)] {tasks:list}", "{task:item} (on|to) [my] {tasks:list}",
      "(add|put) {item} (to|on) [(my|the)] {shop:list} [list]", "(we need|get) {item} from {shop:list}",
      weight=1.2),
    P("dock", "stop (vacuuming|hoovering|cleaning) [the (house|floor|flat)]", "(stop|end) the (cleaning|vacuuming)",
      "stop [<the>] {vacuum:name}", "{vacuum:name} (stop|that's enough)", weight=0.8),
)

OPEN_QUESTIONS: tuple[str, ...] = (
    "what is {topic}", "what's {topic}", "what (are|is) {topic}", "tell me about {topic}", "(explain|describe) {topic} "
    "[(to me|for me|in one sentence)]", "(how does|how do) {topic} work", "what does {word} mean",
    "what is the (meaning|definition) of [the word] {word}", "define [the word] {word} [for me]",
    "(what's|what is) {word}", "(who is|who was|who's) {person}", "(when was|where was) {person} born",
    "what year was {person} born", "how old is {person}", "(how|why) (is|was) {person} famous",
    "what is {person} (famous|known) for", "(how big|how large|how far away|how old|how high|how deep|how long) is "
    "{place}", "what is the capital of {place}", "(what is|what's) the population of {place}",
    "where is {place}", "which is the (smallest|largest|biggest|tallest|longest|oldest) {thing} in the world",
    "what is the (tallest|biggest|longest|fastest|deepest) {thing}", "tell me a {joke} joke",
    "(tell|give) me a joke", "(can|could) you tell me a [{joke}] joke", "i want a [{joke}] joke",
    "do you know any [{joke}] jokes", "make me laugh", "(tell me|say) something funny", "(tell|give) me a fun fact "
    "[about {topic}]", "(tell me|read me) a [(short|bedtime)] (story|poem) [about {topic}]",
    "how (are you|is your day|are things)", "what's your name", "who (made|built|are) you",
    "(are you|you are) (a robot|smart|clever|funny|a person)", "do you like {topic}", "what (can you do|do you know)",
    "what is {a} (plus|times|minus|divided by) {b}", "how much is {a} (times|plus) {b}",
    "how many (days|weeks|hours) (are|is) in a (year|month|week|day)", "how do (i|you) (make|cook|bake) {food}",
    "what is a good recipe for {food}", "how (long|many minutes) (do|should) (i|you) (boil|cook|bake) {food}",
    "why is the sky blue", "why do cats purr", "how do (birds|planes) fly", "what is the meaning of life",
    "who (won|invented|discovered|wrote) {thing2}", "how do you say {word2} in {language}",
    "translate {word2} (to|into) {language}", "how do you spell {word}", "(what|which) (language|languages) "
    "(do they|is) speak in {place}", "is {topic} dangerous", "can {animal} swim", "do {animal} sleep",
    "what do {animal} eat", "how long do {animal} live", "(why|how) do {animal} {verb}", "good (morning|night|evening)",
    "thank you", "thanks [a lot|so much]", "hello [there]", "hi", "i love you", "you're (great|awesome|the best)",
    "what should i (eat|cook|watch|read) tonight", "(give|recommend) me a (book|movie|film|song)",
    "what's a good name for a (dog|cat|goldfish|band)", "(sing|play) me a song", "(flip|toss) a coin",
    "roll a dice", "pick a number between one and ten", "what rhymes with {word2}",
)
OPEN_LISTS = {
    "thing": ("island", "country", "mountain", "river", "city", "animal", "bird", "ocean", "lake", "desert",
              "building", "planet", "tree", "bridge", "fish", "insect", "state", "dog breed", "waterfall"),
    "thing2": ("the telephone", "the light bulb", "penicillin", "the world cup", "the internet", "the first film",
               "the radio", "gravity", "the printing press", "hamlet", "the odyssey", "the super bowl",
               "the tour de france", "the nobel prize", "pizza", "the bicycle", "chess", "the piano"),
    "food": ("pancakes", "rice", "pasta", "an egg", "eggs", "banana bread", "lasagna", "curry", "soup",
             "brownies", "a steak", "potatoes", "a pizza", "cookies", "risotto", "salmon", "a cake", "hummus"),
    "animal": ("cats", "dogs", "elephants", "giraffes", "penguins", "owls", "sharks", "whales", "horses",
               "snakes", "frogs", "bats", "dolphins", "bears", "lions", "tortoises", "parrots", "rabbits"),
    "verb": ("purr", "sleep so much", "migrate", "hibernate", "sing", "bark", "glow", "change colour"),
    "word2": ("hello", "thank you", "good morning", "cheese", "love", "cat", "friend", "beautiful",
              "orange", "goodbye", "water", "happy birthday", "please", "house", "moon"),
    "language": ("french", "spanish", "german", "italian", "japanese", "chinese", "portuguese", "dutch",
                 "russian", "korean", "arabic", "hindi", "swedish", "greek", "polish", "latin"),
}
IGNORE_TEMPLATES: tuple[str, ...] = (
    "(don't|do not|please don't|no need to) (turn|switch) (on|off) the <lights>",
    "(don't|do not) (turn|switch) (on|off) the {any:name}", "leave the <lights> (on|off) [(please|for now)]",
    "(keep|leave) the {any:name} (on|off|running|as it is)", "no don't (turn|switch) (it|them) (on|off)",
    "i already (turned|switched) (off|on) the <lights>", "the <lights> (are|is) (fine|ok|okay|perfect) (as they are|)",
    "(someone|somebody|the kids) (left|turned) the {any:name} on", "the {any:name} is (broken|new|from ikea|"
    "in the box|making a noise|really old)", "i (like|love|hate) the {any:name}", "(my|our) {any:name} is (blue|"
    "white|old|new|nice)", "i bought a new {any:name}", "we should (get|buy) a new {any:name}",
    "(don't|do not) (start|stop|open|close|lock|unlock) the {any:name}", "don't (play|pause|mute) [the] (music|tv)",
    "the music (is|was) (great|nice|fine)", "(no|nope) (that's|it's) fine", "i was talking to (my|the) (wife|husband|"
    "kids|dog|sister|brother|friend)", "not (you|talking to you)", "(sorry|oops) wrong (person|room)",
    "the {area} (is|looks) (nice|lovely|messy|cold|clean)", "i'm (going|heading) to the {area}",
    "(the coffee|dinner|lunch|the tea) is (ready|cold|good|nice)", "i'll (make|do|get) (the coffee|dinner|it) later",
)
"""Talk near the assistant that asks it for nothing: statements, "don't"s, remarks about devices (the "no lights
in the kitchen" trap's cousins that are NOT requests)."""
