"""``/voice status`` lines about voice turns, in the languages Libra answers in.

Kept short on purpose: the lines sit under the connection's own in one Discord
message. Acronyms (STT, TTS, LLM, p50/p95, ms) stay as they are in every language;
engine names and error codes are shown verbatim, in code spans.
"""

from __future__ import annotations

from .latency_figures import BREAKDOWN, TurnStage, TurnStats

_KEYS = ("engines", "last", "recent", "endpoint", "chat", "llm_first_token", "first_sentence",
         "tts_first_audio", "first_packet", "total", "errors", "failed", "none", "no_tts")

_LABELS: dict[str, tuple[str, ...]] = {
    # engines, last turn, last n turns, endpoint, chat, LLM first token, first sentence,
    # TTS first audio, first packet, total, errors, failed, no turns yet, no speech
    "en": ("Engines", "Last turn", "Last {n} turns (p50/p95)", "endpoint", "chat",
           "LLM 1st token", "1st sentence", "TTS 1st audio", "1st packet", "total", "errors",
           "failed", "Voice turns: none yet", "none"),
    "ko": ("엔진", "마지막 턴", "최근 {n}턴 (p50/p95)", "발화 종료 대기", "대화 준비",
           "LLM 첫 토큰", "첫 문장", "TTS 첫 오디오", "첫 패킷", "합계", "오류", "실패",
           "음성 턴: 아직 없음", "없음"),
    "ja": ("エンジン", "直近のターン", "直近{n}ターン (p50/p95)", "発話終了待ち", "会話準備",
           "LLM最初のトークン", "最初の文", "TTS最初の音声", "最初のパケット", "合計", "エラー",
           "失敗", "音声ターン: まだありません", "なし"),
    "zh-cn": ("引擎", "上一轮", "最近 {n} 轮 (p50/p95)", "结束等待", "对话准备",
              "LLM 首个 token", "首句", "TTS 首段音频", "首个数据包", "总计", "错误", "失败",
              "语音轮次:暂无", "无"),
    "zh-tw": ("引擎", "上一輪", "最近 {n} 輪 (p50/p95)", "結束等待", "對話準備",
              "LLM 首個 token", "首句", "TTS 首段音訊", "首個封包", "總計", "錯誤", "失敗",
              "語音輪次:尚無", "無"),
    "es": ("Motores", "Último turno", "Últimos {n} turnos (p50/p95)", "fin de habla", "chat",
           "LLM 1.er token", "1.ª frase", "TTS 1.er audio", "1.er paquete", "total", "errores",
           "falló", "Turnos de voz: ninguno aún", "ninguno"),
    "fr": ("Moteurs", "Dernier tour", "{n} derniers tours (p50/p95)", "fin de parole", "chat",
           "LLM 1er jeton", "1re phrase", "TTS 1er audio", "1er paquet", "total", "erreurs",
           "échec", "Tours vocaux : aucun pour l'instant", "aucun"),
    "de": ("Engines", "Letzte Runde", "Letzte {n} Runden (p50/p95)", "Sprechende", "Chat",
           "LLM 1. Token", "1. Satz", "TTS 1. Audio", "1. Paket", "gesamt", "Fehler",
           "fehlgeschlagen", "Sprachrunden: noch keine", "keine"),
    "ru": ("Движки", "Последняя реплика", "Последние {n} реплик (p50/p95)", "конец речи",
           "чат", "LLM 1-й токен", "1-е предложение", "TTS 1-й звук", "1-й пакет", "всего",
           "ошибки", "сбой", "Голосовые реплики: пока нет", "нет"),
    "pt": ("Motores", "Último turno", "Últimos {n} turnos (p50/p95)", "fim da fala", "chat",
           "LLM 1º token", "1ª frase", "TTS 1º áudio", "1º pacote", "total", "erros", "falhou",
           "Turnos de voz: nenhum ainda", "nenhum"),
    "it": ("Motori", "Ultimo turno", "Ultimi {n} turni (p50/p95)", "fine parlato", "chat",
           "LLM 1° token", "1ª frase", "TTS 1° audio", "1° pacchetto", "totale", "errori",
           "fallito", "Turni vocali: ancora nessuno", "nessuno"),
    "vi": ("Công cụ", "Lượt gần nhất", "{n} lượt gần đây (p50/p95)", "chờ kết thúc nói",
           "chat", "LLM token đầu", "câu đầu", "TTS âm thanh đầu", "gói đầu", "tổng", "lỗi",
           "thất bại", "Lượt thoại: chưa có", "không"),
}
LANGUAGES = frozenset(_LABELS)

_FIXED = {TurnStage.STT_FINAL: "STT", TurnStage.LIBRA: "Libra"}
"""Labels that read the same in every language."""


def labels(language: str) -> dict[str, str]:
    """The labels for ``language`` (``zh-tw``/``zh-cn`` kept apart; English otherwise)."""
    code = language.lower()
    if code not in _LABELS:
        code = "zh-cn" if code.startswith("zh") else code.split("-", maxsplit=1)[0]
    return dict(zip(_KEYS, _LABELS.get(code, _LABELS["en"]), strict=True))


def _stage_label(stage: TurnStage, words: dict[str, str]) -> str:
    return _FIXED.get(stage) or words[stage.value]


def format_status_lines(stats: TurnStats, language: str) -> list[str]:
    """Engines, the last turn's breakdown and the window's p50/p95 of total and Libra."""
    words = labels(language)
    last = stats.last
    if last is None:
        return [words["none"]]
    tts = f"`{last.tts}`" if last.tts else words["no_tts"]
    lines = [f"{words['engines']}: STT `{last.stt}` · TTS {tts}"]
    parts = [f"{_stage_label(s, words)} {value:.0f}" for s in BREAKDOWN
             if (value := getattr(last, f"{s.value}_ms")) is not None]
    line = f"{words['last']}: " + " · ".join(parts) + " ms"
    if last.total_ms is not None:
        line += f" → {words['total']} {last.total_ms:.0f} ms"
        if last.libra_ms is not None:
            line += f" (Libra {last.libra_ms:.0f} ms)"
    if last.error_code:
        line += f" · {words['failed']}: `{last.error_code}`"
    lines.append(line)
    summary = [f"{_stage_label(s, words) if s is TurnStage.LIBRA else words['total']} "
               f"{f.p50_ms:.0f}/{f.p95_ms:.0f} ms"
               for s in (TurnStage.TOTAL, TurnStage.LIBRA) if (f := stats.stage(s)) is not None]
    if stats.window_errors:
        summary.append(f"{words['errors']}: " + ", ".join(
            f"`{code}` {n}" for code, n in sorted(stats.window_errors.items())))
    if summary:
        lines.append(words["recent"].format(n=stats.window) + ": " + " · ".join(summary))
    return lines
