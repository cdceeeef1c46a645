"""Fixtures for driving the real hikari bot against the local fake Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import hikari
import lightbulb
import pytest

from tests.e2e.discord.libra_harness import start_libra  # noqa: F401 (whole-Libra fixture)
from tests.fakes.fake_discord import FakeDiscord, make_token


@pytest.fixture
async def fake_discord(request: pytest.FixtureRequest) -> AsyncIterator[FakeDiscord]:
    """A started fake Discord with the default world (one guild, alice, a DM).

    After the test, nothing the bot did may have broken one of Discord's limits (a
    429 from a real budget, an interaction acknowledged after 3 s); a test that breaks
    one on purpose is marked ``@pytest.mark.breaks_discord_limits``.
    """
    fake = FakeDiscord()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
    if request.node.get_closest_marker("breaks_discord_limits") is None:
        assert not fake.broken_limits(), fake.broken_limits()


@pytest.fixture
def fake_token() -> Callable[[int], str]:
    """Build a correctly shaped bot token for an application id."""
    return make_token


BotSetup = Callable[[hikari.GatewayBot, lightbulb.Client], None]


class BotRunner:
    """Starts real ``hikari.GatewayBot`` + ``lightbulb.Client`` pairs against the fake."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self._bots: list[hikari.GatewayBot] = []

    async def start(
        self, setup: BotSetup | None = None, *, guild_commands: bool = True
    ) -> tuple[hikari.GatewayBot, lightbulb.Client]:
        """Build a bot, let ``setup`` register commands/listeners, start it, wait for READY.

        Commands go to the fake's guilds unless ``guild_commands`` is False (then global).
        """
        bot = hikari.GatewayBot(
            self.fake.token,
            rest_url=self.fake.rest_url,
            banner=None,
            intents=hikari.Intents.ALL_UNPRIVILEGED | hikari.Intents.MESSAGE_CONTENT,
        )
        guilds = [g.id for g in self.fake.world.guilds] if guild_commands else []
        client = lightbulb.client_from_app(bot, default_enabled_guilds=guilds)
        start_errors: list[BaseException] = []

        async def start_client(_: hikari.StartingEvent) -> None:
            # Lightbulb only logs a failure here; record it so the test fails loudly.
            try:
                await client.start()
            except Exception as exc:
                start_errors.append(exc)
                raise

        bot.subscribe(hikari.StartingEvent, start_client)
        if setup is not None:
            setup(bot, client)
        self._bots.append(bot)
        connections = len(self.fake.connections)
        await bot.start(check_for_updates=False)
        await self.fake.wait_until(
            lambda: any(s.identified.is_set() for s in self.fake.connections[connections:])
        )
        assert not start_errors, start_errors
        return bot, client

    async def stop(self, bot: hikari.GatewayBot) -> None:
        """Close one bot (idempotent)."""
        if bot in self._bots:
            self._bots.remove(bot)
            await bot.close()

    async def stop_all(self) -> None:
        """Close every bot still running."""
        for bot in list(self._bots):
            await self.stop(bot)


@pytest.fixture
async def bot_runner(fake_discord: FakeDiscord) -> AsyncIterator[BotRunner]:
    """Start real bots against ``fake_discord``; all are closed at teardown."""
    runner = BotRunner(fake_discord)
    try:
        yield runner
    finally:
        await runner.stop_all()
