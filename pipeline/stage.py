"""The one interface every stage implements, so stages compose and can be timed alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar, runtime_checkable

In = TypeVar("In", contravariant=True)
Out = TypeVar("Out", covariant=True)


@runtime_checkable
class Stage(Protocol, Generic[In, Out]):
    """A pipeline stage: loads its model once, warms it, then turns each input into zero or more outputs.

    Streaming stages (wake word, endpointer) take one AudioFrame at a time and keep state between
    calls; reset() clears that state between turns. Model stages (speech-to-text, intent, speech)
    take one whole item and may yield their output piece by piece (Piper yields a chunk per sentence).
    """

    name: str

    def load(self) -> None:
        """Load the model; called once at start-up, never on the hot path."""

    def warm(self) -> None:
        """Run the model once on dummy input so the first real turn pays no first-call costs."""

    def reset(self) -> None:
        """Forget streaming state (between turns)."""

    def process(self, item: In) -> Iterator[Out]:
        """Turn one input into zero or more outputs."""
        ...
