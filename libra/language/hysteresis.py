"""Reply-language hysteresis: pure state transitions, one channel at a time.

Rules (each is a decision users notice, so they are written down here):

- The reply language changes only after ``switch_after`` *consecutive* confident
  detections (confidence >= ``min_confidence``) of the same new language. One "ok"
  in Korean chat, or one English quote in a French conversation, changes nothing.
- A confident detection of the current language resets the count; a confident
  detection of a third language restarts it for that language.
- Low-confidence detections (and empty text) are *ignored*: they neither advance
  nor reset the count. "lol" or "👍" between two Korean messages is not evidence
  against Korean, and it is not evidence for English either.
- A pinned channel language overrides detection completely; the count is frozen
  while pinned, so unpinning starts from a clean slate.
- A channel that has never settled (no language yet, nothing pinned) adopts its
  first confident detection at once, without a notice: nobody wants their first
  Korean message answered in the default language. Hysteresis guards changes,
  not the first choice.
- Unpinning (``auto``) keeps the pinned language as the current one, so the reply
  language does not jump back to whatever was spoken before the pin; hysteresis
  moves it from there.
- Per-message decisions (which languages to translate one message into) take the
  message's own detection only when it is confident; a low-confidence message ("tqm",
  "lol", kanji that Chinese and Japanese share) is taken to be in the channel's
  language rather than guessed (:meth:`Hysteresis.message_language`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from libra.language.api import Detection
from libra.storage.api import ChannelLanguageState


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """The outcome of one transition."""

    state: ChannelLanguageState
    reply: str
    """The language to answer in after this step."""
    changed: bool
    """The reply language differs from the one before this step."""
    previous: str
    """The reply language before this step."""


class Hysteresis:
    """Computes channel language transitions; holds settings, never state."""

    def __init__(self, *, default: str, switch_after: int, min_confidence: float) -> None:
        self.default = default
        self.switch_after = max(1, switch_after)
        self.min_confidence = min_confidence

    def reply_language(self, state: ChannelLanguageState) -> str:
        """The language a channel in ``state`` is answered in."""
        return state.pinned_language or state.language or self.default

    def observe(self, state: ChannelLanguageState, detection: Detection) -> Step:
        """Advance ``state`` by one detected message."""
        current = self.reply_language(state)
        if state.pinned_language is not None or not self.counts(detection):
            return Step(state=state, reply=current, changed=False, previous=current)
        language = detection.language
        if state.language is None:
            first = replace(state, language=language, candidate=None, candidate_count=0)
            return Step(state=first, reply=language, changed=False, previous=current)
        if language == current:
            settled = replace(state, language=current, candidate=None, candidate_count=0)
            return Step(state=settled, reply=current, changed=False, previous=current)
        count = state.candidate_count + 1 if state.candidate == language else 1
        if count >= self.switch_after:
            switched = replace(state, language=language, candidate=None, candidate_count=0)
            return Step(state=switched, reply=language, changed=True, previous=current)
        waiting = replace(state, candidate=language, candidate_count=count)
        return Step(state=waiting, reply=current, changed=False, previous=current)

    def pin(self, state: ChannelLanguageState, language: str | None) -> Step:
        """Pin ``language`` (or unpin with ``None``); resets the pending count."""
        current = self.reply_language(state)
        if language is None:
            unpinned = replace(state, language=current, pinned_language=None, candidate=None,
                               candidate_count=0)
            return Step(state=unpinned, reply=current, changed=False, previous=current)
        pinned = replace(state, pinned_language=language, candidate=None, candidate_count=0)
        return Step(state=pinned, reply=language, changed=language != current, previous=current)

    def message_language(self, state: ChannelLanguageState, detection: Detection) -> str:
        """The language one message is in, for decisions about that message alone.

        Its detected language when confident, else the channel's reply language: a
        guess on "tqm" or "了解" must not decide what a message is translated into.
        """
        return detection.language if self.counts(detection) else self.reply_language(state)

    def counts(self, detection: Detection) -> bool:
        """Whether ``detection`` is confident enough to move the channel's language."""
        return detection.method != "none" and detection.confidence >= self.min_confidence
