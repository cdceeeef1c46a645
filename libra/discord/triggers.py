"""Chat triggers: when a Discord message gets an answer, and with what context.

Answered: a mention of the bot, a DM, a reply to one of the bot's messages (the
reply chain becomes the turn's context), any message in a thread the bot started,
and every message with text in the opt-in ``chat_channel_ids``. Long conversations move into
a thread after ``thread_after_turns`` turns when that is configured.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

import hikari
from loguru import logger

from libra.chat.answer import failure_message
from libra.chat.api import ChatTurn
from libra.chat.messages import user_message
from libra.discord.conversation import Outlet
from libra.discord.deps import DiscordDeps
from libra.discord.permissions import Caller, UserRateLimited
from libra.errors import RateLimited
from libra.llm.api import ChatMessage

REPLY_CHAIN_DEPTH = 10
THREAD_NAME_CHARS = 80
ANSWERED_TYPES = frozenset({hikari.MessageType.DEFAULT, hikari.MessageType.REPLY})
"""What people write; system messages (pins, joins, "started a thread") get no answer."""


def strip_mention(text: str, user_id: int, role_ids: Iterable[int] = ()) -> str:
    """The message text without mentions of the bot (or of its managed role)."""
    text = re.sub(rf"<@!?{user_id}>", "", text)
    for role_id in role_ids:
        text = text.replace(f"<@&{role_id}>", "")
    return text.strip()


class MessageTriggers:
    """The ``MessageCreateEvent`` listener of the bot."""

    def __init__(self, bot: hikari.GatewayBot, deps: DiscordDeps) -> None:
        self._bot = bot
        self._deps = deps

    def _bot_role_mentions(self, message: hikari.Message, me: int) -> list[int]:
        """Mentioned roles that are Libra's own managed role.

        Discord's autocomplete offers a bot's role next to the bot, and people pick
        it; to them that is a mention of Libra, so it is treated as one.
        """
        role_ids = message.role_mention_ids
        if role_ids is hikari.UNDEFINED:
            return []
        return [r for r in role_ids
                if (role := self._bot.cache.get_role(r)) is not None and role.bot_id == me]

    async def on_message(self, event: hikari.MessageCreateEvent) -> None:
        """Decide whether to answer; the answer runs as a held task of the plugin."""
        message = event.message
        me = self._bot.get_me()
        if (me is None or message.author.is_bot or message.webhook_id is not None
                or message.type not in ANSWERED_TYPES):
            return
        thread = self._bot.cache.get_thread(message.channel_id)
        in_bot_thread = self._deps.bot_threads.touch(message.channel_id) or (
            thread is not None and thread.owner_id == me.id)
        mentions = message.user_mentions_ids
        bot_roles = self._bot_role_mentions(message, me.id)
        addressed = (
            message.guild_id is None
            or (mentions is not hikari.UNDEFINED and me.id in mentions)
            or bool(bot_roles)
            or _author_id(message.referenced_message) == me.id
            or in_bot_thread
        )
        # In an opt-in chat channel only text is talking to Libra: an image, sticker or
        # forward posted there is for the people, and "say something" would be noise.
        if not addressed and not (
                message.channel_id in self._deps.settings.discord.chat_channel_ids
                and strip_mention(message.content or "", me.id, bot_roles)):
            return
        member = event.member if isinstance(event, hikari.GuildMessageCreateEvent) else None
        caller = Caller(user_id=message.author.id, channel_id=message.channel_id,
                        guild_id=message.guild_id,
                        role_ids=member.role_ids if member is not None else (),
                        parent_channel_id=thread.parent_id if thread is not None else None)
        if (reason := self._deps.policy.refusal(caller)) is not None:
            logger.debug("ignoring message {}: {}", message.id, reason)
            return
        in_thread = thread is not None or in_bot_thread
        self._deps.tasks.spawn(self._answer(message, me.id, in_thread=in_thread),
                               name=f"discord:message:{message.id}")

    async def _answer(self, message: hikari.Message, me: int, *, in_thread: bool) -> None:
        deps = self._deps
        rest = self._bot.rest
        channel = message.channel_id
        parts: list[hikari.Message] = []

        async def send(content: str) -> hikari.Message:
            # Each continuation replies to the part before it, so a reply to any part
            # leads the reply chain back through the whole answer to the question.
            reply_to = message if not parts else parts[-1]
            # LLM output must never ping anyone; a question deleted meanwhile still
            # gets its answer (Discord refuses a reply to a deleted message otherwise).
            sent = await rest.create_message(
                channel, content, reply=reply_to, reply_must_exist=False, mentions_reply=False,
                mentions_everyone=False, user_mentions=False, role_mentions=False)
            parts.append(sent)
            return sent

        async def edit(handle: hikari.Message, content: str) -> None:
            await rest.edit_message(channel, handle, content, mentions_everyone=False,
                                    user_mentions=False, role_mentions=False)

        async def typing() -> None:
            await rest.trigger_typing(channel)

        outlet: Outlet[hikari.Message] = Outlet(send=send, edit=edit, channel_id=channel,
                                                typing=typing)
        turn = ChatTurn(user_id=message.author.id, channel_id=channel,
                        guild_id=message.guild_id,
                        text=strip_mention(message.content or "",
                                           me, self._bot_role_mentions(message, me)))
        try:
            async with deps.limiter.reply_slot(message.author.id, message.guild_id):
                answer = await deps.responder.answer(
                    turn, outlet, context=lambda: self._reply_chain(message, me))
        except RateLimited as err:
            logger.info("rate limited: {} [{}]", err, turn.correlation_id)
            if isinstance(err, UserRateLimited) and err.repeated:
                return  # told once already; a reply to each extra message is spam
            language = await deps.responder.channel_language(channel)
            await deps.responder.say(outlet, failure_message(err, language,
                                                             ref=turn.correlation_id))
            return
        except Exception as err:
            language = await deps.responder.channel_language(channel)
            logger.opt(exception=err).error("answering message {} failed [{}]", message.id,
                                            turn.correlation_id)
            await deps.responder.say(outlet, user_message("unexpected", language,
                                                          ref=turn.correlation_id))
            return
        # Only an answer is a conversation turn: a refusal or failure notice is not one,
        # and a thread must not grow from "say something" or "the model is down".
        if (parts and answer.parts and answer.error_code is None and not in_thread
                and message.guild_id is not None):
            await self._maybe_move_to_thread(channel, parts[0], turn.text)

    async def _reply_chain(self, message: hikari.Message, me: int) -> tuple[ChatMessage, ...]:
        """The messages this one replies to, oldest first (``REPLY_CHAIN_DEPTH`` back at most).

        The depth counts messages without text too (stickers, images): each costs a
        fetch, and a long chain of them must not cost one per message on every turn.
        """
        chain: list[ChatMessage] = []
        current: hikari.PartialMessage | None = message.referenced_message
        for depth in range(1, REPLY_CHAIN_DEPTH + 1):
            if current is None:
                break
            content = current.content
            text = strip_mention(content if isinstance(content, str) else "", me)
            reference = current.message_reference
            # A forward shows a copy of one message; what surrounds the original (maybe in
            # a channel these people cannot read) is no part of this conversation.
            forwarded = (isinstance(reference, hikari.MessageReference)
                         and reference.type != hikari.messages.MessageReferenceType.DEFAULT)
            if forwarded and not text:
                text = strip_mention(_snapshot_text(current), me)
            role: Literal["user", "assistant"] = (
                "assistant" if _author_id(current) == me else "user")
            if text and chain and role == "assistant" and chain[-1].role == "assistant":
                # The parts of one long answer (each replies to the one before it) are
                # one turn: joined, the model sees the answer as it was written.
                chain[-1] = ChatMessage(role="assistant", content=f"{text}\n{chain[-1].content}")
            elif text:
                chain.append(ChatMessage(role=role, content=text))
            if role == "assistant" and (asked := self._deps.asked.get(current.id)):
                chain.append(ChatMessage(role="user", content=asked.prompt))  # a /ask answer
                break
            if (depth == REPLY_CHAIN_DEPTH or forwarded
                    or not isinstance(reference, hikari.MessageReference) or reference.id is None):
                break
            try:
                current = await self._bot.rest.fetch_message(reference.channel_id, reference.id)
            except (hikari.NotFoundError, hikari.ForbiddenError):
                break
        replied = message.referenced_message
        if chain and chain[0].role == "assistant" and replied is not None and _author_id(
                replied) == me:
            # The walk above went back through the parts before the one replied to;
            # the parts after it (each a reply to the one before) finish the answer.
            rest = await self._later_parts(replied, me)
            if rest:
                chain[0] = ChatMessage(role="assistant",
                                       content="\n".join([chain[0].content, *rest]))
        return tuple(reversed(chain))

    async def _later_parts(self, part: hikari.PartialMessage, me: int) -> list[str]:
        """The text of the continuations after ``part`` of one long answer (one fetch)."""
        texts: list[str] = []
        last = part.id
        try:
            async for later in self._bot.rest.fetch_messages(part.channel_id, after=part.id
                                                              ).limit(REPLY_CHAIN_DEPTH):
                reference = later.message_reference
                if (_author_id(later) == me and reference is not None
                        and reference.id == last and later.content):
                    texts.append(later.content)
                    last = later.id
        except (hikari.NotFoundError, hikari.ForbiddenError) as err:
            logger.debug("could not read the rest of a long answer: {}", err)
        return texts

    async def _maybe_move_to_thread(
        self, channel: int, reply: hikari.Message, text: str
    ) -> None:
        after = self._deps.settings.discord.thread_after_turns
        if after <= 0:
            return
        turns = self._deps.turns[channel] = self._deps.turns.get(channel, 0) + 1
        if turns < after:
            return
        # Zero is what an absent counter means: dropping it keeps only live conversations.
        self._deps.turns.pop(channel, None)
        name = (text.splitlines()[0] if text else "Libra")[:THREAD_NAME_CHARS] or "Libra"
        try:
            thread = await self._bot.rest.create_message_thread(channel, reply, name)
        except hikari.HTTPError as err:
            logger.warning("could not move the conversation into a thread: {}", err)
            return
        self._deps.bot_threads.add(thread.id)
        logger.info("conversation in channel {} moved into thread {}", channel, thread.id)


def _snapshot_text(message: hikari.PartialMessage) -> str:
    """The text a forwarded message shows (its snapshots of the original)."""
    return "\n".join(snapshot.content for snapshot in message.message_snapshots
                     if snapshot.content)


def _author_id(message: hikari.PartialMessage | None) -> int | None:
    if message is None or isinstance(message.author, hikari.UndefinedType):
        return None
    return int(message.author.id)
