"""The operator page in headless Chromium: login, CSRF, throttling, and a screenshot."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import bcrypt
import pytest

from libra.events import LLMCallFinished, ReplyFinished
from libra.health import Status
from libra.storage.db import Database
from libra.storage.repositories import PgStorage
from libra.storage.stats import DatabaseUsageStats

from .conftest import StartAdmin
from .harness import ok_check
from .test_voice_latency import voice_turn

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PASSWORD = "correct horse battery staple"
DOCS_SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "admin-page.png"


def _browser_missing() -> str | None:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        return ("chromium/chromium-driver not installed "
                "(apt-get install -y chromium chromium-driver)")
    return None


def _drive(base: str, profile: Path, shots: Path) -> dict[str, str]:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1100,1250",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    seen: dict[str, str] = {}
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(20)

        def click_and_wait(element_id: str) -> None:
            # Mark the current document, then wait for a loaded document without the mark.
            # Selenium's staleness_of polls the old element, and chromedriver sometimes
            # answers that poll mid-navigation with an "inspector error" instead of a
            # stale-element error, which failed CI once.
            driver.execute_script("document.documentElement.dataset.leaving = '1'")
            driver.find_element(By.ID, element_id).click()
            WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(
                lambda d: d.execute_script(
                    "return document.readyState === 'complete'"
                    " && document.documentElement.dataset.leaving === undefined"))

        def sign_in(operator: str, password: str) -> None:
            driver.find_element(By.ID, "operator").clear()
            driver.find_element(By.ID, "operator").send_keys(operator)
            driver.find_element(By.ID, "password").send_keys(password)
            click_and_wait("login-button")

        driver.get(base + "/admin")
        seen["redirected_to"] = driver.current_url
        sign_in("ops", "wrong password")
        seen["wrong_password"] = driver.find_element(By.ID, "login-error").text
        driver.get(base + "/admin/login")
        sign_in("ops", PASSWORD)
        seen["after_login"] = driver.current_url
        seen["health"] = driver.find_element(By.ID, "health-title").text
        seen["chart_bars"] = str(len(driver.find_elements(By.CSS_SELECTOR,
                                                          "#latency-chart rect")))
        seen["voice_bars"] = str(len(driver.find_elements(By.CSS_SELECTOR,
                                                          "#voice-latency-chart rect")))
        seen["voice_turns"] = str(len(driver.find_elements(By.CSS_SELECTOR,
                                                           "#voice-turns tr")))
        seen["translation_pairs"] = "|".join(
            row.text for row in driver.find_elements(By.CSS_SELECTOR, "#translation-pairs tr"))
        seen["glossary"] = "|".join(
            row.text for row in driver.find_elements(By.CSS_SELECTOR, "#glossary tr"))
        seen["cookie_flags"] = ",".join(sorted(
            f"{c['name']}:{c.get('httpOnly')}:{c.get('sameSite')}"
            for c in driver.get_cookies()))
        driver.save_screenshot(str(shots / "admin-page.png"))

        # A forged form (wrong CSRF token) must not flush anything.
        driver.execute_script(
            "document.querySelector('form[action=\"/admin/flush\"] input[name=csrf]')"
            ".value = '0'.repeat(64)")
        click_and_wait("flush-button")
        seen["forged_flush"] = driver.find_element(By.TAG_NAME, "body").text
        driver.get(base + "/admin")
        click_and_wait("flush-button")
        seen["flush"] = driver.find_element(By.ID, "notice").text

        click_and_wait("logout-button")
        seen["after_logout"] = driver.current_url
        for _ in range(4):  # one past the limit of 3
            sign_in("ops", "still wrong")
        seen["throttled"] = driver.find_element(By.ID, "login-error").text
        driver.save_screenshot(str(shots / "throttled.png"))
        # Failures are throttled, the operator is not: the right password still gets in.
        sign_in("ops", PASSWORD)
        seen["after_throttled_login"] = driver.current_url
    finally:
        driver.quit()
    return seen


async def test_operator_page_in_headless_chromium(start_admin: StartAdmin, tmp_path: Path,
                                                  database: Database) -> None:
    missing = _browser_missing()
    if missing:
        print(f"SKIPPED browser test: {missing}")
        pytest.skip(missing)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    h = await start_admin(parts=("llm",), operator_password_hashes={"ops": hashed},
                          failed_auth_limit=3, cookie_secure=True,
                          usage=DatabaseUsageStats(lambda: database),
                          translations=PgStorage(database.pool))
    for name in ("database", "migrations", "llm"):
        h.health.register(name, ok_check(name))
    h.health.register("discord", ok_check("discord", Status.OFF))
    h.health.register("voice", ok_check("voice", Status.DEGRADED))
    await database.pool.executemany(
        "INSERT INTO llm_calls (model, guild_id, prompt_tokens, completion_tokens, latency_ms, "
        "first_token_ms, created_at) "
        "VALUES ($1, $2, 50, 80, 900, 250, now() - make_interval(days => $3))",
        [("llama3", 1234567890 + g, d) for g in range(2) for d in range(7)
         for _ in range(g + d % 3 + 1)])
    for first, total in ((180, 900), (240, 1400), (320, 2100), (900, 4000)):
        await h.app.bus.emit(ReplyFinished(channel_id=1, text="x", language="en",
                                           model="llama3", first_token_ms=first,
                                           total_ms=total))
        await h.app.bus.emit(LLMCallFinished(model="llama3", language="en", prompt_tokens=5,
                                             completion_tokens=5, first_token_ms=first,
                                             latency_ms=total, cache_hit=False))
    for total in (0.9, 1.3):
        await h.app.bus.emit(voice_turn(total))
    store = PgStorage(database.pool)
    user = await store.ensure_user(555)
    for source, target, count in (("en", "ko", 4), ("ko", "en", 2)):
        for _ in range(count):
            await store.record_translation(user_id=user.id, source_language=source,
                                           target_language=target, source_text="a",
                                           translated_text="b", model="llama3", guild_id=1)
    await store.save_glossary_entry(1234567890, term="Libra", language=None, rendering=None,
                                    created_by=555, max_entries=50)
    shots = tmp_path / "shots"
    shots.mkdir()
    seen = await asyncio.to_thread(_drive, h.url, tmp_path / "profile", shots)

    assert seen["redirected_to"] == h.url + "/admin/login"
    assert seen["wrong_password"] == "Wrong operator name or password."
    assert seen["after_login"] == h.url + "/admin"
    assert seen["health"] == "Health: ready"
    assert int(seen["chart_bars"]) == 4  # p50 and p95 for two stages
    assert int(seen["voice_bars"]) == 18  # p50 and p95 for 7 stages, total and Libra's share
    assert int(seen["voice_turns"]) == 3  # the heading and two turns
    assert seen["translation_pairs"] == "From Into Translations|en ko 4|ko en 2"
    assert seen["glossary"] == ("Guild Term Language Becomes|"
                                "1234567890 Libra every language never translated")
    # The session, and the device cookie that puts this browser first in a sign-in flood.
    assert seen["cookie_flags"] == ("libra_admin_device:True:Strict,"
                                    "libra_admin_session:True:Strict")
    assert '"error": "csrf_invalid"' in seen["forged_flush"]
    assert seen["flush"] == "Cache flushed (0 entries)."
    assert seen["after_logout"] == h.url + "/admin/login"
    assert seen["throttled"].startswith("Too many failed sign-ins.")
    assert seen["after_throttled_login"] == h.url + "/admin"
    screenshot = shots / "admin-page.png"
    assert screenshot.stat().st_size > 10_000
    # A test run must not dirty the checkout: the docs picture is refreshed on request.
    if os.environ.get("LIBRA_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(screenshot, DOCS_SCREENSHOT)
