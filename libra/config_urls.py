"""Service URLs that carry passwords: checked once at config load, their passwords known.

Two drivers read ``DATABASE_URL``: asyncpg decodes it leniently, while libpq (psycopg,
under yoyo) refuses a space or a ``%`` that starts no escape, with an error that quotes
the password. Such characters are percent-encoded here, so both read the same
password. A ``/ ? #`` or ``@`` left unencoded in the user name or password cannot be
repaired: the URL's host part ends early and a piece of the password becomes the
host, the port or the path, so such a URL is refused with a hint instead, as is an
escape that the two drivers decode differently (``%00``, bytes that are no UTF-8).

:func:`redact_url` is the one place a URL is made safe to log or show.
"""

from __future__ import annotations

import re
from urllib.parse import (
    SplitResult,
    parse_qsl,
    quote,
    unquote,
    unquote_plus,
    unquote_to_bytes,
    urlencode,
    urlsplit,
    urlunsplit,
)

ENCODE_HINT = ("percent-encode them in the URL (/ as %2F, ? as %3F, # as %23, @ as %40, "
               "[ as %5B, ] as %5D)")

# A "%" that starts no %XX escape, and whitespace or control characters (urlsplit also
# silently drops tabs and newlines, which would change the password).
_LOOSE = re.compile(r"%(?![0-9A-Fa-f]{2})|[\s\x00-\x1f\x7f]")
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,30}")
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")


def authority_broken(url: str) -> bool:
    """Whether an unencoded ``/ ? #`` in the user or password ends the authority early.

    ``postgresql://u:pa/ss@h/db`` parses as host ``u``, port ``pa`` and a path holding
    the rest of the password, so neither the password nor the ``@`` is where it belongs.
    """
    parts = urlsplit(url)
    if "@" in parts.netloc:
        return False
    if "@" in parts.path or "@" in parts.fragment:
        return True
    try:
        parts.port  # noqa: B018 (raises for a password prefix parsed as the port)
    except ValueError:
        return "@" in parts.query
    return False  # e.g. ``?user=libra@server`` (Azure user names) is a valid URL


def _split(url: str) -> SplitResult:
    """``urlsplit(url)``; its "Invalid IPv6 URL" for a stray bracket made a useful error."""
    try:
        parts = urlsplit(url)
        authority_broken(url)
    except ValueError:
        raise ValueError("the host part has a [ or ] that does not enclose an IPv6 address "
                         f"(such as [::1]); in a user name or password, {ENCODE_HINT}"
                         ) from None
    return parts


def _check_authority(url: str) -> None:
    """Raise ValueError when the user name or password breaks the URL (never quoting it)."""
    netloc = _split(url).netloc
    if authority_broken(url) or netloc.count("@") > 1:
        raise ValueError("the user name or password holds an unencoded / ? # or @, so "
                         f"part of it would be read as the host, port or path; {ENCODE_HINT}")


def _check_port(parts: SplitResult) -> None:
    """Raise ValueError for a port that is no number from 0 to 65535 (one host only)."""
    if "," in parts.netloc.rpartition("@")[2]:
        return  # several hosts (host1:5432,host2:5433): urlsplit cannot read their ports
    try:
        parts.port  # noqa: B018 (raises for a port that is not a number, or too large)
    except ValueError:
        raise ValueError("the port is not a number between 0 and 65535") from None


def database_url(url: str) -> str:
    """``url`` with spaces, stray ``%`` and a query's ``+`` encoded, so asyncpg and libpq agree.

    Raises:
        ValueError: the user name or password breaks the URL (the message says how
            to fix it and never quotes the URL).
    """
    # Whitespace around it is no part of it (a CRLF env file leaves "\r" at the end).
    url = _LOOSE.sub(lambda match: quote(match.group(), safe=""), url.strip())
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in ("postgresql", "postgres"):
        # Not quoted: a key=value string holds the password in the clear.
        raise ValueError("it must be a URL starting with postgresql:// (e.g. "
                         "postgresql://user@host:5432/libra, password after user:)"
                         + (f", not {scheme}://" if _SCHEME.fullmatch(scheme) else ""))
    # In the query asyncpg reads "+" as a space (parse_qs) and libpq as "+" (so do psql
    # and pg_dump): written as %2B, it is "+" to both, e.g. in ?password=a+b.
    base, question, query = url.partition("?")
    url = base + question + query.replace("+", "%2B")
    _check_authority(url)
    _check_port(_split(url))
    # libpq decodes every escape to bytes that psycopg reads as UTF-8 (else a bare
    # UnicodeDecodeError) and refuses %00; asyncpg reads both as something else again.
    decoded = unquote_to_bytes(url)
    try:
        decoded.decode("utf-8")
    except UnicodeDecodeError:
        valid = False
    else:
        valid = b"\x00" not in decoded
    if not valid:
        raise ValueError("a %XX escape in it decodes to no UTF-8 text, or to %00: "
                         "percent-encode each character of the password as its UTF-8 bytes "
                         "(e.g. \u00e9 as %C3%A9)")
    return url


def redis_url(url: str) -> str:
    """``url`` unchanged once it is known to parse the way Redis clients read it.

    The scheme is left to the cache, which names the schemes it supports.

    Raises:
        ValueError: the password breaks the URL, or the port or database number is
            not a number (the message never quotes the URL).
    """
    _check_authority(url)
    parts = _split(url)
    _check_port(parts)
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise ValueError(f"the database number (the path) must be a whole number, "
                         f"such as redis://host:6379/0, not {database!r}")
    return url


def url_passwords(text: str) -> list[str]:
    """The passwords of every URL in ``text``, as written and decoded.

    Libraries quote a password either way in their errors (libpq the decoded form,
    a URL in a traceback the encoded one), so the redactor needs both. Covers the
    user-info password, a ``?password=`` parameter, and a password that breaks its URL;
    not a password equal to its URL's user name, which is no secret in any output.
    """
    found: list[str] = []
    # A whole value that is a URL is taken whole: it may hold a space the scan stops at.
    urls = [text] if _URL_IN_TEXT.match(text) else _URL_IN_TEXT.findall(text)
    for url in urls:
        user: str | None
        if authority_broken(url):
            user, _, password_part = url.partition("://")[2].rpartition("@")[0].partition(":")
            password: str | None = password_part or None
        else:
            try:
                parts = urlsplit(url)
                user, password = parts.username, parts.password
            except ValueError:
                user = password = None
        # A password that is the user name is shown wherever the user name is (by
        # design): masking it blanked every "libra" or "postgres" in every message.
        if password and unquote(password) != unquote(user or ""):
            found += [password, unquote(password)]
        query = url.partition("?")[2].partition("#")[0]
        for pair in query.split("&"):
            key, _, value = pair.partition("=")
            if unquote_plus(key) == "password" and value:
                found += [value, unquote(value), unquote_plus(value)]
    return list(dict.fromkeys(found))


def redact_url(url: str, *, mask: str = "***", keep_user: bool = True) -> str:
    """``url`` with its password replaced by ``mask``, safe to log or show.

    Covers the user-info password and a ``?password=`` parameter (libpq and asyncpg
    take either). A password that breaks the URL (see :func:`authority_broken`) is
    masked up to the last ``@``: masking too much beats printing a password as a host
    or path. ``keep_user=False`` drops the whole user info instead.
    """
    if authority_broken(url):
        scheme, _, rest = url.partition("://")
        userinfo, _, host_part = rest.rpartition("@")
        user = quote(userinfo.split(":", 1)[0], safe="")
        url = f"{scheme}://{user}:{mask}@{host_part}"
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket: nothing can be shown safely
        return mask
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key.lower() == "password" for key, _ in query):
        query = [(key, mask if key.lower() == "password" else value) for key, value in query]
        parts = parts._replace(query=urlencode(query, quote_via=quote, safe="*"))
    if "@" in parts.netloc:
        userinfo, _, host = parts.netloc.rpartition("@")
        if not keep_user:
            parts = parts._replace(netloc=host)
        elif parts.password is not None:
            parts = parts._replace(netloc=f"{userinfo.partition(':')[0]}:{mask}@{host}")
    return urlunsplit(parts)
