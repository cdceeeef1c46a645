"""The fake's buttons and file uploads, driven by the real hikari bot.

Shapes and rules as Discord's: a press is an interaction of type 3 with the message
and ``data.custom_id``; it must be acknowledged within 3 s; an ephemeral message's
buttons are pressed by the user it answered only; files go as multipart ``files[n]``
next to ``payload_json`` and are refused over the size limit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import hikari
import lightbulb
import pytest

from tests.e2e.discord.conftest import BotRunner
from tests.fakes.fake_discord import FakeDiscord, StoredMessage

CALLBACK = "/interactions/{id}/{token}/callback"


class Confirm(lightbulb.SlashCommand, name="confirm", description="Ask with a button"):
    """Answers privately with one button."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        row = ctx.client.rest.build_message_action_row().add_interactive_button(
            hikari.ButtonStyle.DANGER, "test:yes", label="Yes")
        await ctx.respond("Sure?", components=[row], ephemeral=True)


class Upload(lightbulb.SlashCommand, name="upload", description="Answers with a file"):
    """Defers, then sends ``size`` bytes as a file."""

    size = lightbulb.integer("size", "Bytes to send")

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        await ctx.defer(ephemeral=True)
        try:
            await ctx.respond("Here it is.", attachment=hikari.Bytes(b"x" * self.size, "a.txt"))
        except hikari.ClientHTTPResponseError as err:
            await ctx.respond(f"refused: {err.status}")


@pytest.fixture
async def strict_fake() -> AsyncIterator[FakeDiscord]:
    """A fake whose button presses must be answered within 0.3 s (Discord: 3 s)."""
    fake = FakeDiscord(interaction_deadline=0.3)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def with_buttons(answer_after: float | None = 0.0):  # type: ignore[no-untyped-def]
    """Register /confirm and answer each press (after ``answer_after`` s) with an update."""

    def setup(bot: hikari.GatewayBot, client: lightbulb.Client) -> None:
        client.register(Confirm)
        client.register(Upload)

        async def on_press(event: hikari.InteractionCreateEvent) -> None:
            interaction = event.interaction
            if not isinstance(interaction, hikari.ComponentInteraction):
                return
            if answer_after:
                await asyncio.sleep(answer_after)  # a handler too slow for the deadline
            with contextlib.suppress(hikari.NotFoundError):  # too late: Discord forgot it
                await interaction.create_initial_response(
                    hikari.ResponseType.MESSAGE_UPDATE,
                    f"{interaction.custom_id} by {interaction.user.username}", components=[])

        bot.subscribe(hikari.InteractionCreateEvent, on_press)

    return setup


async def confirmation(fake: FakeDiscord) -> StoredMessage:
    token = await fake.slash_command("confirm")
    await fake.wait_until(lambda: fake.original_response(token) is not None)
    message = fake.original_response(token)
    assert message is not None
    return message


async def test_a_button_press_reaches_the_bot_which_updates_the_message(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    await bot_runner.start(with_buttons())
    message = await confirmation(fake_discord)
    assert message.payload["flags"] & 64 and message.visible_to == fake_discord.user("alice").id

    await fake_discord.press_button(message, "test:yes")

    await fake_discord.wait_until(lambda: message.content == "test:yes by alice")
    assert message.payload["components"] == []
    callback = fake_discord.rest_calls("POST", CALLBACK)[-1]
    assert callback.json["type"] == hikari.ResponseType.MESSAGE_UPDATE and callback.status == 200


async def test_only_the_user_an_ephemeral_message_answered_can_press_its_buttons(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    await bot_runner.start(with_buttons())
    message = await confirmation(fake_discord)

    with pytest.raises(PermissionError):
        await fake_discord.press_button(message, "test:yes", user=fake_discord.user("owner"))
    with pytest.raises(LookupError):
        await fake_discord.press_button(message, "test:no")


async def test_a_press_answered_after_the_deadline_is_an_unknown_interaction(
    strict_fake: FakeDiscord,
) -> None:
    runner = BotRunner(strict_fake)
    try:
        await runner.start(with_buttons(answer_after=0.6))
        message = await confirmation(strict_fake)

        await strict_fake.press_button(message, "test:yes")

        await strict_fake.wait_until(lambda: len(strict_fake.rest_calls("POST", CALLBACK)) == 2)
        late = strict_fake.rest_calls("POST", CALLBACK)[-1]
        assert late.status == 404
        assert message.content == "Sure?"
    finally:
        await runner.stop_all()


async def test_update_callbacks_are_refused_for_commands(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    class Wrong(lightbulb.SlashCommand, name="wrong", description="Misuses a callback type"):
        @lightbulb.invoke
        async def invoke(self, ctx: lightbulb.Context) -> None:
            try:
                await ctx.interaction.create_initial_response(
                    hikari.ResponseType.MESSAGE_UPDATE, "nope")
            except hikari.BadRequestError:
                await ctx.interaction.create_initial_response(
                    hikari.ResponseType.MESSAGE_CREATE, "refused")

    await bot_runner.start(lambda _, client: client.register(Wrong))
    token = await fake_discord.slash_command("wrong")

    await fake_discord.wait_until(lambda: fake_discord.original_response(token) is not None)
    assert [c.status for c in fake_discord.rest_calls("POST", CALLBACK)] == [400, 200]


async def test_a_file_is_uploaded_as_multipart_and_kept_with_its_bytes(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    await bot_runner.start(with_buttons())

    token = await fake_discord.slash_command("upload", {"size": 1500})

    await fake_discord.wait_until(lambda: getattr(
        fake_discord.original_response(token), "content", "") == "Here it is.")
    message = fake_discord.original_response(token)
    assert message is not None
    [attachment] = message.payload["attachments"]
    assert attachment["filename"] == "a.txt" and attachment["size"] == 1500
    assert attachment["ephemeral"] is True
    assert fake_discord.attachment(message) == b"x" * 1500


async def test_a_file_over_the_size_limit_is_refused_with_413(
    fake_discord: FakeDiscord, bot_runner: BotRunner
) -> None:
    fake_discord.world.attachment_size_limit = 1000
    await bot_runner.start(with_buttons())

    token = await fake_discord.slash_command("upload", {"size": 1001})

    await fake_discord.wait_until(lambda: getattr(
        fake_discord.original_response(token), "content", "") == "refused: 413")
    message = fake_discord.original_response(token)
    assert message is not None and message.payload["attachments"] == []
