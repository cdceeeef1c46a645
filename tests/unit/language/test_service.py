"""The language service and plugin on a real EventBus (state in memory)."""

from __future__ import annotations

import pytest

from libra.bus import EventBus
from libra.config import Settings
from libra.errors import UnknownLanguage
from libra.events import Event, LanguageChanged, LanguageDetected
from libra.health import HealthRegistry, Status
from libra.language.api import LanguageService
from libra.language.plugin import LanguagePlugin
from libra.language.service import ChannelLanguageService
from libra.plugin import PluginManager

KO = "오늘 저녁에 뭐 먹을까?"
EN = "what should we eat tonight?"


class Recorder:
    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        bus.subscribe(LanguageDetected, self._record)
        bus.subscribe(LanguageChanged, self._record)

    async def _record(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def service(bus: EventBus) -> ChannelLanguageService:
    return ChannelLanguageService(Settings(), bus)


async def test_a_conversation_switches_once_with_one_event(
    bus: EventBus, service: ChannelLanguageService,
) -> None:
    recorder = Recorder(bus)
    replies = []
    for i, text in enumerate((EN, KO, KO)):
        reply = await service.observe(7, text, correlation_id=f"turn-{i}")
        replies.append((reply.language, reply.changed, reply.previous))
    await bus.drain()
    assert replies == [("en", False, None), ("en", False, None), ("ko", True, "en")]
    detected = recorder.of(LanguageDetected)
    assert [(e.language, e.correlation_id) for e in detected] == [
        ("en", "turn-0"), ("ko", "turn-1"), ("ko", "turn-2")]
    assert all(e.confidence >= 0.75 for e in detected)
    changed = recorder.of(LanguageChanged)
    assert len(changed) == 1
    assert (changed[0].previous, changed[0].language, changed[0].pinned) == ("en", "ko", False)
    assert changed[0].correlation_id == "turn-2"


async def test_one_foreign_message_does_not_change_the_reply(
    bus: EventBus, service: ChannelLanguageService,
) -> None:
    recorder = Recorder(bus)
    for text in (EN, EN, KO, EN):
        reply = await service.observe(7, text)
    await bus.drain()
    assert reply.language == "en"
    assert recorder.of(LanguageChanged) == []


async def test_channels_are_independent(service: ChannelLanguageService) -> None:
    for _ in range(2):
        await service.observe(1, KO)
        await service.observe(2, "qu'est-ce qu'on mange ce soir ?")
    assert (await service.current(1)).language == "ko"
    assert (await service.current(2)).language == "fr"
    assert (await service.current(3)).language == "en"


async def test_a_pin_overrides_detection_and_auto_unpins(
    bus: EventBus, service: ChannelLanguageService,
) -> None:
    recorder = Recorder(bus)
    pinned = await service.pin(7, "JA")
    assert (pinned.language, pinned.changed, pinned.pinned) == ("ja", True, True)
    for _ in range(3):
        reply = await service.observe(7, KO)
        assert (reply.language, reply.pinned, reply.changed) == ("ja", True, False)
    unpinned = await service.pin(7, "auto")
    assert (unpinned.language, unpinned.pinned, unpinned.changed) == ("ja", False, False)
    await service.observe(7, KO)
    assert (await service.observe(7, KO)).language == "ko"
    await bus.drain()
    changed = [(e.language, e.pinned) for e in recorder.of(LanguageChanged)]
    assert changed == [("ja", True), ("ko", False)]


async def test_pinning_an_unconfigured_language_is_refused(
    service: ChannelLanguageService,
) -> None:
    with pytest.raises(UnknownLanguage, match="klingon"):
        await service.pin(7, "klingon")
    assert (await service.current(7)).pinned is False


async def test_a_user_pin_decides_that_users_replies_only(
    service: ChannelLanguageService,
) -> None:
    assert await service.pin_user(42, "zh_TW") == "zh-tw"
    mine = await service.observe(7, EN, user_id=42)
    theirs = await service.observe(7, EN, user_id=43)
    assert (mine.language, mine.pinned) == ("zh-tw", True)
    assert (theirs.language, theirs.pinned) == ("en", False)
    assert await service.pin_user(42, None) is None
    assert (await service.observe(7, EN, user_id=42)).language == "en"


async def test_low_confidence_messages_are_detected_but_do_not_count(
    bus: EventBus, service: ChannelLanguageService,
) -> None:
    recorder = Recorder(bus)
    await service.observe(7, EN)
    await service.observe(7, KO)
    lol = await service.observe(7, "lol")
    assert lol.detection is not None and lol.detection.confidence < 0.75
    assert (await service.observe(7, KO)).language == "ko"
    await bus.drain()
    assert len(recorder.of(LanguageDetected)) == 4
    assert len(recorder.of(LanguageChanged)) == 1


async def test_the_plugin_publishes_the_service_and_health(bus: EventBus) -> None:
    health = HealthRegistry()
    plugin = LanguagePlugin(ChannelLanguageService(Settings(), bus), health=health)
    manager = PluginManager([plugin], Settings(), bus)
    await manager.start_all()
    try:
        assert manager.failed == {}
        language: LanguageService = plugin.service
        assert language.detect("danke schön").language == "de"
        (report,) = await health.run()
        assert (report.name, report.status) == ("language", Status.OK)
        assert "memory" in report.detail
    finally:
        await manager.stop_all()
    assert await health.run() == []  # its health check is withdrawn with it


async def test_a_user_pin_without_a_database_never_expires(bus: EventBus) -> None:
    # Without storage memory is the only record of the pin; a zero TTL must not drop it.
    service = ChannelLanguageService(
        Settings.model_validate({"language": {"user_cache_seconds": 0}}), bus)
    await service.pin_user(42, "ja")
    reply = await service.observe(7, EN, user_id=42)
    assert (reply.language, reply.pinned) == ("ja", True)
