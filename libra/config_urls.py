"""Service URLs that carry passwords: checked once at config load, their passwords known.

Two drivers read ``DATABASE_URL``: asyncpg decodes it leniently, while libpq (psycopg,
under yoyo) refuses a space or a ``%`` that starts no escape, with an error that quotes
the password. Such characters are percent-encoded here, so both read the same
password. A ``/ ? #`` or ``@`` left unencoded in the user name or password cannot be
repaired: the URL's host part ends early and a piece of the password becomes the
host, the port or the path, so such a URL is refused with a hint instead.

:func:`redact_url` is the one place a URL is made safe to log or show.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, unquote_plus, urlencode, urlsplit, urlunsplit

ENCODE_HINT = "percent-encode them in the URL (/ as %2F, ? as %3F, # as %23, @ as %40)"

# A "%" that starts no %XX escape, and whitespace or control characters (urlsplit also
# silently drops tabs and newlines, which would change the password).
_LOOSE = re.compile(r"%(?![0-9A-Fa-f]{2})|[\s\x00-\x1f\x7f]")
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


def _check_authority(url: str) -> None:
    """Raise ValueError when the user name or password breaks the URL (never quoting it)."""
    if authority_broken(url) or urlsplit(url).netloc.count("@") > 1:
        raise ValueError("the user name or password holds an unencoded / ? # or @, so "
                         f"part of it would be read as the host, port or path; {ENCODE_HINT}")


def database_url(url: str) -> str:
    """``url`` with spaces and stray ``%`` encoded, so asyncpg and libpq agree.

    Raises:
        ValueError: the user name or password breaks the URL (the message says how
            to fix it and never quotes the URL).
    """
    url = _LOOSE.sub(lambda match: quote(match.group(), safe=""), url)
    _check_authority(url)
    return url


def redis_url(url: str) -> str:
    """``url`` unchanged once it is known to parse the way Redis clients read it.

    The scheme is left to the cache, which names the schemes it supports.

    Raises:
        ValueError: the password breaks the URL, or the port or database number is
            not a number (the message never quotes the URL).
    """
    _check_authority(url)
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 (raises for a port that is not a number)
    except ValueError:
        raise ValueError("the port is not a number between 0 and 65535") from None
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise ValueError(f"the database number (the path) must be a whole number, "
                         f"such as redis://host:6379/0, not {database!r}")
    return url


def url_passwords(text: str) -> list[str]:
    """The passwords of every URL in ``text``, as written and decoded.

    Libraries quote a password either way in their errors (libpq the decoded form,
    a URL in a traceback the encoded one), so the redactor needs both. Covers the
    user-info password, a ``?password=`` parameter, and a password that breaks its URL.
    """
    found: list[str] = []
    # A whole value that is a URL is taken whole: it may hold a space the scan stops at.
    urls = [text] if _URL_IN_TEXT.match(text) else _URL_IN_TEXT.findall(text)
    for url in urls:
        if authority_broken(url):
            userinfo = url.partition("://")[2].rpartition("@")[0]
            password: str | None = userinfo.partition(":")[2] or None
        else:
            try:
                password = urlsplit(url).password
            except ValueError:
                password = None
        if password:
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
