"""The language service: detection, per-channel hysteresis, routing and prompts."""

from __future__ import annotations

from dataclasses import replace

from libra.bus import EventBus
from libra.config import Settings
from libra.events import LanguageChanged, LanguageDetected, new_correlation_id
from libra.language.api import Detection, ReplyLanguage
from libra.language.detect import LanguageDetector
from libra.language.hysteresis import Hysteresis, Step
from libra.language.names import parse_language
from libra.language.notices import change_notice
from libra.language.prompts import PromptLibrary
from libra.language.routing import ModelRouter
from libra.language.state import ChannelStateStore
from libra.storage.api import LanguageStore
from libra.tasks import TaskGroup

AUTO = "auto"
"""What users type to unpin a language."""


class ChannelLanguageService:
    """Implements :class:`~libra.language.api.LanguageService`.

    Publishes :class:`LanguageDetected` for every observed message and
    :class:`LanguageChanged` whenever a channel's reply language changes, both with
    the caller's correlation id. A user's pinned language (``Storage.set_user_language``
    or :meth:`pin_user`) decides the reply to that user's messages, but their
    messages still move the channel's hysteresis like anyone else's.
    """

    def __init__(self, settings: Settings, bus: EventBus, storage: LanguageStore | None = None,
                 *, detector: LanguageDetector | None = None) -> None:
        lang = settings.language
        self.bus = bus
        self.detector = detector or LanguageDetector(
            lang.languages, default=lang.default, zh_default=lang.zh_default
        )
        self.languages = self.detector.languages
        self.hysteresis = Hysteresis(default=self.detector.default,
                                     switch_after=lang.switch_after,
                                     min_confidence=lang.min_confidence)
        self.router = ModelRouter(settings.llm.routes, settings.llm.default_model,
                                  zh_default=lang.zh_default)
        self.prompts = PromptLibrary(settings.app.config_dir)
        self.store = ChannelStateStore(storage, user_cache_seconds=lang.user_cache_seconds)
        self._zh_default = lang.zh_default

    async def start(self, tasks: TaskGroup) -> None:
        """Start persisting channel state in the background."""
        self.store.start(tasks)

    async def close(self) -> None:
        """Write what is still pending (the flusher task is cancelled by its group)."""
        await self.store.flush()

    # -- LanguageService ---------------------------------------------------------------

    def detect(self, text: str) -> Detection:
        """Detect the language of ``text`` among the configured languages."""
        return self.detector.detect(text)

    async def observe(self, channel_id: int, text: str, *, user_id: int | None = None,
                      correlation_id: str | None = None, private: bool = False,
                      ) -> ReplyLanguage:
        """Detect ``text`` and advance the channel's hysteresis (unless ``private``)."""
        correlation_id = correlation_id or new_correlation_id()
        state = await self.store.load(channel_id)
        # No await from here to ``save``: concurrent messages of one channel cannot
        # interleave between reading the state and writing the next one.
        detection = self.detector.detect(text, prefer=self.hysteresis.reply_language(state))
        step = self.hysteresis.observe(state, detection)
        if private:
            # Nobody else sees it: it must not switch (or announce) the channel's
            # language, and its author expects an answer in the language they used.
            own = (detection.language if self.hysteresis.counts(detection)
                   and state.pinned_language is None else None)
            step = replace(step, state=state, reply=own or self.hysteresis.reply_language(state),
                           changed=False)
        if step.state != state:
            self.store.save(step.state)
        self.bus.publish(LanguageDetected(correlation_id=correlation_id, channel_id=channel_id,
                                          language=detection.language,
                                          confidence=detection.confidence))
        if step.changed:
            self._announce(channel_id, step, pinned=False, correlation_id=correlation_id)
        if user_id is not None:
            user_language = await self.store.user_language(user_id)
            if user_language is not None and user_language in self.languages:
                return ReplyLanguage(language=user_language, detection=detection,
                                     changed=False, previous=None, pinned=True)
        return ReplyLanguage(language=step.reply, detection=detection, changed=step.changed,
                             previous=step.previous if step.changed else None,
                             pinned=step.state.pinned_language is not None)

    async def message_language(self, channel_id: int, text: str) -> str:
        """The message's confident language, else the channel's (state is not advanced)."""
        state = await self.store.load(channel_id)
        detection = self.detector.detect(text, prefer=self.hysteresis.reply_language(state))
        return self.hysteresis.message_language(state, detection)

    async def pin(self, channel_id: int, language: str | None) -> ReplyLanguage:
        """Pin the channel's reply language; ``None`` or ``"auto"`` unpins.

        Raises:
            UnknownLanguage: ``language`` is not a configured language.
        """
        code = self._parse(language)
        state = await self.store.load(channel_id)
        step = self.hysteresis.pin(state, code)
        self.store.save(step.state)
        if step.changed:
            self._announce(channel_id, step, pinned=True, correlation_id=new_correlation_id())
        return ReplyLanguage(language=step.reply, detection=None, changed=step.changed,
                             previous=step.previous if step.changed else None,
                             pinned=code is not None)

    async def pin_user(self, user_id: int, language: str | None) -> str | None:
        """Pin the language replies to ``user_id`` use; ``None`` or ``"auto"`` unpins.

        Returns the normalised code (``None`` when unpinned).

        Raises:
            UnknownLanguage: ``language`` is not a configured language.
        """
        code = self._parse(language)
        await self.store.set_user_language(user_id, code)
        return code

    async def current(self, channel_id: int) -> ReplyLanguage:
        """The channel's reply language without observing a message."""
        state = await self.store.load(channel_id)
        return ReplyLanguage(language=self.hysteresis.reply_language(state), detection=None,
                             changed=False, previous=None,
                             pinned=state.pinned_language is not None)

    def model_for(self, language: str) -> str:
        """The model routed for ``language``."""
        return self.router.model_for(language)

    async def forget_user(self, user_id: int) -> None:
        """Drop the user's cached and unsaved language pin."""
        await self.store.forget_user(user_id)

    def system_prompt(self, language: str) -> str:
        """The system prompt for ``language`` (falls back to the default prompt)."""
        return self.prompts.system_prompt(language)

    def change_notice(self, language: str) -> str:
        """One line, in ``language``, telling users the reply language changed."""
        return change_notice(language)

    # -- helpers -----------------------------------------------------------------------

    def _parse(self, language: str | None) -> str | None:
        if language is None or language.strip().lower() == AUTO:
            return None
        return parse_language(language, self.languages, zh_default=self._zh_default)

    def _announce(self, channel_id: int, step: Step, *, pinned: bool,
                  correlation_id: str) -> None:
        self.bus.publish(LanguageChanged(correlation_id=correlation_id, channel_id=channel_id,
                                         previous=step.previous, language=step.reply,
                                         pinned=pinned))
