from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from libra.config import Settings
from libra.config_sources import load_settings
from libra.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "libra.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.database.url is None
    assert settings.llm.cache_ttl == 300
    assert settings.chat.max_input_chars == 4000
    assert settings.admin.port is None
    assert settings.admin.host == "127.0.0.1"


def test_precedence_defaults_file_env(tmp_path: Path) -> None:
    path = write(tmp_path,
                 '[llm]\ntemperature = 0.2\nnum_ctx = 8192\n[chat]\nmax_input_chars = 100\n')
    settings = load_settings(path, env={"LIBRA_LLM__TEMPERATURE": "0.9"})
    assert settings.llm.temperature == 0.9  # env beats file
    assert settings.llm.num_ctx == 8192  # file beats default
    assert settings.chat.max_input_chars == 100
    assert settings.llm.num_predict == 512  # default


def test_conventional_names_and_libra_names(tmp_path: Path) -> None:
    settings = load_settings(env={
        "DATABASE_URL": "postgresql://u:p@db/libra",
        "REDIS_URL": "redis://cache:6379/0",
        "DISCORD_TOKEN": "abc.def.ghi",
        "LIBRA_DATA_DIR": str(tmp_path),
        "LIBRA_DISCORD__GUILD_IDS": "1, 2,3",
        "LIBRA_LLM__ROUTES": '{"ko": "qwen2.5:7b-instruct"}',
        "LIBRA_LLM__SERVERS": '["http://a:11434", "http://b:11434"]',
    })
    assert settings.database.url is not None
    assert settings.database.url.get_secret_value() == "postgresql://u:p@db/libra"
    assert settings.redis.url is not None
    assert settings.discord.token is not None
    assert settings.app.data_dir == tmp_path
    assert settings.discord.guild_ids == (1, 2, 3)
    assert settings.llm.routes == {"ko": "qwen2.5:7b-instruct"}
    assert settings.llm.servers == ("http://a:11434", "http://b:11434")


def test_libra_name_wins_over_conventional_name() -> None:
    settings = load_settings(env={"DATABASE_URL": "postgresql://a@x/one",
                                  "LIBRA_DATABASE__URL": "postgresql://a@x/two"})
    assert settings.database.url is not None
    assert settings.database.url.get_secret_value().endswith("/two")


def test_secrets_from_files(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("file.token.value\n", encoding="utf-8")
    secret = tmp_path / "admin"
    secret.write_text("s" * 40, encoding="utf-8")
    settings = load_settings(env={"DISCORD_TOKEN_FILE": str(token),
                                  "LIBRA_ADMIN__SECRET_FILE": str(secret)})
    assert settings.discord.token is not None
    assert settings.discord.token.get_secret_value() == "file.token.value"
    assert settings.admin.secret is not None
    assert settings.admin.secret.get_secret_value() == "s" * 40


def test_missing_secret_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"DISCORD_TOKEN_FILE=.*nope.*No such file"):
        load_settings(env={"DISCORD_TOKEN_FILE": str(tmp_path / "nope")})


def test_only_secrets_come_from_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="only secrets can be read from files"):
        load_settings(env={"LIBRA_LLM__TEMPERATURE_FILE": str(tmp_path)})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LIBRA_LLM__TEMPERATURE": "hot"},
         "invalid setting llm.temperature = 'hot' from environment variable "
         "LIBRA_LLM__TEMPERATURE: Input should be a valid number"),
        ({"LIBRA_LLM__BACKEND": "gpt"},
         "llm.backend = 'gpt' from environment variable LIBRA_LLM__BACKEND: "
         "Input should be 'ollama', 'openai' or 'embedded'"),
        ({"LIBRA_ADMIN__PORT": "70000"}, "admin.port = '70000'"),
        ({"LIBRA_LLM__TEMPRATURE": "1"}, "unknown setting llm.temprature"),
        ({"LIBRA_LLM__ROUTES": "ko=qwen"}, "expected a JSON object"),
    ],
)
def test_invalid_values_name_key_source_and_allowed(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env=env)
    assert message in str(info.value)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = write(tmp_path, "[llm]\nnum_ctx = 'big'\n")
    with pytest.raises(ConfigError, match=rf"llm.num_ctx = 'big' from config file {bad}"):
        load_settings(bad, env={})
    unknown = write(tmp_path, "[lm]\nx = 1\n")
    with pytest.raises(ConfigError, match="unknown setting lm"):
        load_settings(unknown, env={})
    broken = write(tmp_path, "[llm\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, env={})


def test_invalid_secret_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env={"LIBRA_ADMIN__SECRET": "x", "LIBRA_ADMIN__PORT": "nope"})
    assert "<secret>" not in str(info.value) or "'x'" not in str(info.value)


def test_settings_are_frozen_and_documented() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.llm.temperature = 1.0  # type: ignore[misc]
    for section_name, section in Settings.model_fields.items():
        assert section.description, section_name
        model = section.annotation
        assert model is not None
        for name, field in model.model_fields.items():  # type: ignore[union-attr]
            assert field.description, f"{section_name}.{name} has no docstring"


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None
            ) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run([sys.executable, "-m", "libra", *args], capture_output=True,
                          text=True, env={**base, **(env or {})}, cwd=cwd, check=False)


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    result = run_cli("config", "show", env={
        "DATABASE_URL": "postgresql://libra:hunter2hunter2@db/libra",
        "DISCORD_TOKEN": "MTIzNDU2Nzg5MDEy.abcdef.ghijklmnopqrstuvwxyz0123",
        "LIBRA_ADMIN__SECRET": "z" * 40,
    }, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout
    assert "ghijklmnop" not in result.stdout
    assert "z" * 40 not in result.stdout
    assert result.stdout.count('"********"') == 3


def test_invalid_config_exits_2_with_a_message(tmp_path: Path) -> None:
    result = run_cli("config", "show", env={"LIBRA_CHAT__MAX_INPUT_CHARS": "0"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "chat.max_input_chars" in result.stderr
    assert "LIBRA_CHAT__MAX_INPUT_CHARS" in result.stderr
    assert "greater than or equal to 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_example_config_is_current_and_loads_to_the_defaults() -> None:
    from libra.config_example import render_example

    path = Path(__file__).resolve().parents[3] / "config" / "libra.example.toml"
    assert path.read_text(encoding="utf-8") == render_example(), (
        "config/libra.example.toml is stale: run `libra config example > "
        "config/libra.example.toml`"
    )
    assert load_settings(path, env={}) == Settings()


@pytest.mark.parametrize(
    ("toml", "env_name"),
    [
        ('[discord]\ntoken = "abc.def.ghi"\n', "DISCORD_TOKEN"),
        ('[database]\nurl = "postgresql://libra:pw@db/libra"\n', "DATABASE_URL"),
        ('[database]\nurl = "postgresql://libra@db/libra?password=pw"\n', "DATABASE_URL"),
        ('[admin]\nsecret = "' + "s" * 40 + '"\n', "LIBRA_ADMIN__SECRET"),
        ('[llm]\napi_key = "sk-1"\n', "LIBRA_LLM__API_KEY"),
    ],
)
def test_secrets_are_refused_in_config_files(tmp_path: Path, toml: str, env_name: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, toml), env={})
    assert f"set {env_name} or {env_name}_FILE" in str(info.value)
    assert "pw" not in str(info.value) and "abc.def" not in str(info.value)


def test_a_database_url_without_a_password_may_live_in_the_file(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, '[database]\nurl = "postgresql://libra@db/x"\n'),
                             env={})
    assert settings.database.url is not None


def test_an_empty_server_list_is_refused_at_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env={"LIBRA_LLM__SERVERS": ""})
    assert "llm.servers" in str(info.value) and "LIBRA_LLM__SERVERS" in str(info.value)
    embedded = load_settings(env={"LIBRA_LLM__SERVERS": "", "LIBRA_LLM__BACKEND": "embedded"})
    assert embedded.llm.servers == ()


def test_an_unknown_section_names_the_file_it_came_from(tmp_path: Path) -> None:
    # A misspelt section is the file's fault; blaming "built-in defaults" sends the
    # operator looking in the wrong place.
    path = write(tmp_path, "[dicord]\ntoken_id = 1\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert f"unknown setting dicord in config file {path}" in str(info.value)
    assert "built-in defaults" not in str(info.value)


def test_config_show_masks_credentials_inside_plain_urls(tmp_path: Path) -> None:
    # An Ollama behind a basic-auth proxy is configured as https://user:pass@host;
    # llm.servers is not a secret field, but its password is still a secret.
    result = run_cli("config", "show", "--format", "json", env={
        "LIBRA_LLM__SERVERS": "https://libra:hunter2hunter2@ollama.example:443,"
                              "http://127.0.0.1:11434",
        "LANGFUSE_HOST": "https://u:langfusepw9@langfuse.example",
    }, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout and "langfusepw9" not in result.stdout
    assert "https://libra:********@ollama.example:443" in result.stdout
    assert "http://127.0.0.1:11434" in result.stdout


@pytest.mark.parametrize("name", ["DATABASE_URL", "REDIS_URL", "LIBRA_DATA_DIR",
                                  "LANGFUSE_HOST", "DATABASE_URL_FILE"])
def test_an_empty_conventional_variable_is_unset(tmp_path: Path, name: str) -> None:
    # Compose passes `DATABASE_URL: ${DATABASE_URL}` as "" when nothing is set: that
    # must not replace the file's database with the embedded server.
    path = write(tmp_path, '[database]\nurl = "postgresql://libra@db/libra"\n'
                           '[redis]\nurl = "redis://cache:6379/0"\n'
                           f'[app]\ndata_dir = "{tmp_path}"\n'
                           '[langfuse]\nhost = "https://lf.example"\n')
    settings = load_settings(path, env={name: "", "DISCORD_TOKEN": " "})
    assert settings.database.url is not None
    assert settings.database.url.get_secret_value() == "postgresql://libra@db/libra"
    assert settings.redis.url is not None
    assert settings.app.data_dir == tmp_path
    assert settings.langfuse.host == "https://lf.example"
    assert settings.discord.token is None


def test_an_empty_libra_variable_clears_the_setting(tmp_path: Path) -> None:
    # LIBRA_<SECTION>__<KEY> is Libra's own name, set on purpose: empty means "none".
    path = write(tmp_path, '[database]\nurl = "postgresql://libra@db/libra"\n')
    assert load_settings(path, env={"LIBRA_DATABASE__URL": ""}).database.url is None


@pytest.mark.parametrize("names", [("DISCORD_TOKEN", "DISCORD_TOKEN_FILE"),
                                   ("LIBRA_ADMIN__SECRET", "LIBRA_ADMIN__SECRET_FILE"),
                                   ("REDIS_URL", "redis_url")])
def test_two_variables_for_one_setting_are_refused(tmp_path: Path,
                                                   names: tuple[str, str]) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from.the.file", encoding="utf-8")
    values = {"DISCORD_TOKEN": "from.the.env", "LIBRA_ADMIN__SECRET": "x" * 40,
              "REDIS_URL": "redis://a:6379/0", "redis_url": "redis://b:6379/0"}
    env = {name: str(secret) if name.endswith("_FILE") else values[name] for name in names}
    for order in (env, dict(reversed(env.items()))):
        with pytest.raises(ConfigError) as err:
            load_settings(env=order)
        assert names[0] in str(err.value) and names[1] in str(err.value)


def test_two_variables_for_one_setting_exit_2(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("from.the.file", encoding="utf-8")
    result = run_cli("config", "show", cwd=tmp_path,
                     env={"DISCORD_TOKEN": "from.the.env", "DISCORD_TOKEN_FILE": str(secret)})
    assert result.returncode == 2
    assert "DISCORD_TOKEN_FILE" in result.stderr and "Traceback" not in result.stderr
