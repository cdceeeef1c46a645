"""Linked and auto-translated channels on Discord: the message listeners and the posting.

A message in a channel of a group (``libra/translate/links.py``) is translated into
every target (another linked channel, or beneath itself in an auto-translated one)
and posted there: through Libra's webhook in that channel with the author's name and
avatar, or, where webhooks are not permitted, by the bot naming the author. Each post
is recorded (``LinkStore``), so an edit of the original re-translates the post and a
deletion deletes it, also after a restart. A reply is posted pointing at the
counterpart of the message it replies to on that side.

Never translated: messages of bots (Libra's own included) and of webhooks (Libra's
translations included), so nothing loops. Messages with nothing to translate (emoji,
mentions, URLs, chat tokens like "gg", attachments alone) are relayed as written into
linked channels (their readers would otherwise never see a shared link or picture;
attachments as their URLs), and left alone in an auto-translated channel.

Limits: each author may have ``USER_RATE``/min relayed (``USER_BURST`` at once) and
each channel ``CHANNEL_RATE``/min (``CHANNEL_BURST``); what is over is not relayed
(counted in ``rate_limited``, logged once per author or channel per minute). Each
target channel's queue is bounded (see the queue module). On stop, the queues get
``DRAIN_SECONDS`` to finish; what is left is logged.

Pacing: all work for one target channel runs through its queue
(:mod:`libra.discord.translate_relay_queue`); each webhook execute waits for that
webhook's budget (5 per 2 s) and the channel's (30 webhook messages a minute, spread
to one per 2 s), each bot post for the channel's (5 per 5 s), each edit for the
channel's edit budget shared with streaming replies. What waits meanwhile is combined
into the next post, one line per original (several authors: under Libra's webhook
name, each line naming its author; :mod:`libra.discord.translate_relay_render`), and
each original is translated on its own, concurrently, so one line of a combined post
can be edited or deleted and the post re-rendered from the stored lines.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections import deque
from collections.abc import Callable, Sequence

import hikari
from loguru import logger

from libra.bounded import LruDict
from libra.discord.pacing import EditPacer
from libra.discord.permissions import TokenBucket
from libra.discord.translate_relay_queue import (
    DeleteJob,
    EditJob,
    Posted,
    PostJob,
    RelayQueues,
)
from libra.discord.translate_relay_render import (
    beneath_parts,
    beneath_piece,
    fit,
    jump_url,
    render_beneath,
    render_lines,
    split_posts,
)
from libra.discord.translate_relay_webhooks import (
    WEBHOOK_NAME,
    RelayWebhook,
    WebhookDirectory,
    webhook_username,
)
from libra.errors import LibraError
from libra.language.api import LanguageService
from libra.tasks import TaskGroup
from libra.translate.api import ContextMessage, Translator
from libra.translate.links import (
    GroupKind,
    LinkStore,
    PostSource,
    RelayPost,
    TranslationGroup,
)

RELAYED_TYPES = frozenset({hikari.MessageType.DEFAULT, hikari.MessageType.REPLY})
CONTEXT_MESSAGES = 3
"""Earlier messages of a channel given to the model as context."""
WEBHOOK_LIMIT, WEBHOOK_WINDOW = 5, 2.0
"""Executes per webhook that Discord allows (about 5 per 2 s)."""
POST_LIMIT, POST_WINDOW = 5, 5.0
"""New bot messages per channel that Discord allows (about 5 per 5 s)."""
CHANNEL_WEBHOOK_LIMIT, CHANNEL_WEBHOOK_WINDOW = 30, 60.0
"""Webhook messages per channel that Discord allows, whichever webhook sends them (about
30 per minute). Not in any response's headers: exceeding it is a 429 nobody saw coming."""
REACTION_LIMIT, REACTION_WINDOW = 1, 0.25
"""The bot's reactions per channel that Discord allows (1 per 0.25 s)."""
FAILED_MARK = "⚠️"
"""The reaction on an original whose translation failed after its retry."""
USER_RATE, USER_BURST = 30.0, 30
"""Messages per minute one author may have relayed, and how many at once: a fast
typist stays well inside; a flood (a spammer, a script) is cut off instead of taking
every channel's budget."""
CHANNEL_RATE, CHANNEL_BURST = 90.0, 60
"""Messages per minute one source channel may have relayed (several spammers at once)."""
DRAIN_SECONDS = 5.0
"""On stop, how long the queues get to post what waits."""


__all__ = ["TranslationRelay", "jump_url"]


class TranslationRelay:
    """Listens to messages in grouped channels and keeps their translations in step."""

    def __init__(self, *, rest: hikari.api.RESTClient, me: Callable[[], int | None],
                 translator: Translator, language: LanguageService, store: LinkStore,
                 edit_pacer: EditPacer, tasks: TaskGroup, application_id: int = 0,
                 on_posted: Callable[[Posted], None] | None = None) -> None:
        """``me`` gives the bot's user id (``None`` before READY)."""
        self._rest = rest
        self._me = me
        self._translator = translator
        self._language = language
        self._store = store
        self.store = store
        """The groups and mappings (the commands change groups through it)."""
        self._edit_pacer = edit_pacer
        self._webhook_pacer = EditPacer(limit=WEBHOOK_LIMIT, window=WEBHOOK_WINDOW)
        self._post_pacer = EditPacer(limit=POST_LIMIT, window=POST_WINDOW)
        # Smooth (one post per 2 s per channel at most): what waits meanwhile is coalesced
        # into the next post, instead of 30 posts in a burst and a minute of silence.
        self._channel_webhook_pacer = EditPacer(limit=CHANNEL_WEBHOOK_LIMIT,
                                                window=CHANNEL_WEBHOOK_WINDOW)
        self._reaction_pacer = EditPacer(limit=REACTION_LIMIT, window=REACTION_WINDOW)
        self._marked: LruDict[int, bool] = LruDict()
        self.webhooks = WebhookDirectory(rest, application_id)
        self.queues = RelayQueues(tasks, post=self._post, edit=self._edit,
                                  delete=self._delete, on_posted=on_posted)
        self._groups: dict[int, TranslationGroup] | None = None
        self._loading = asyncio.Lock()
        self._context: LruDict[int, deque[ContextMessage]] = LruDict()
        self._user_bucket = TokenBucket(USER_RATE, USER_BURST)
        self._channel_bucket = TokenBucket(CHANNEL_RATE, CHANNEL_BURST)
        self._told: LruDict[int, float] = LruDict()
        self.rate_limited = 0
        """Messages not relayed because their author or channel was over its rate."""
        self._stopping = False

    # -- groups ----------------------------------------------------------------------

    async def group_of(self, channel_id: int) -> TranslationGroup | None:
        """The channel's group (loaded from the store on first use, and after changes)."""
        if self._groups is None:
            async with self._loading:
                if self._groups is None:
                    try:
                        groups = await self._store.groups()
                    except LibraError as err:
                        logger.warning("linked channels unavailable: {}", err)
                        return None
                    self._groups = {c.channel_id: g for g in groups for c in g.channels}
        return self._groups.get(channel_id)

    def invalidate(self) -> None:
        """Groups changed (a command): read them again at the next message."""
        self._groups = None

    # -- listeners ---------------------------------------------------------------------

    async def on_create(self, event: hikari.GuildMessageCreateEvent) -> None:
        """Queue a new message's translations into its group's targets."""
        message = event.message
        if (self._stopping or message.author.is_bot or message.webhook_id is not None
                or message.type not in RELAYED_TYPES):
            return
        text = relay_text(message.content, message.attachments)
        if not text:
            return
        group = await self.group_of(message.channel_id)
        if group is None:
            return
        channel = message.channel_id
        name = str((event.member.display_name if event.member else None)
                   or message.author.display_name or message.author.username)
        previous = tuple(self._context.get(channel, ()))
        self._remember(channel, name, text)
        worth = self._translator.worth_translating(text)
        if not worth and group.kind is GroupKind.AUTO:
            return  # beneath the message itself: nothing to add
        if not self._within_rate(int(message.author.id), channel):
            return
        language = await self._source_language(group, channel, text)
        avatar = event.member.display_avatar_url if event.member else (
            message.author.display_avatar_url)
        reference = message.message_reference
        reply_to = reference.id if reference is not None and reference.id is not None else None
        source = PostSource(message_id=int(message.id), author_id=int(message.author.id),
                            text=text)
        for target in group.targets(channel, language):
            self.queues.put(target.channel_id, PostJob(
                group_id=group.id, guild_id=group.guild_id, source_channel_id=channel,
                target_channel_id=target.channel_id, languages=target.languages,
                source_language=language, source=source, author_name=name,
                avatar_url=str(avatar) if avatar else None, reply_to=reply_to,
                context=previous, combine=group.kind is GroupKind.LINKED))

    def _within_rate(self, user_id: int, channel_id: int) -> bool:
        """Spend the author's and the channel's tokens; ``False`` (logged) when over."""
        for key, bucket, what in ((user_id, self._user_bucket, "author"),
                                  (channel_id, self._channel_bucket, "channel")):
            wait = bucket.take(key)
            if wait <= 0:
                continue
            self.rate_limited += 1
            now = time.monotonic()
            if self._told.get(key, -math.inf) <= now:
                self._told[key] = now + 60.0  # one line per flood, not one per message
                logger.warning("translation relay: {} {} is over its rate; its messages are "
                               "not relayed for {:.0f} s ({} not relayed so far)", what, key,
                               wait, self.rate_limited)
            return False
        return True

    async def _source_language(self, group: TranslationGroup, channel: int, text: str) -> str:
        """The message's language, always one written in its channel when unsure.

        ``message_language`` falls back to the channel's *reply* language when detection
        is unsure — in a channel nobody chats with Libra in that is the global default
        (``en``), so "今天加班" in a zh-cn/ja/ko channel would be taken for English and
        listed under its own language. The channel's configured languages are what its
        members write: an unsure detection picks the detector's best among them, else
        the first.
        """
        language = await self._language.message_language(channel, text)
        entry = group.channel(channel)
        if entry is None or not entry.languages:
            return language
        detected = self._language.detect(text).language
        confident = language == detected
        if confident or (language in entry.languages and group.kind is GroupKind.AUTO
                         and detected not in entry.languages):
            return language
        return detected if detected in entry.languages else entry.languages[0]

    async def on_update(self, event: hikari.GuildMessageUpdateEvent) -> None:
        """Re-translate the posts of an edited original (only when its text changed)."""
        message = event.message
        author = message.author
        if (isinstance(message.content, hikari.UndefinedType) or message.content is None
                or (not isinstance(author, hikari.UndefinedType) and author.is_bot)
                or message.webhook_id not in (None, hikari.UNDEFINED)):
            return
        if await self.group_of(message.channel_id) is None:
            return
        text = relay_text(message.content, message.attachments)
        message_id = int(message.id)
        # Copies still waiting (or being posted) take the new text in their queue; the
        # posts already made elsewhere are edited — each copy exactly once.
        pending = self.queues.edit_pending(message_id, text)
        try:
            posts = await self._store.posts_of(message_id)
        except LibraError as err:
            logger.warning("cannot re-translate edited message {}: {}", message_id, err)
            return
        for post in posts:
            if post.target_channel_id in pending:
                continue
            old = next((s.text for s in post.sources if s.message_id == message_id), None)
            if old != text:  # an embed unfolding is an update too: nothing to redo
                self.queues.put(post.target_channel_id,
                                EditJob(post=post, edited={message_id: text}))

    async def on_delete(self, event: hikari.GuildMessageDeleteEvent) -> None:
        """Delete (or shorten, when coalesced with others) the posts of a deleted original."""
        if await self.group_of(event.channel_id) is None:
            return
        await self._deleted(int(event.message_id))

    async def on_bulk_delete(self, event: hikari.GuildBulkMessageDeleteEvent) -> None:
        """A moderator purged messages: each is a deletion."""
        if await self.group_of(event.channel_id) is None:
            return
        for message_id in event.message_ids:
            await self._deleted(int(message_id))

    async def _deleted(self, message_id: int) -> None:
        pending = self.queues.delete_pending(message_id)
        try:
            posts = await self._store.posts_of(message_id)
        except LibraError as err:
            logger.warning("cannot delete the translations of message {}: {}", message_id, err)
            return
        for post in posts:
            if post.target_channel_id in pending:
                continue  # its queue removes it once the post is made
            if len(post.sources) == 1:
                self.queues.put(post.target_channel_id, DeleteJob(post=post))
            else:
                self.queues.put(post.target_channel_id,
                                EditJob(post=post, deleted={message_id}))

    def _remember(self, channel: int, author: str, text: str) -> None:
        recent = self._context.get(channel)
        if recent is None:
            recent = self._context[channel] = deque(maxlen=CONTEXT_MESSAGES)
        recent.append(ContextMessage(author=author, text=text))

    # -- the work, one target channel at a time ------------------------------------------

    async def _translations(self, text: str, *, languages: tuple[str, ...], source: str,
                            guild_id: int, channel_id: int, user_id: int,
                            context: tuple[ContextMessage, ...], kind: GroupKind,
                            originals: tuple[int, ...] = ()) -> dict[str, str]:
        """Each language's translation of ``text`` (those that failed are left out).

        A failure marks the ``originals`` (in ``channel_id``) with ⚠️ (see ``_mark_failed``).
        """
        done: dict[str, str] = {}
        failed = False
        for language in languages:
            if language == source:
                if kind is GroupKind.LINKED:
                    done[language] = text  # the same language: the original as written
                # Beneath the original itself, its own language would repeat it.
                continue
            try:
                result = await self._translator.translate(
                    text, target=language, source=source, guild_id=guild_id,
                    channel_id=channel_id, user_id=user_id, context=context)
            except LibraError as err:
                # Never a wrong post: this language gets nothing for this message.
                logger.warning("translation into {} failed ({}): {}", language, err.code, err)
                failed = True
                continue
            if result.translated:
                done[language] = result.text
            elif kind is GroupKind.LINKED:
                done[language] = text  # it was already in the channel's language
        if failed and originals:
            await self._mark_failed(channel_id, originals)
        return done

    async def _mark_failed(self, channel_id: int, message_ids: tuple[int, ...]) -> None:
        """React ⚠️ to originals whose translation failed after its retry, once each.

        A reaction rather than a notice message: it sits on the very message that was
        not translated (its author and readers see which one), adds nothing to the
        channel's flow however many fail, spends none of the message budgets that the
        translations need, and marks a message once however many languages failed.
        """
        for message_id in message_ids:
            if self._marked.get(message_id):
                continue
            self._marked[message_id] = True
            await self._reaction_pacer.acquire(channel_id)
            try:
                await self._rest.add_reaction(channel_id, message_id, FAILED_MARK)
            except (hikari.ForbiddenError, hikari.NotFoundError) as err:
                logger.info("cannot mark untranslated message {} with {}: {}", message_id,
                            FAILED_MARK, err)

    async def _counterpart(self, message_id: int, channel_id: int) -> int | None:
        """The message in ``channel_id`` that stands for ``message_id``, if any.

        ``message_id`` is an original or a translation Libra posted of one.
        """
        try:
            for post in await self._store.posts_of(message_id):
                if post.target_channel_id == channel_id:
                    return post.target_message_id
            mirror = await self._store.post_at(message_id)
            if mirror is None:
                return None
            # A combined post stands for its first line (a reply names no line).
            original = mirror.sources[0].message_id
            if (mirror.sources[0].channel_id or mirror.source_channel_id) == channel_id:
                return original
            return next((p.target_message_id for p in await self._store.posts_of(original)
                         if p.target_channel_id == channel_id), None)
        except LibraError as err:
            logger.debug("reply not mapped: {}", err)
            return None

    async def _post(self, jobs: list[PostJob]) -> list[RelayPost]:
        """Translate each original (concurrently), post the lines, record the posts."""
        first = jobs[0]
        group = await self.group_of(first.source_channel_id)
        kind = group.kind if group is not None else GroupKind.LINKED
        target = first.target_channel_id
        results = await asyncio.gather(*(self._translations(
            job.source.text, languages=job.languages, source=job.source_language,
            guild_id=job.guild_id, channel_id=job.source_channel_id,
            user_id=job.source.author_id, context=job.context, kind=kind,
            originals=(job.source.message_id,)) for job in jobs))
        lines: list[PostSource] = []
        avatars: dict[int, str | None] = {}
        for job, translations in zip(jobs, results, strict=True):
            if not translations:
                continue  # failed everywhere (marked ⚠️): no line, never a wrong one
            reply = None
            if kind is GroupKind.LINKED and job.reply_to is not None:
                reply = await self._counterpart(job.reply_to, target)
            lines.append(dataclasses.replace(
                job.source, author_name=job.author_name, channel_id=job.source_channel_id,
                reply_to_id=reply, translations=translations))
            avatars[job.source.author_id] = job.avatar_url
        if not lines:
            return []
        posts: list[RelayPost] = []
        if kind is GroupKind.AUTO:
            languages = first.languages
            for chunk in split_posts(lines, lambda c: render_beneath(c, languages)):
                # Several posts when the languages outgrow one: none is cut off.
                for shown, content in beneath_parts(chunk, languages):
                    beneath = await self._bot_post(target, content,
                                                   reply_to=chunk[0].message_id)
                    posts.append(await self._record(first, chunk, beneath, webhook_id=None,
                                                    author_name=chunk[0].author_name,
                                                    reply_to_id=None, combined=False,
                                                    languages=shown))
            return posts
        webhook = await self.webhooks.for_channel(target)
        language = first.languages[0]

        def worst(chunk: Sequence[PostSource]) -> str:
            # Named lines and every jump link: the longest this chunk can render.
            return render_lines(chunk, language=language, named=True,
                                guild_id=first.guild_id, channel_id=target)

        for chunk in split_posts(lines, worst):
            combined = len({s.author_id for s in chunk}) > 1
            sent: hikari.Message | None = None
            if webhook is not None:
                content = render_lines(chunk, language=language, named=combined,
                                       guild_id=first.guild_id, channel_id=target)
                # Several authors: Libra's webhook name and avatar, one named line each.
                name = WEBHOOK_NAME if combined else chunk[0].author_name
                avatar = None if combined else avatars.get(chunk[0].author_id)
                sent, gone = await self._execute(webhook, fit(content), name, avatar)
                if gone:
                    webhook = None  # gone: this chunk and the rest are posted by the bot
            if sent is not None:
                assert webhook is not None
                posts.append(await self._record(
                    first, chunk, sent, webhook_id=webhook.id,
                    author_name=WEBHOOK_NAME if combined else chunk[0].author_name,
                    reply_to_id=chunk[0].reply_to_id, combined=combined))
                continue
            native = chunk[0].reply_to_id
            content = render_lines(chunk, language=language, named=True,
                                   guild_id=first.guild_id, channel_id=target,
                                   native_reply=native)
            made = await self._bot_post(target, content, reply_to=native)
            posts.append(await self._record(first, chunk, made, webhook_id=None,
                                            author_name=chunk[0].author_name,
                                            reply_to_id=native, combined=combined))
        return posts

    async def _bot_post(self, target: int, content: str, *,
                        reply_to: int | None) -> hikari.Message:
        """Post as the bot (auto-translated channels; linked ones without a webhook)."""
        await self._post_pacer.acquire(target)
        return await self._rest.create_message(
            target, fit(content), reply=reply_to or hikari.UNDEFINED, reply_must_exist=False,
            mentions_reply=False, mentions_everyone=False, user_mentions=False,
            role_mentions=False)

    async def _record(self, first: PostJob, sources: list[PostSource], sent: hikari.Message,
                      *, webhook_id: int | None, author_name: str, reply_to_id: int | None,
                      combined: bool, languages: tuple[str, ...] | None = None) -> RelayPost:
        """Store the mapping of a post made (a database failure costs its edits only).

        ``languages``: those the post shows (a part of a split auto post), else the job's.
        """
        post = RelayPost(id=0, group_id=first.group_id,
                         source_channel_id=first.source_channel_id,
                         target_channel_id=first.target_channel_id,
                         target_message_id=int(sent.id), webhook_id=webhook_id,
                         languages=languages or first.languages, sources=tuple(sources),
                         author_name=author_name, reply_to_id=reply_to_id, combined=combined)
        try:
            post_id = await self._store.add_post(
                group_id=post.group_id, source_channel_id=post.source_channel_id,
                target_channel_id=post.target_channel_id,
                target_message_id=post.target_message_id, webhook_id=webhook_id,
                languages=post.languages, sources=post.sources, author_name=author_name,
                reply_to_id=reply_to_id, combined=combined)
        except LibraError as err:
            logger.warning("posted translation {} not recorded (edits and deletes will not "
                           "follow it): {}", post.target_message_id, err)
            return post
        return dataclasses.replace(post, id=post_id)

    async def _execute(self, webhook: RelayWebhook, content: str, name: str,
                       avatar_url: str | None) -> tuple[hikari.Message | None, bool]:
        """Post through the webhook: ``(message, False)``, else ``(None, gone)``.

        ``None`` tells the caller to post as the bot, naming the author: the webhook is
        gone (``gone``: for the rest of the post too), or Discord refused this message
        through it (a name or avatar it will not take: a 400).
        """
        await self._channel_webhook_pacer.acquire(webhook.channel_id)
        await self._webhook_pacer.acquire(webhook.id)
        try:
            return await self._rest.execute_webhook(
                webhook.id, webhook.token, content, username=webhook_username(name),
                avatar_url=avatar_url or hikari.UNDEFINED, mentions_everyone=False,
                user_mentions=False, role_mentions=False), False
        except (hikari.NotFoundError, hikari.UnauthorizedError):
            logger.info("Libra's webhook in channel {} is gone; posting as the bot",
                        webhook.channel_id)
            self.webhooks.forget(webhook.channel_id)
            return None, True
        except hikari.BadRequestError as err:
            logger.info("Discord refused a translation through the webhook in channel {} "
                        "(author name {!r}): {}; posting it as the bot", webhook.channel_id,
                        name, err)
            return None, False

    async def _edit(self, post: RelayPost, edited: dict[int, str], deleted: set[int]) -> None:
        """Apply edits and deletions of a post's originals; re-render the whole post.

        Only the edited originals (and lines stored before their translations were kept)
        are translated again; the other lines are shown as stored. An edit whose
        translation fails leaves its line as it was (and marks the original ⚠️).
        The post is read again first: the job was queued with the post as it was then,
        and an earlier job may have removed or changed some of its lines since.
        """
        try:
            current = await self._store.post_at(post.target_message_id)
        except LibraError:
            current = post
        if current is None:
            if post.id:
                return  # deleted meanwhile (its last line went): nothing left to edit
            current = post  # never recorded: the job's copy is all there is
        post = current
        remaining = [s for s in post.sources if s.message_id not in deleted]
        try:
            for message_id in deleted:
                await self._store.remove_source(post.id, message_id)
        except LibraError as err:
            logger.warning("translation mapping not updated: {}", err)
        if not remaining:
            await self._delete(post)
            return
        group = await self.group_of(post.source_channel_id)
        kind = group.kind if group is not None else GroupKind.LINKED
        guild_id = group.guild_id if group is not None else 0
        redo = [s for s in remaining if s.message_id in edited or s.translations is None]
        results = await asyncio.gather(*(self._retranslate(
            s, edited.get(s.message_id, s.text), post, group=group, guild_id=guild_id,
            edited=s.message_id in edited) for s in redo))
        fresh = {s.message_id: r for s, r in zip(redo, results, strict=True) if r}
        sources = tuple(dataclasses.replace(
            s, text=edited.get(s.message_id, s.text),
            translations=fresh.get(s.message_id, s.translations)) for s in remaining)
        try:
            for source in sources:
                if source.message_id in edited or source.message_id in fresh:
                    await self._store.update_source(post.id, source.message_id, source.text,
                                                    fresh.get(source.message_id))
        except LibraError as err:
            logger.warning("translation mapping not updated: {}", err)
        if not deleted and not fresh:
            return  # every re-translation failed: the post keeps its previous lines
        webhook = None
        if post.webhook_id is not None:
            webhook = await self.webhooks.for_channel(post.target_channel_id)
            if webhook is None or webhook.id != post.webhook_id:
                logger.info("cannot edit translation {}: its webhook is gone",
                            post.target_message_id)
                return
        if kind is GroupKind.AUTO:
            content = await self._beneath_content(post, render_beneath(sources,
                                                                       post.languages))
        else:
            content = render_lines(
                sources, language=post.languages[0],
                named=post.combined or webhook is None, guild_id=guild_id,
                channel_id=post.target_channel_id,
                native_reply=post.reply_to_id if webhook is None else None)
        if not content:
            if kind is GroupKind.AUTO:
                await self._delete(post)  # the edit left it nothing to show
            return
        try:
            async with self._edit_pacer.edit(post.target_channel_id, urgent=True):
                if webhook is not None:
                    await self._webhook_pacer.acquire(webhook.id)
                    await self._rest.edit_webhook_message(
                        webhook.id, webhook.token, post.target_message_id, fit(content),
                        mentions_everyone=False, user_mentions=False, role_mentions=False)
                else:
                    await self._rest.edit_message(
                        post.target_channel_id, post.target_message_id, fit(content),
                        mentions_everyone=False, user_mentions=False, role_mentions=False)
        except hikari.NotFoundError:
            await self._forget(post)

    async def _beneath_content(self, post: RelayPost, content: str) -> str:
        """This post's piece of ``content`` when a long language block was cut in several.

        The pieces of one block are posts of the same original and languages, in the
        order they were posted; a piece the edited block no longer needs is ``""``.
        """
        if not post.sources:
            return content
        try:
            siblings = [p for p in await self._store.posts_of(post.sources[0].message_id)
                        if p.target_channel_id == post.target_channel_id
                        and p.languages == post.languages]
        except LibraError:
            siblings = []
        if len(siblings) <= 1:
            return content
        order = sorted(p.target_message_id for p in siblings)
        index = order.index(post.target_message_id) if post.target_message_id in order else 0
        return beneath_piece(content, index) or ""

    async def _retranslate(self, source: PostSource, text: str, post: RelayPost, *,
                           group: TranslationGroup | None, guild_id: int,
                           edited: bool) -> dict[str, str]:
        """One line's translations again (an edit, or a line stored without them)."""
        channel = source.channel_id or post.source_channel_id
        kind = group.kind if group is not None else GroupKind.LINKED
        if group is not None:
            language = await self._source_language(group, channel, text)
        else:
            language = await self._language.message_language(channel, text)
        return await self._translations(
            text, languages=post.languages, source=language, guild_id=guild_id,
            channel_id=channel, user_id=source.author_id, context=(), kind=kind,
            originals=(source.message_id,) if edited else ())

    async def _delete(self, post: RelayPost) -> None:
        try:
            if post.webhook_id is not None:
                webhook = await self.webhooks.for_channel(post.target_channel_id)
                if webhook is not None and webhook.id == post.webhook_id:
                    await self._webhook_pacer.acquire(webhook.id)
                    await self._rest.delete_webhook_message(webhook.id, webhook.token,
                                                            post.target_message_id)
                else:  # the bot may still delete it with Manage Messages
                    await self._rest.delete_message(post.target_channel_id,
                                                    post.target_message_id)
            else:
                await self._rest.delete_message(post.target_channel_id, post.target_message_id)
        except (hikari.NotFoundError, hikari.ForbiddenError) as err:
            logger.debug("translation {} not deleted: {}", post.target_message_id, err)
        await self._forget(post)

    async def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        """Libra is stopping: take no new message, give the queues ``timeout`` to finish.

        What is still undone after that is dropped, and logged (a translation lost at
        shutdown is never silent).
        """
        self._stopping = True
        if not self.queues.backlog:
            return
        left = await self.queues.drain(timeout)
        if left:
            logger.warning("translation relay stopped with {} job(s) undone after {:.0f} s; "
                           "those translations are not posted", left, timeout)

    async def _forget(self, post: RelayPost) -> None:
        try:
            await self._store.delete_post(post.id)
        except LibraError as err:
            logger.warning("translation mapping not removed: {}", err)



def relay_text(content: str | hikari.UndefinedType | None,
               attachments: Sequence[hikari.Attachment] | hikari.UndefinedType = ()) -> str:
    """What of a message is relayed: its text, then each attachment's URL on a line.

    A webhook cannot re-upload a file without downloading it; the attachment's URL
    shows it (Discord embeds images) in every linked channel.
    """
    text = content if isinstance(content, str) else ""
    if isinstance(attachments, hikari.UndefinedType):
        return text
    urls = [a.url for a in attachments]
    return "\n".join(part for part in (text, *urls) if part)
