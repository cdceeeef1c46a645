"""Reply-language hysteresis over whole conversations."""

from __future__ import annotations

from libra.language.api import Detection
from libra.language.hysteresis import Hysteresis
from libra.storage.api import ChannelLanguageState


def confident(language: str) -> Detection:
    return Detection(language=language, confidence=0.95)


def unsure(language: str) -> Detection:
    return Detection(language=language, confidence=0.4)


def run(detections: list[Detection], *, switch_after: int = 2,
        state: ChannelLanguageState | None = None) -> tuple[list[str], list[int]]:
    """Replies after each message, and the indexes of messages that switched."""
    hysteresis = Hysteresis(default="en", switch_after=switch_after, min_confidence=0.75)
    state = state or ChannelLanguageState(channel_id=1)
    replies, switches = [], []
    for i, detection in enumerate(detections):
        step = hysteresis.observe(state, detection)
        state = step.state
        replies.append(step.reply)
        if step.changed:
            switches.append(i)
    return replies, switches


def test_a_single_message_in_another_language_does_not_switch() -> None:
    replies, switches = run([confident(x) for x in ("en", "en", "ko", "en")])
    assert replies == ["en", "en", "en", "en"]
    assert switches == []


def test_two_consecutive_messages_switch_on_the_second() -> None:
    replies, switches = run([confident(x) for x in ("en", "ko", "ko")])
    assert replies == ["en", "en", "ko"]
    assert switches == [2]


def test_a_fresh_channel_adopts_its_first_confident_language_without_a_notice() -> None:
    replies, switches = run([confident("fr"), confident("fr"), confident("en")])
    assert replies == ["fr", "fr", "fr"]
    assert switches == []


def test_a_fresh_channel_waits_for_a_confident_message() -> None:
    replies, switches = run([unsure("ko"), unsure("ko"), confident("ko")])
    assert replies == ["en", "en", "ko"]
    assert switches == []


def test_interleaved_languages_never_settle() -> None:
    replies, switches = run([confident(x) for x in ("en", "ko", "ja", "ko", "ja", "ko")])
    assert set(replies) == {"en"}
    assert switches == []


def test_low_confidence_neither_advances_nor_resets_the_count() -> None:
    # "lol" between two Korean messages: still two Korean messages in a row.
    replies, switches = run([confident("en"), confident("ko"), unsure("en"), confident("ko")])
    assert replies == ["en", "en", "en", "ko"]
    assert switches == [3]
    # and unsure Korean never counts towards Korean
    replies, switches = run([confident("en"), unsure("ko"), unsure("ko"), unsure("ko")])
    assert replies == ["en", "en", "en", "en"]


def test_switch_after_is_configurable() -> None:
    replies, _ = run([confident("en")] + [confident("de")] * 3, switch_after=3)
    assert replies == ["en", "en", "en", "de"]
    replies, _ = run([confident("en"), confident("de")], switch_after=1)
    assert replies == ["en", "de"]


def test_a_pinned_channel_ignores_detection_until_unpinned() -> None:
    hysteresis = Hysteresis(default="en", switch_after=2, min_confidence=0.75)
    step = hysteresis.pin(ChannelLanguageState(channel_id=1), "ja")
    assert (step.reply, step.changed, step.previous) == ("ja", True, "en")
    state = step.state
    for _ in range(3):
        step = hysteresis.observe(state, confident("ko"))
        state = step.state
        assert (step.reply, step.changed) == ("ja", False)
    assert state.candidate_count == 0  # the count is frozen while pinned
    step = hysteresis.pin(state, None)  # auto
    assert (step.reply, step.changed, step.state.pinned_language) == ("ja", False, None)
    replies, switches = run([confident("ko"), confident("ko")], state=step.state)
    assert replies == ["ja", "ko"]
    assert switches == [1]


def test_pinning_the_current_language_is_not_a_change() -> None:
    hysteresis = Hysteresis(default="en", switch_after=2, min_confidence=0.75)
    step = hysteresis.pin(ChannelLanguageState(channel_id=1), "en")
    assert (step.reply, step.changed) == ("en", False)


def test_empty_messages_are_ignored() -> None:
    empty = Detection(language="en", confidence=0.0, method="none")
    _, switches = run([confident("en"), confident("ko"), empty, confident("ko")])
    assert switches == [3]
