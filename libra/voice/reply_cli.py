"""``libra voice reply``: the voice pipeline on files, no Discord needed.

``libra voice reply --in question.wav --out answer.wav`` reads the question (any format
:mod:`libra.voice.audiofile` reads), checks that it holds speech, answers it through the
same pipeline as a voice channel (speech-to-text, the chat service with its memory,
text-to-speech), prints what was heard, the answer and where the time went, and writes
the spoken answer as a WAV file. Bad input is refused before any model is loaded.

The conversation is the console's (``libra chat``): same user, same memory, so a
question asked aloud here is remembered there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from libra.config import Settings
from libra.config_sources import load_settings
from libra.console.identity import CONSOLE_CHANNEL_ID, CONSOLE_USER_ID
from libra.errors import LibraError
from libra.logging import setup_logging
from libra.voice import wavfile
from libra.voice.audiofile import SpeechFile, read_speech, require_speech
from libra.voice.reply_report import FileReply, render_json, render_text

if TYPE_CHECKING:
    from rich.status import Status

    from libra.app import Graph
    from libra.voice.pipeline import VoicePipeline, VoiceReply

OUT_RATE = 48_000
"""The answer is written as the pipeline speaks it (48 kHz), as mono: nothing resampled twice."""


class UsageError(Exception):
    """A combination of arguments that cannot work; exit code 2."""


def _check_paths(source: Path, out: str) -> Path | None:
    """The output path (``None`` = stdout), refusing what would lose data or cannot work."""
    if out == "-":
        return None
    target = Path(out).expanduser()
    same = target.resolve() == source.resolve()
    if not same and target.exists() and source.exists():
        same = os.path.samefile(target, source)
    if same:
        raise UsageError(f"--out names the question file itself ({source}); writing the "
                         f"answer there would destroy the question: choose another name")
    if target.is_dir():
        raise UsageError(f"--out {target} is a folder; give a file name such as "
                         f"{target / 'answer.wav'}")
    if not target.parent.is_dir():
        raise UsageError(f"the folder of --out does not exist: {target.parent}")
    return target


class Spinner:
    """A transient status line on stderr while models load and the answer is made.

    Only on a terminal: a piped stderr (scripts, tests, logs) gets no control codes.
    """

    def __init__(self) -> None:
        self._status: Status | None = None
        if sys.stderr.isatty():
            from rich.console import Console  # noqa: PLC0415

            self._status = Console(file=sys.stderr).status("")

    @contextlib.contextmanager
    def running(self) -> Iterator[Spinner]:
        """Show the spinner for the duration of the block."""
        if self._status is None:
            yield self
            return
        with self._status:
            yield self

    def say(self, text: str) -> None:
        """Replace the status text."""
        if self._status is not None:
            self._status.update(text)


async def reply_to_file(settings: Settings, source: Path, target: Path | None, *,
                        language: str | None, stt: str | None, voice: str | None,
                        spinner: Spinner) -> FileReply:
    """Read, check and answer ``source``; write the spoken answer to ``target``.

    Raises:
        AudioInvalid: the file is not usable speech.
        LibraError: a model is missing, the LLM failed, or the chat could not start.
    """
    spinner.say(f"Reading {source.name}…")
    audio = await asyncio.to_thread(read_speech, source,
                                    max_seconds=settings.voice.max_utterance_s)
    await asyncio.to_thread(_require_speech, audio, settings)

    from libra.app import LibraApp, Mode, build_graph  # noqa: PLC0415
    from libra.llm.fallback import with_llm_fallback  # noqa: PLC0415

    spinner.say("Starting Libra (database, language model)…")
    settings, notice = await with_llm_fallback(settings)
    if notice:
        print(notice, file=sys.stderr)
    graph = build_graph(settings, Mode.CHAT)
    app = LibraApp.of(graph)
    await app.start()
    try:
        if "chat" in app.manager.failed:
            raise LibraError("the chat could not start (the error is logged above)",
                             hint="`libra doctor` checks the database and the LLM")
        spoken = await _answer(_pipeline(graph), audio, language=language, stt=stt,
                               voice=voice, spinner=spinner)
    finally:
        await app.stop("voice reply done")
    reply, text, pieces = spoken
    latency = reply.clock.event(user_id=CONSOLE_USER_ID, channel_id=CONSOLE_CHANNEL_ID,
                                guild_id=None, correlation_id=reply.turn.correlation_id)
    # 48 kHz stereo with both channels equal: keep the left one.
    stereo = b"".join(pieces)
    mono = np.frombuffer(stereo[: len(stereo) // 4 * 4], dtype="<i2")[0::2].tobytes()
    if not mono:
        raise LibraError("the answer produced no speech", hint="see the log (-v) for why")
    if target is not None:
        await asyncio.to_thread(wavfile.write_mono16, target, mono, OUT_RATE)
    else:
        sys.stdout.buffer.write(wavfile.mono16_bytes(mono, OUT_RATE))
        sys.stdout.flush()
    return FileReply(audio=audio, transcript=reply.transcript, language=reply.language,
                     answer=text, reply_language=reply.reply_language, out=target,
                     out_seconds=len(mono) / 2 / OUT_RATE, out_rate=OUT_RATE,
                     latency=latency)


async def _answer(pipeline: VoicePipeline, audio: SpeechFile, *, language: str | None,
                  stt: str | None, voice: str | None,
                  spinner: Spinner) -> tuple[VoiceReply, str, list[bytes]]:
    """The pipeline's reply to ``audio``: the reply, its text and its 48 kHz stereo audio."""
    settings = pipeline.settings
    wanted = language or (settings.languages[0] if len(settings.languages) == 1 else None)
    spinner.say("Loading speech models (the first time takes a few seconds)…")
    # Loaded before the clock starts, so the latency shows a warm pipeline (a voice
    # channel's turns after the first), not the one-off cost of reading models.
    await pipeline.engines.stt(language, engine=stt)
    if wanted is not None:
        await pipeline.engines.tts(wanted, voice=voice)
    spinner.say("Listening and answering…")
    reply = await pipeline.reply_to(audio.pcm, user_id=CONSOLE_USER_ID,
                                    channel_id=CONSOLE_CHANNEL_ID, guild_id=None,
                                    language=language, stt=stt, voice=voice)
    try:
        # Taken as it is made: the answer is spoken while the LLM is still writing it.
        pieces = [pcm async for pcm in reply.audio()]
        text = await reply.wait()
    except BaseException:
        await reply.cancel()  # no synthesis left running behind an error or Ctrl-C
        raise
    return reply, text, pieces


def _require_speech(audio: SpeechFile, settings: Settings) -> None:
    from libra.voice.vad import new_detector  # noqa: PLC0415

    try:
        detector = new_detector(settings.voice.vad_engine)
    except LibraError:
        detector = None  # no VAD package: the loudness check alone decides
    require_speech(audio, min_speech_ms=settings.voice.min_utterance_ms, detector=detector)


def _pipeline(graph: Graph) -> VoicePipeline:
    if graph.speech is None:
        if not graph.settings.voice.enabled:
            raise LibraError("voice is turned off (voice.enabled = false)",
                             hint="set voice.enabled = true (env LIBRA_VOICE__ENABLED=true)")
        raise LibraError("the voice pipeline cannot run here: its libraries are not installed",
                         hint="pip install 'libra[voice]'")
    return graph.speech


def _handler(args: argparse.Namespace) -> int:
    source = Path(args.inp).expanduser()
    try:
        target = _check_paths(source, args.out)
    except UsageError as err:
        print(f"libra: {err}", file=sys.stderr)
        return 2
    settings = load_settings(args.config)
    # Keep the terminal for the result: only warnings unless asked for more.
    setup_logging(level="DEBUG" if args.verbose else "WARNING",
                  fmt="human" if sys.stderr.isatty() else settings.app.log_format,
                  secrets=settings.secret_values())
    language = None if args.language in (None, "auto") else args.language.strip().lower()
    known = settings.language.languages
    if language is not None and language not in known:
        print(f"libra: --language {args.language} is not one of Libra's languages "
              f"({', '.join(known)}); auto = detect it", file=sys.stderr)
        return 2
    stt = None if args.stt == "auto" else args.stt
    spinner = Spinner()
    with spinner.running():
        result = asyncio.run(reply_to_file(settings, source, target, language=language,
                                           stt=stt, voice=args.voice, spinner=spinner))
    # With the WAV on stdout, the report goes to stderr.
    stream = sys.stdout if target is not None else sys.stderr
    render_json(result, stream) if args.json else render_text(result, stream)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``voice`` and its ``reply`` action."""
    voice = sub.add_parser("voice", help="voice conversation without Discord",
                           description="The voice pipeline on files: speech in, speech out.")
    actions = voice.add_subparsers(dest="voice_command", metavar="ACTION")
    reply = actions.add_parser(
        "reply", help="answer a recorded question aloud (WAV, FLAC, OGG, MP3, M4A)",
        description="Transcribe a recorded question, answer it with the LLM and write the "
                    "spoken answer as WAV (48 kHz mono). Prints what was heard, the answer "
                    "and the latency of each stage.")
    reply.add_argument("--in", dest="inp", required=True, metavar="PATH",
                       help="the question: WAV (any rate, channels, bit depth), or FLAC, "
                            "OGG, MP3, M4A with the whisper extra")
    reply.add_argument("--out", required=True, metavar="PATH",
                       help="where to write the spoken answer (WAV); - = stdout")
    reply.add_argument("--language", default="auto", metavar="auto|CODE",
                       help="the question's language (ISO 639-1); auto = detect")
    reply.add_argument("--stt", choices=("auto", "vosk", "whisper"), default="auto",
                       help="speech-to-text engine (default: voice.stt_engine)")
    reply.add_argument("--voice", metavar="NAME",
                       help="Piper voice for the answer (catalogue name or .onnx path)")
    reply.add_argument("--json", action="store_true", help="print the result as JSON")
    reply.add_argument("-v", "--verbose", action="store_true", help="show debug logs")
    reply.set_defaults(handler=_handler)
    voice.set_defaults(handler=lambda _a: _usage(voice))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2
