"""HTML of the operator pages: no scripts, no external assets, every value escaped.

Charts are inline SVG drawn here, so the strict Content-Security-Policy
(``default-src 'none'; style-src 'self'``) holds and nothing is fetched from a CDN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .translations import TranslationFigures

from libra.cluster.api import InstanceRecord

STYLESHEET = """
body{font:15px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#243b53;color:#fff;padding:.8em 1.5em;display:flex;align-items:center;
gap:1em}header h1{font-size:1.2em;margin:0;flex:1}main{padding:1em 1.5em;max-width:980px}
section{background:#fff;border-radius:8px;padding:1em 1.2em;margin-bottom:1em;
box-shadow:0 1px 2px #0002}h2{font-size:1.05em;margin:.2em 0 .6em}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3em .5em;
border-bottom:1px solid #e4e7eb}.ok{color:#1b7f3b}.degraded{color:#b7791f}
.down{color:#c53030}.off{color:#718096}form.inline{display:inline}
button{background:#334e68;color:#fff;border:0;border-radius:4px;padding:.4em .9em;cursor:pointer}
input{padding:.4em;border:1px solid #bcccdc;border-radius:4px;width:100%;box-sizing:border-box}
.login{max-width:320px;margin:4em auto}.login label{display:block;margin:.6em 0 .2em}
.error{color:#c53030;margin:.5em 0}.muted{color:#627d98}
.wide{overflow-x:auto}.wide table{font-size:13px}.wide td{white-space:nowrap}
h3{font-size:.95em;margin:.8em 0 .4em}
"""


def _doc(title: str, body: str) -> str:
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width\">"
            f"<title>{escape(title)}</title>"
            "<link rel=\"stylesheet\" href=\"/admin/static/admin.css\"></head>"
            f"<body>{body}</body></html>")


def login_page(csrf: str, error: str | None = None) -> str:
    """The login form (``csrf`` is bound to the browser's login cookie)."""
    message = f'<p class="error" id="login-error">{escape(error)}</p>' if error else ""
    return _doc("Libra admin: sign in", (
        '<main class="login"><section><h2>Libra admin</h2>'
        f"{message}"
        '<form method="post" action="/admin/login" id="login-form">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        '<label for="operator">Operator</label>'
        '<input id="operator" name="operator" autocomplete="username" required>'
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" '
        'autocomplete="current-password" required>'
        '<p><button type="submit" id="login-button">Sign in</button></p>'
        "</form></section></main>"))


def bar_chart(rows: list[tuple[str, float | None, float | None]], unit: str = "ms",
              chart_id: str = "latency-chart") -> str:
    """Horizontal p50/p95 bars per label, as inline SVG (``chart_id`` unique per page)."""
    width, label_w, row_h = 640, 150, 34
    peak = max([v for _, a, b in rows for v in (a, b) if v is not None] or [1.0])
    height = row_h * max(len(rows), 1) + 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="latency per stage" id="{escape(chart_id)}">']
    for i, (label, p50, p95) in enumerate(rows):
        y = i * row_h + 4
        parts.append(f'<text x="0" y="{y + 16}" font-size="13">{escape(label)}</text>')
        for j, (value, colour) in enumerate(((p50, "#2f855a"), (p95, "#c05621"))):
            if value is None:
                continue
            w = max(1.0, (width - label_w - 90) * value / peak)
            parts.append(f'<rect x="{label_w}" y="{y + j * 13}" width="{w:.1f}" height="11" '
                         f'fill="{colour}"/>')
            parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + j * 13 + 10}" '
                         f'font-size="11">{value:.0f} {unit}</text>')
    parts.append(f'<text x="{label_w}" y="{height - 4}" font-size="11" fill="#627d98">'
                 "green = p50, orange = p95</text></svg>")
    return "".join(parts)


def sparkline(values: list[int], width: int = 160, height: int = 28) -> str:
    """A small inline-SVG line of daily values."""
    if not values:
        return ""
    peak = max(values) or 1
    step = width / max(len(values) - 1, 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - (height - 4) * v / peak:.1f}"
                      for i, v in enumerate(values))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
            f'<polyline points="{points}" fill="none" stroke="#334e68" stroke-width="2"/></svg>')


@dataclass(slots=True)
class StatusView:
    """What the status page shows."""

    operator: str
    csrf: str
    ready: bool
    components: list[dict[str, Any]]
    models: list[tuple[str, bool, str]] | None
    stages: list[tuple[str, float | None, float | None]]
    usage: list[tuple[str, int, int, list[int]]] | None
    """(guild, calls, tokens, calls per day) or ``None`` when the database is down."""
    notice: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    voice: dict[str, Any] | None = None
    """Recent voice turns (``LatencyBoard.summary``); ``None``: voice is off."""
    translations: TranslationFigures | None = None
    """Volume per language pair and glossaries (``None``: not available)."""
    instances: list[InstanceRecord] | None = None
    """The bot's live instances; ``None`` for a single process (no section)."""
    instances_error: str | None = None
    """Why the instance list is unavailable (Redis failed)."""


def _health_rows(components: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{escape(str(c['name']))}{' *' if c['required'] else ''}</td>"
        f"<td class=\"{escape(str(c['status']))}\">{escape(str(c['status']))}</td>"
        f"<td>{escape(str(c['detail'] or ''))}</td>"
        f"<td class=\"muted\">{escape(str(c['fix'] or ''))}</td></tr>"
        for c in components)
    return rows or '<tr><td colspan="4" class="muted">no components registered</td></tr>'


def _translation_section(figures: TranslationFigures | None) -> str:
    """Translations per language pair (last 7 days) and every guild's glossary."""
    if figures is None:
        return ('<section id="translations"><h2>Translations</h2>'
                '<p class="muted">translation figures are unavailable (the database is not '
                "running)</p></section>")
    if figures.pairs:
        pairs = ('<table id="translation-pairs"><tr><th>From</th><th>Into</th>'
                 "<th>Translations</th></tr>" + "".join(
                     f"<tr><td>{escape(p.source_language)}</td>"
                     f"<td>{escape(p.target_language)}</td><td>{p.translations}</td></tr>"
                     for p in figures.pairs) + "</table>")
    else:
        pairs = '<p class="muted">no translations yet</p>'
    if figures.glossary:
        keep = '<span class="muted">never translated</span>'
        glossary = ('<table id="glossary"><tr><th>Guild</th><th>Term</th><th>Language</th>'
                    "<th>Becomes</th></tr>" + "".join(
                        f"<tr><td>{g.guild_id}</td><td>{escape(g.term)}</td>"
                        f"<td>{escape(g.language or 'every language')}</td>"
                        f"<td>{keep if g.rendering is None else escape(g.rendering)}</td></tr>"
                        for g in figures.glossary) + "</table>")
    else:
        glossary = '<p class="muted">no guild has a glossary</p>'
    return ('<section id="translations"><h2>Translations per language pair (last 7 days)</h2>'
            f"{pairs}<h2>Glossaries</h2>{glossary}</section>")


def _instances_section(view: StatusView) -> str:
    if view.instances_error is not None:
        return ('<section><h2>Instances</h2><p class="down">unavailable: '
                f"{escape(view.instances_error)}</p></section>")
    if view.instances is None:
        return ""
    rows = "".join(
        f"<tr><td>{escape(r.name)}</td><td>{escape(r.shards)}</td><td>{r.guilds}</td>"
        f"<td>{r.llm_active}</td><td>{r.age:.0f} s ago</td></tr>" for r in view.instances)
    return ('<section><h2 id="instances-title">Instances</h2><table><tr><th>Instance</th>'
            "<th>Shards</th><th>Guilds</th><th>LLM requests</th><th>Heartbeat</th></tr>"
            f"{rows}</table></section>")


def status_page(view: StatusView) -> str:
    """The operator's status page."""
    state = "ready" if view.ready else "not ready"
    if view.models is None:
        models = '<p class="muted">the LLM service is not running</p>'
    else:
        models = "<table><tr><th>Model</th><th>State</th><th></th></tr>" + "".join(
            f"<tr><td>{escape(m)}</td><td class=\"{'ok' if r else 'down'}\">"
            f"{'warm' if r else 'cold'}</td><td class=\"muted\">{escape(d)}</td></tr>"
            for m, r, d in view.models) + "</table>"
    if view.usage is None:
        usage = '<p class="muted">the database is not running</p>'
    else:
        usage = ("<table><tr><th>Guild</th><th>Calls</th><th>Tokens</th><th>Per day</th></tr>"
                 + "".join(f"<tr><td>{escape(g)}</td><td>{c}</td><td>{t}</td>"
                           f"<td>{sparkline(days)}</td></tr>" for g, c, t, days in view.usage)
                 + "</table>") if view.usage else '<p class="muted">no usage yet</p>'
    notice = f'<p class="ok" id="notice">{escape(view.notice)}</p>' if view.notice else ""
    csrf = f'<input type="hidden" name="csrf" value="{escape(view.csrf)}">'
    return _doc("Libra admin", (
        f"<header><h1>Libra admin</h1><span>{escape(view.operator)}</span>"
        f'<form class="inline" method="post" action="/admin/logout">{csrf}'
        '<button type="submit" id="logout-button">Sign out</button></form></header><main>'
        f"{notice}"
        f'<section><h2 id="health-title">Health: <span class="{"ok" if view.ready else "down"}">'
        f"{state}</span></h2><table><tr><th>Component</th><th>Status</th><th>Detail</th>"
        f"<th>Fix</th></tr>{_health_rows(view.components)}</table>"
        '<p class="muted">* required for readiness</p></section>'
        f"{_instances_section(view)}"
        f"<section><h2>Models</h2>{models}</section>"
        f"<section><h2>Reply latency per stage</h2>{bar_chart(view.stages)}</section>"
        f"{voice_section(view.voice)}"
        f"<section><h2>Usage per guild (last 7 days)</h2>{usage}</section>"
        f"{_translation_section(view.translations)}"
        '<section><h2>Cache</h2><form method="post" action="/admin/flush">'
        f'{csrf}<button type="submit" id="flush-button">Flush the LLM cache</button></form>'
        "</section></main>"))


VOICE_COLUMNS = (("endpoint", "endpoint"), ("stt_final", "STT final"), ("chat", "chat"),
                 ("llm_first_token", "LLM first token"), ("first_sentence", "first sentence"),
                 ("tts_first_audio", "TTS first audio"), ("first_packet", "first packet sent"),
                 ("total", "total"), ("libra", "Libra's share"))
"""Voice turn figures in pipeline order, with the words the page shows for them."""


def _ms_cell(value: Any) -> str:
    return "<td>-</td>" if value is None else f"<td>{float(value):.0f}</td>"


def voice_section(voice: dict[str, Any] | None) -> str:
    """The voice latency section: p50/p95 per stage and the last turns' breakdown.

    Empty when voice is off; one muted line before the first turn.
    """
    if voice is None:
        return ""
    title = '<section id="voice-latency"><h2>Voice turn latency</h2>'
    if not voice["turns"]:
        return title + '<p class="muted">no voice turns yet</p></section>'
    names = dict(VOICE_COLUMNS)
    rows = [(names.get(s["stage"], s["stage"]), s["p50_ms"], s["p95_ms"])
            for s in voice["stages"]]
    errors = ", ".join(f"{escape(code)} {n}" for code, n in sorted(voice["errors"].items()))
    engines = "; ".join(
        f"{kind.upper()}: " + ", ".join(f"{escape(name)} ({n})" for name, n in used.items())
        for kind, used in voice["engines"].items() if used)
    head = "".join(f"<th>{escape(label)}</th>" for _, label in VOICE_COLUMNS)
    turns = "".join(
        f"<tr><td>{float(t['age_s']):.0f} s ago</td>"
        f"<td>{escape(str(t['guild_id'] if t['guild_id'] is not None else '-'))}</td>"
        + "".join(_ms_cell(t["stages"].get(key)) for key, _ in VOICE_COLUMNS)
        + f"<td class=\"{'down' if t['error_code'] else 'ok'}\">"
        f"{escape(t['error_code'] or 'ok')}</td></tr>"
        for t in voice["recent"])
    return (
        f"{title}<p id=\"voice-summary\">{voice['turns']} turns since start, "
        f"errors: {errors or 'none'}; p50/p95 per stage over the last {voice['window']}</p>"
        f'<p class="muted" id="voice-engines">{engines}</p>'
        f'{bar_chart(rows, chart_id="voice-latency-chart")}'
        '<h3>Last turns (ms)</h3><div class="wide"><table id="voice-turns">'
        f"<tr><th>When</th><th>Guild</th>{head}<th>Outcome</th></tr>{turns}</table></div>"
        "</section>")
