"""``/model`` and ``/stats``: routing, readiness and usage, for guild admins only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import lightbulb
from loguru import logger

from libra.discord.commands.common import admin_admitted
from libra.discord.commands.deferral import defer_if_slow
from libra.discord.deps import DiscordDeps
from libra.errors import StorageError
from libra.voice.latency_figures import TurnStage

loader = lightbulb.Loader()

STATS_WINDOW = timedelta(days=1)


def routing_table(deps: DiscordDeps) -> str:
    """Language routes, the default model and each model's readiness."""
    llm = deps.settings.llm
    ready = {status.model: status for status in deps.llm.readiness()}
    lines = ["**Model routing**", f"default: `{llm.default_model}`"]
    lines += [f"{language}: `{model}`" for language, model in sorted(llm.routes.items())]
    lines.append("**Readiness**")
    for model in sorted({llm.default_model, *llm.routes.values()}):
        status = ready.get(model)
        if status is None:
            lines.append(f"`{model}`: not checked yet")
        else:
            state = "ready" if status.ready else "not ready"
            lines.append(f"`{model}`: {state}" + (f" ({status.detail})" if status.detail else ""))
    return "\n".join(lines)


def voice_report(deps: DiscordDeps, guild_id: int | None) -> list[str]:
    """Spoken turns in the guild: how many, p50/p95 of the total and of Libra's share.

    Nothing at all in a guild where nobody has spoken to Libra: most never do.
    """
    if deps.voice_turns is None:
        return []
    stats = deps.voice_turns.in_guild(guild_id)
    if stats.turns == 0:
        return []
    failed = sum(stats.errors.values())
    counts = f"{stats.turns} turns" + (
        f" ({failed} failed: " + ", ".join(f"{code} {n}" for code, n in
                                          sorted(stats.errors.items())) + ")" if failed else "")
    figures = [f"{label} p50 {f.p50_ms:.0f} ms / p95 {f.p95_ms:.0f} ms"
               for label, stage in (("total", TurnStage.TOTAL), ("Libra's share", TurnStage.LIBRA))
               if (f := stats.stage(stage)) is not None]
    line = counts + (f"; last {stats.window}: " + ", ".join(figures) if figures else "")
    return ["**Voice turns (end of speech → first audio, this server)**", line]


async def guild_report(deps: DiscordDeps, guild_id: int | None) -> str:
    """Per-stage latency of recent replies and the last day's LLM usage in the guild."""
    lines = ["**Reply latency (recent replies, this server)**"]
    figures = deps.stage_stats.figures(guild_id)
    lines += [f"{f.stage}: median {f.median_ms:.0f} ms, max {f.max_ms:.0f} ms "
              f"({f.samples} replies)" for f in figures] or ["no replies yet"]
    lines += voice_report(deps, guild_id)
    lines.append("**LLM usage (last 24 h)**")
    usage_stats = deps.usage
    if usage_stats is None or not usage_stats.connected:
        lines.append("unavailable: the database is not connected")
        return "\n".join(lines)
    try:
        # Bounded like every storage call: a dark database host must not leave the
        # command "thinking" until TCP gives up.
        rows = await deps.deadlines.within(
            usage_stats.guild_usage(datetime.now(tz=UTC) - STATS_WINDOW, limit=1000),
            deps.settings.database.query_timeout)
    except (StorageError, TimeoutError) as err:
        logger.warning("/stats usage query failed: {}", err or "no answer in time")
        lines.append("unavailable: the database did not answer")
        return "\n".join(lines)
    usage = next((row for row in rows if row.guild_id == guild_id), None)
    if usage is None:
        lines.append("no calls")
    else:
        lines.append(f"calls: {usage.calls} (cache hits {usage.cache_hits}, errors "
                     f"{usage.errors}); tokens: {usage.prompt_tokens} prompt, "
                     f"{usage.completion_tokens} completion")
    return "\n".join(lines + await instance_lines(deps))


async def instance_lines(deps: DiscordDeps) -> list[str]:
    """The bot's live instances, when several share it (nothing for a single process)."""
    if deps.instances is None:
        return []
    try:
        found = await deps.deadlines.within(deps.instances.instances(), 2.0)
    except Exception as err:  # Redis down: the rest of /stats still helps
        logger.warning("/stats instance list failed: {}", err or "no answer in time")
        return ["**Instances**", "unavailable: Redis did not answer"]
    return ["**Instances**", *(f"- {record.summary()}" for record in found)]


@loader.command
class Model(lightbulb.SlashCommand, name="model", description="Model routing and readiness"):
    """``/model`` (admins)."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Show which model answers which language and whether each is ready."""
        async with defer_if_slow(ctx, ephemeral=True):
            if not await admin_admitted(ctx, deps):
                return
            await ctx.respond(routing_table(deps), ephemeral=True)


@loader.command
class Stats(lightbulb.SlashCommand, name="stats", description="Latency and usage in this server"):
    """``/stats`` (admins)."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context,
                     deps: DiscordDeps = lightbulb.di.INJECTED) -> None:
        """Show per-stage latency and usage for this guild."""
        async with defer_if_slow(ctx, ephemeral=True):
            if not await admin_admitted(ctx, deps):
                return
        await ctx.defer(ephemeral=True)
        await ctx.respond(await guild_report(deps, ctx.guild_id), ephemeral=True)
