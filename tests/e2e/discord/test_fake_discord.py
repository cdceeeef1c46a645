"""The real hikari bot + lightbulb client against the local fake Discord.

These prove the fake is faithful enough for the phase-2 tests: what hikari sends is
recorded, what it needs back it gets, and Discord's limits are applied.
"""

from __future__ import annotations

import asyncio
import importlib.util

import aiohttp
import hikari
import lightbulb
import pytest

from tests.e2e.discord.conftest import BotRunner
from tests.fakes.fake_discord import FakeDiscord

MESSAGES_ROUTE = "/channels/{channel}/messages"
EDIT_ROUTE = "/channels/{channel}/messages/{message}"


def echo_command(description: str = "Echo some text back") -> type[lightbulb.SlashCommand]:
    """A trivial test-only slash command."""

    class Echo(lightbulb.SlashCommand, name="echo", description=description):
        text = lightbulb.string("text", "What to echo")

        @lightbulb.invoke
        async def invoke(self, ctx: lightbulb.Context) -> None:
            await ctx.respond(f"echo: {self.text}")

    return Echo


def register(*commands: type[lightbulb.SlashCommand]):  # type: ignore[no-untyped-def]
    def setup(_: hikari.GatewayBot, client: lightbulb.Client) -> None:
        for command in commands:
            client.register(command)

    return setup


async def test_startup_rest_order_identify_and_guild_cache(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    bot, _ = await bot_runner.start(register(echo_command()))

    calls = [(c.method, c.route) for c in fake_discord.rest_calls()]
    assert calls == [
        ("GET", "/oauth2/applications/@me"),
        ("GET", "/applications/{app}/commands"),
        ("GET", "/applications/{app}/guilds/{guild}/commands"),
        ("PUT", "/applications/{app}/guilds/{guild}/commands"),
        ("GET", "/gateway/bot"),
    ]
    identify = fake_discord.gateway_ops(2)[0].d
    assert identify["token"] == fake_discord.token
    assert identify["intents"] & hikari.Intents.MESSAGE_CONTENT
    # READY and GUILD_CREATE were decoded: the bot knows itself and the guild's contents.
    assert bot.get_me() is not None
    assert bot.get_me().id == fake_discord.world.bot_user.id
    guild = fake_discord.world.guilds[0]
    assert bot.cache.get_guild(guild.id) is not None
    assert {c.name for c in bot.cache.get_guild_channels_view_for_guild(guild.id).values()} >= {
        "general",
        "Lounge",
    }
    assert bot.cache.get_thread(fake_discord.channel_named("a thread").id) is not None
    roles = bot.cache.get_roles_view_for_guild(guild.id).values()
    assert {r.name for r in roles} == {"@everyone", "moderator", "libra"}
    # The bot's managed role carries its id, as Discord's role tags do.
    assert {r.bot_id for r in roles if r.is_managed} == {fake_discord.world.bot_user.id}
    alice = fake_discord.user("alice")
    assert bot.cache.get_member(guild.id, alice.id) is not None


async def test_gateway_uses_the_compression_the_bot_asked_for(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    received: list[str] = []
    all_received = asyncio.Event()

    def listen(bot: hikari.GatewayBot, _: lightbulb.Client) -> None:
        async def on_message(event: hikari.MessageCreateEvent) -> None:
            received.append(event.message.content or "")
            if len(received) == 3:
                all_received.set()

        bot.subscribe(hikari.MessageCreateEvent, on_message)

    await bot_runner.start(listen)
    zstd_available = importlib.util.find_spec("backports") is not None and (
        importlib.util.find_spec("backports.zstd") is not None
    )
    # hikari 2.6 on Python 3.11 asks for zstd-stream only when backports.zstd imports.
    assert fake_discord.session.compression == ("zstd-stream" if zstd_available else "zlib-stream")
    # Later dispatches continue the same compressed stream and still decode.
    for n in range(3):
        await fake_discord.user_message(f"still decoding {n} " + "x" * 3000)
    await asyncio.wait_for(all_received.wait(), 5)
    assert [r.split(" x")[0] for r in received] == [f"still decoding {n}" for n in range(3)]


async def test_restart_with_unchanged_commands_does_not_resync(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    bot, _ = await bot_runner.start(register(echo_command()))
    assert fake_discord.world.command_puts == 1
    first_id = fake_discord.world.guild_commands[fake_discord.world.guilds[0].id][0]["id"]
    await bot_runner.stop(bot)

    bot, _ = await bot_runner.start(register(echo_command()))
    assert fake_discord.world.command_puts == 1
    await bot_runner.stop(bot)

    await bot_runner.start(register(echo_command("A new description")))
    assert fake_discord.world.command_puts == 2
    stored = fake_discord.world.guild_commands[fake_discord.world.guilds[0].id]
    assert [(c["name"], c["description"], c["id"]) for c in stored] == [
        ("echo", "A new description", first_id)
    ]


async def test_slash_command_is_answered_through_the_callback(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    await bot_runner.start(register(echo_command()))

    token = await fake_discord.slash_command("echo", {"text": "hello"})

    await fake_discord.wait_until(lambda: fake_discord.original_response(token) is not None)
    original = fake_discord.original_response(token)
    assert original is not None
    assert original.content == "echo: hello"
    callback = fake_discord.rest_calls("POST", "/interactions/{id}/{token}/callback")[0]
    assert callback.query == {"with_response": "true"}
    assert callback.json["type"] == hikari.ResponseType.MESSAGE_CREATE


async def test_deferred_interaction_streams_into_the_original_response(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    class Slow(lightbulb.SlashCommand, name="slow", description="Answers in parts"):
        @lightbulb.invoke
        async def invoke(self, ctx: lightbulb.Context) -> None:
            await ctx.defer()
            for text in ("Once", "Once upon", "Once upon a time."):
                await ctx.interaction.edit_initial_response(text)

    await bot_runner.start(register(Slow))
    token = await fake_discord.slash_command("slow")

    channel = fake_discord.text_channel.id
    final = await fake_discord.wait_for_bot_content(channel, "Once upon a time.")
    assert final.edits == 3
    assert final is fake_discord.original_response(token)
    edits = fake_discord.rest_calls("PATCH", "/webhooks/{app}/{token}/messages/{message}")
    assert [e.json["content"] for e in edits] == ["Once", "Once upon", "Once upon a time."]
    assert all(e.path.endswith("/messages/@original") for e in edits)


def reply_to_mentions(bot: hikari.GatewayBot, _: lightbulb.Client) -> None:
    async def on_message(event: hikari.MessageCreateEvent) -> None:
        me = bot.get_me()
        if not event.is_human or me is None:
            return
        if (
            isinstance(event, hikari.GuildMessageCreateEvent)
            and me.id not in event.message.user_mentions_ids
        ):
            return
        await event.message.respond("Hello!", reply=True)

    bot.subscribe(hikari.MessageCreateEvent, on_message)


async def test_mention_and_dm_are_answered_with_a_reply(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    await bot_runner.start(reply_to_mentions)

    await fake_discord.user_message("ignore me")
    question = await fake_discord.user_message("are you there?", mention_bot=True)
    dm = fake_discord.world.dm_channels[0]
    dm_question = await fake_discord.user_message("and here?", channel=dm)

    await fake_discord.wait_for_bot_content(dm.id, "Hello!")
    answer = await fake_discord.wait_for_bot_content(fake_discord.text_channel.id, "Hello!")
    assert answer.payload["message_reference"]["message_id"] == str(question.id)
    assert len(fake_discord.bot_messages(fake_discord.text_channel.id)) == 1
    posts = fake_discord.rest_calls("POST", MESSAGES_ROUTE)
    assert {p.json["message_reference"]["message_id"] for p in posts} == {
        str(question.id),
        str(dm_question.id),
    }


async def test_a_429_on_a_route_is_survived(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    bot, _ = await bot_runner.start()
    channel = fake_discord.text_channel.id
    fake_discord.limiter.inject(f"POST {MESSAGES_ROUTE}", status=429, count=2, retry_after=0.1)

    await bot.rest.create_message(channel, "after the limit")

    assert [m.content for m in fake_discord.bot_messages(channel)] == ["after the limit"]
    assert [c.status for c in fake_discord.rest_calls("POST", MESSAGES_ROUTE)] == [429, 429, 200]
    assert fake_discord.limiter.stats.responses_429 == 2


async def test_a_5xx_is_retried(fake_discord: FakeDiscord, bot_runner: BotRunner) -> None:
    bot, _ = await bot_runner.start()
    channel = fake_discord.text_channel.id
    fake_discord.limiter.inject(f"POST {MESSAGES_ROUTE}", status=502, count=1)

    await bot.rest.create_message(channel, "after the outage")

    assert [c.status for c in fake_discord.rest_calls("POST", MESSAGES_ROUTE)] == [502, 200]
    assert fake_discord.bot_messages(channel)[0].content == "after the outage"


async def test_rapid_edits_respect_the_channel_budget() -> None:
    fake = FakeDiscord(edit_limit=3, edit_window=0.6)
    await fake.start()
    runner = BotRunner(fake)
    try:
        bot, _ = await runner.start()
        channel = fake.text_channel.id
        message = await bot.rest.create_message(channel, "v0")
        for version in range(1, 8):
            await bot.rest.edit_message(channel, message, f"v{version}")
        assert fake.bot_messages(channel)[0].content == "v7"
        accepted = [c for c in fake.rest_calls("PATCH", EDIT_ROUTE) if c.status == 200]
        assert len(accepted) == 7
        # 3 per fixed 0.6 s window (the headers said so): hikari was held back, not refused.
        assert accepted[-1].at - accepted[0].at >= 2 * 0.6 - 0.05
        assert fake.limiter.stats.budget_429 <= 1
    finally:
        await runner.stop_all()
        await fake.stop()


async def test_edits_over_the_budget_are_refused_until_the_fixed_window_ends() -> None:
    fake = FakeDiscord(edit_limit=5, edit_window=1.0)
    await fake.start()
    runner = BotRunner(fake)
    try:
        bot, _ = await runner.start()
        channel = fake.text_channel.id
        message = await bot.rest.create_message(channel, "v0")
        url = f"{fake.rest_url}/channels/{channel}/messages/{message.id}"
        auth = {"Authorization": f"Bot {fake.token}"}
        async with aiohttp.ClientSession(headers=auth) as http:
            for version in range(1, 6):
                async with http.patch(url, json={"content": f"v{version}"}) as response:
                    assert response.status == 200
                    assert response.headers["X-RateLimit-Remaining"] == str(5 - version)
            # A bucket refilling continuously would have an edit back by now; Discord not.
            await asyncio.sleep(0.3)
            async with http.patch(url, json={"content": "too soon"}) as refused:
                body = await refused.json()
                headers = refused.headers
            await asyncio.sleep(body["retry_after"])
            async with http.patch(url, json={"content": "v6"}) as later:
                assert later.status == 200
        assert refused.status == 429
        assert body["global"] is False and 0 < body["retry_after"] <= 0.7
        assert headers["X-RateLimit-Scope"] == "user"
        assert headers["X-RateLimit-Remaining"] == "0"
        assert headers["Retry-After"] == "1"
        assert fake.bot_messages(channel)[0].content == "v6"
        assert fake.limiter.stats.budget_429 == 1
    finally:
        await runner.stop_all()
        await fake.stop()


def deferring_command(deferred: asyncio.Event) -> type[lightbulb.SlashCommand]:
    """``/wait``: defers, then leaves the answer to the test."""

    class Wait(lightbulb.SlashCommand, name="wait", description="Defers and waits"):
        @lightbulb.invoke
        async def invoke(self, ctx: lightbulb.Context) -> None:
            await ctx.defer()
            deferred.set()

    return Wait


@pytest.mark.breaks_discord_limits
async def test_interaction_edits_spend_the_channel_budget_they_do_not_advertise(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    deferred = asyncio.Event()
    bot, _ = await bot_runner.start(register(deferring_command(deferred)))
    channel = fake_discord.text_channel.id
    token = await fake_discord.slash_command("wait")
    await asyncio.wait_for(deferred.wait(), 5)
    message = await bot.rest.create_message(channel, "v0")
    app = fake_discord.world.application_id
    original = f"{fake_discord.rest_url}/webhooks/{app}/{token}/messages/@original"
    edit = f"{fake_discord.rest_url}/channels/{channel}/messages/{message.id}"
    auth = {"Authorization": f"Bot {fake_discord.token}"}
    statuses = []
    async with aiohttp.ClientSession(headers=auth) as http:
        for url in (edit, edit, edit, original, original, original):
            async with http.patch(url, json={"content": "update"}) as response:
                statuses.append(response.status)
                headers, body = response.headers, await response.json()

    assert statuses == [200, 200, 200, 200, 200, 429]
    assert headers["X-RateLimit-Scope"] == "shared"
    assert headers["X-RateLimit-Remaining"] != "0"  # the webhook's own bucket is not spent
    assert body["retry_after"] > 0
    assert fake_discord.broken_limits() == ["1 request(s) over a rate-limit budget (429)"]


def slow_command(seconds: float, done: asyncio.Event,
                 failures: list[BaseException]) -> type[lightbulb.SlashCommand]:
    """``/slow``: answers only after ``seconds``, recording what Discord said."""

    class Slow(lightbulb.SlashCommand, name="slow", description="Answers late"):
        @lightbulb.invoke
        async def invoke(self, ctx: lightbulb.Context) -> None:
            try:
                await asyncio.sleep(seconds)  # the work that takes too long
                await ctx.respond("finally")
            except hikari.HTTPError as err:
                failures.append(err)
            finally:
                done.set()

    return Slow


async def test_an_interaction_acknowledged_after_the_deadline_is_unknown() -> None:
    fake = FakeDiscord(interaction_deadline=0.3)
    await fake.start()
    runner = BotRunner(fake)
    done, failures = asyncio.Event(), list[BaseException]()
    try:
        await runner.start(register(slow_command(0.5, done, failures)))
        token = await fake.slash_command("slow")
        await asyncio.wait_for(done.wait(), 5)
    finally:
        await runner.stop_all()
        await fake.stop()
    assert [type(f) for f in failures] == [hikari.NotFoundError]
    assert "10062" in str(failures[0])  # Unknown interaction
    assert fake.original_response(token) is None
    assert fake.acknowledged_late() == [token]


async def test_an_interaction_token_expires() -> None:
    fake = FakeDiscord(token_lifetime=0.5)
    await fake.start()
    runner = BotRunner(fake)
    deferred = asyncio.Event()
    try:
        bot, _ = await runner.start(register(deferring_command(deferred)))
        token = await fake.slash_command("wait")
        await asyncio.wait_for(deferred.wait(), 5)
        app = fake.world.application_id
        await bot.rest.edit_interaction_response(app, token, "in time")
        await asyncio.sleep(0.6)  # past the (shortened) 15 minutes
        with pytest.raises(hikari.UnauthorizedError, match="50027"):
            await bot.rest.edit_interaction_response(app, token, "too late")
        with pytest.raises(hikari.UnauthorizedError, match="50027"):
            await bot.rest.execute_webhook(app, token, "too late")
    finally:
        await runner.stop_all()
        await fake.stop()
    original = fake.original_response(token)
    assert original is not None and original.content == "in time"


async def test_reconnect_resumes_the_session(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    await bot_runner.start(reply_to_mentions)
    first = fake_discord.session

    await fake_discord.request_reconnect()
    await fake_discord.wait_until(lambda: len(fake_discord.gateway_ops(6)) == 1)
    resume = fake_discord.gateway_ops(6)[0].d
    assert resume["session_id"] == first.session_id
    assert len(fake_discord.gateway_ops(2)) == 1  # no second IDENTIFY

    await fake_discord.wait_until(
        lambda: any(s is not first and s.identified.is_set() for s in fake_discord.connections)
    )
    dm = fake_discord.world.dm_channels[0]
    await fake_discord.user_message("after resume", channel=dm)
    await fake_discord.wait_for_bot_content(dm.id, "Hello!")


class RecordingVoiceConnection(hikari.api.VoiceConnection):
    """A voice connection that only records what hikari hands it (no audio transport)."""

    def __init__(self, **fields: object) -> None:
        self.fields = fields

    @classmethod
    async def initialize(  # type: ignore[override]
        cls, **fields: object
    ) -> RecordingVoiceConnection:
        return cls(**fields)

    @property
    def channel_id(self) -> hikari.Snowflake:
        return hikari.Snowflake(self.fields["channel_id"])  # type: ignore[arg-type]

    @property
    def guild_id(self) -> hikari.Snowflake:
        return hikari.Snowflake(self.fields["guild_id"])  # type: ignore[arg-type]

    @property
    def is_alive(self) -> bool:
        return True

    @property
    def shard_id(self) -> int:
        return int(self.fields["shard_id"])  # type: ignore[call-overload]

    @property
    def owner(self) -> hikari.api.VoiceComponent:
        return self.fields["owner"]  # type: ignore[return-value]

    async def disconnect(self) -> None:
        on_close = self.fields["on_close"]
        await on_close(self)  # type: ignore[operator]

    async def join(self) -> None:
        return None

    async def notify(self, event: hikari.VoiceEvent) -> None:
        return None


async def test_voice_join_gets_session_and_configured_endpoint(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    fake_discord.voice_endpoint = "127.0.0.1:45678"
    bot, _ = await bot_runner.start()
    guild = fake_discord.world.guilds[0]
    lounge = fake_discord.channel_named("Lounge")

    connection = await bot.voice.connect_to(
        guild.id, lounge.id, voice_connection_type=RecordingVoiceConnection, timeout=5
    )

    assert isinstance(connection, RecordingVoiceConnection)
    assert connection.fields["endpoint"] == "wss://127.0.0.1:45678"
    assert connection.fields["user_id"] == fake_discord.world.bot_user.id
    assert connection.fields["token"] == f"voice-token-{guild.id}"
    assert str(connection.fields["session_id"]).startswith("voice-")
    join = fake_discord.gateway_ops(4)[0].d
    assert (join["guild_id"], join["channel_id"]) == (str(guild.id), str(lounge.id))

    await bot.voice.disconnect(guild.id)
    await fake_discord.wait_until(lambda: len(fake_discord.gateway_ops(4)) == 2)
    assert fake_discord.gateway_ops(4)[1].d["channel_id"] is None


async def test_a_429_storm_is_waited_out(fake_discord: FakeDiscord, bot_runner: BotRunner) -> None:
    bot, _ = await bot_runner.start()
    channel = fake_discord.text_channel.id
    fake_discord.limiter.storm(0.3, retry_after=0.1)

    await bot.rest.create_message(channel, "after the storm")

    statuses = [c.status for c in fake_discord.rest_calls("POST", MESSAGES_ROUTE)]
    assert statuses[-1] == 200 and 429 in statuses
    assert fake_discord.bot_messages(channel)[0].content == "after the storm"


async def test_threads_typing_and_thread_messages(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    def answer_in_thread(bot: hikari.GatewayBot, _: lightbulb.Client) -> None:
        async def on_message(event: hikari.GuildMessageCreateEvent) -> None:
            if not event.is_human:
                return
            await bot.rest.trigger_typing(event.channel_id)
            thread = await bot.rest.create_message_thread(
                event.channel_id, event.message_id, "Discussion"
            )
            await bot.rest.create_message(thread.id, "Let's talk here.")

        bot.subscribe(hikari.GuildMessageCreateEvent, on_message)

    await bot_runner.start(answer_in_thread)
    question = await fake_discord.user_message("open a thread please")

    # Discord gives a thread started from a message the message's id.
    await fake_discord.wait_for_bot_content(question.id, "Let's talk here.")
    assert fake_discord.world.channel(question.id).name == "Discussion"  # type: ignore[union-attr]
    assert len(fake_discord.rest_calls("POST", "/channels/{channel}/typing")) == 1


async def test_message_context_menu_command_gets_its_target(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    class Shout(lightbulb.MessageCommand, name="Shout"):
        @lightbulb.invoke
        async def invoke(self, ctx: lightbulb.Context) -> None:
            await ctx.respond(self.target.content.upper() if self.target.content else "?")

    await bot_runner.start(register(Shout))  # type: ignore[arg-type]
    target = await fake_discord.user_message("quiet words")

    token = await fake_discord.message_command("Shout", target.id)

    await fake_discord.wait_until(lambda: fake_discord.original_response(token) is not None)
    assert fake_discord.original_response(token).content == "QUIET WORDS"  # type: ignore[union-attr]


async def test_heartbeats_are_acknowledged() -> None:
    fake = FakeDiscord(heartbeat_interval_ms=150)
    await fake.start()
    runner = BotRunner(fake)
    try:
        await runner.start()
        await fake.wait_until(lambda: len(fake.gateway_ops(1)) >= 4, timeout=5)
        assert len(fake.connections) == 1  # never reconnected for a missing ACK
        assert len(fake.gateway_ops(2)) == 1
    finally:
        await runner.stop_all()
        await fake.stop()


async def test_reply_chains_and_thread_messages_reach_the_bot(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    seen: list[tuple[int, str, str | None]] = []
    both = asyncio.Event()

    def listen(bot: hikari.GatewayBot, _: lightbulb.Client) -> None:
        async def on_message(event: hikari.GuildMessageCreateEvent) -> None:
            if not event.is_human:
                return
            referenced = event.message.referenced_message
            seen.append((event.channel_id, event.content or "", referenced and referenced.content))
            if len(seen) == 2:
                both.set()

        bot.subscribe(hikari.GuildMessageCreateEvent, on_message)

    bot, _ = await bot_runner.start(listen)
    channel = fake_discord.text_channel.id
    answer = await bot.rest.create_message(channel, "I am the bot's answer")
    thread = fake_discord.channel_named("a thread")

    await fake_discord.user_message("why?", reply_to=answer.id)
    await fake_discord.user_message("inside the thread", channel=thread)
    await asyncio.wait_for(both.wait(), 5)

    assert seen == [
        (channel, "why?", "I am the bot's answer"),
        (thread.id, "inside the thread", None),
    ]


async def test_global_commands_sync_once_and_answer(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    bot, _ = await bot_runner.start(register(echo_command()), guild_commands=False)
    await bot_runner.stop(bot)
    await bot_runner.start(register(echo_command()), guild_commands=False)

    assert fake_discord.world.command_puts == 1
    assert [c["name"] for c in fake_discord.world.global_commands] == ["echo"]
    puts = fake_discord.rest_calls("PUT")
    assert [p.route for p in puts] == ["/applications/{app}/commands"]

    dm = fake_discord.world.dm_channels[0]
    token = await fake_discord.slash_command("echo", {"text": "from a DM"}, channel=dm)
    await fake_discord.wait_until(lambda: fake_discord.original_response(token) is not None)
    assert fake_discord.original_response(token).content == "echo: from a DM"  # type: ignore[union-attr]
