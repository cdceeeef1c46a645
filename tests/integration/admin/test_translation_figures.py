"""The operator sees translation volume per language pair and every guild's glossary.

Over a migrated database: translations and glossary entries written through the real
storage show in ``/api/stats`` and on the status page (escaped), and a database that
is gone leaves the page up with the section marked unavailable.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import bcrypt

from libra.storage.db import Database
from libra.storage.repositories import PgStorage
from libra.storage.stats import DatabaseUsageStats

from .conftest import StartAdmin
from .harness import AdminHarness

PASSWORD = "correct horse battery staple"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
GUILD = 4242


async def _fill(store: PgStorage) -> None:
    for source, target, count in (("en", "ko", 3), ("ko", "en", 2), ("ja", "en", 1)):
        for n in range(count):
            user = await store.ensure_user(7000 + n)
            await store.record_translation(user_id=user.id, source_language=source,
                                           target_language=target, source_text=f"t{n}",
                                           translated_text=f"u{n}", model="m",
                                           guild_id=GUILD, channel_id=1)
    await store.save_glossary_entry(GUILD, term="Libra", language=None, rendering=None,
                                    created_by=1, max_entries=50)
    await store.save_glossary_entry(GUILD, term="<raid>", language="ko", rendering="레이드",
                                    created_by=1, max_entries=50)


async def _status_page(h: AdminHarness) -> str:
    page = await h.request("GET", "/admin/login", auth=False)
    login_cookie = f"libra_admin_login={page.cookies['libra_admin_login'].value}"
    csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.body.decode())
    assert csrf
    form = urlencode({"csrf": csrf.group(1), "operator": "ops", "password": PASSWORD})
    signed = await h.request("POST", "/admin/login", auth=False, body=form.encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": login_cookie})
    session = f"libra_admin_session={signed.cookies['libra_admin_session'].value}"
    status = await h.request("GET", "/admin", auth=False, headers={"Cookie": session})
    assert status.status == 200
    return status.body.decode()


async def test_volume_per_pair_and_glossaries_in_the_api_and_on_the_page(
        start_admin: StartAdmin, database: Database) -> None:
    store = PgStorage(database.pool)
    await _fill(store)
    h = await start_admin(usage=DatabaseUsageStats(lambda: database), translations=store,
                          operator_password_hashes={"ops": HASH})

    data = (await h.request("GET", "/api/stats?days=7")).json()
    assert data["translations"]["pairs"] == [
        {"source_language": "en", "target_language": "ko", "translations": 3},
        {"source_language": "ko", "target_language": "en", "translations": 2},
        {"source_language": "ja", "target_language": "en", "translations": 1},
    ]
    assert data["translations"]["glossary"] == [
        {"guild_id": GUILD, "term": "<raid>", "language": "ko", "rendering": "레이드"},
        {"guild_id": GUILD, "term": "Libra", "language": None, "rendering": None},
    ]

    html = await _status_page(h)
    pairs = re.search(r'<table id="translation-pairs">(.*?)</table>', html)
    assert pairs, html
    rows = re.findall(r"<tr><td>(\w+)</td><td>(\w+)</td><td>(\d+)</td></tr>", pairs.group(1))
    assert rows == [("en", "ko", "3"), ("ko", "en", "2"), ("ja", "en", "1")]
    glossary = re.search(r'<table id="glossary">(.*?)</table>', html)
    assert glossary, html
    assert "&lt;raid&gt;" in glossary.group(1) and "<raid>" not in glossary.group(1)
    assert "레이드" in glossary.group(1) and "never translated" in glossary.group(1)


async def test_the_page_stays_up_when_translation_figures_cannot_be_read(
        start_admin: StartAdmin, database: Database) -> None:
    store = PgStorage(database.pool)
    h = await start_admin(usage=DatabaseUsageStats(lambda: database), translations=store,
                          operator_password_hashes={"ops": HASH})
    await database.pool.execute("DROP TABLE glossary_entries")  # the query now fails

    reply = await h.request("GET", "/api/stats?days=7")
    assert reply.status == 200 and reply.json()["translations"] is None
    html = await _status_page(h)
    assert "translation figures are unavailable" in html
