"""A party's settings, one class for all its programs: flags, then environment, then a file.

``deconflict hotline`` and ``deconflict client`` (the tracks client) read the same
settings: pydantic-settings reads them into :class:`ClientConfig`. Environment variables are
named ``DECONFLICT_CLIENT_<SETTING>`` (``DECONFLICT_CLIENT_TOKEN``,
``DECONFLICT_CLIENT_KEY_FILE``, …); the older names without ``CLIENT_``
(``DECONFLICT_TOKEN``, …) are still read, the prefixed name winning. The config file
is TOML (``--config``, else ``$DECONFLICT_CLIENT_CONFIG`` or ``$DECONFLICT_CONFIG``,
else ``~/.config/deconflict/hotline.toml`` when it exists) with the same keys::

    broker_url = "http://127.0.0.1:8000"
    backup_url = "http://127.0.0.1:8001"
    token = "…"
    key_file = "~/.config/deconflict/signing.key"
    store = "~/.local/share/deconflict/hotline.db"
    nats_url = "nats://127.0.0.1:4222"     # optional: JetStream as the primary
    outbox = "client-outbox.db"            # the tracks client's outbox
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from deconflict._util import one_line_error
from deconflict.errors import InputError

FIELDS = ("broker_url", "backup_url", "token", "key_file", "store", "nats_url", "outbox")
#: Prefix of the client's environment variables.
ENV_PREFIX = "DECONFLICT_CLIENT_"
#: Prefix of their older names, still read (the prefixed name wins).
LEGACY_ENV_PREFIX = "DECONFLICT_"
DEFAULT_CONFIG = Path("~/.config/deconflict/hotline.toml")


class ClientConfig(BaseSettings):
    """Validated client settings (build them with :func:`load_config`)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    broker_url: str = Field("http://127.0.0.1:8000", pattern=r"^https?://")
    backup_url: str | None = Field(None, pattern=r"^https?://")
    token: str = Field(min_length=1)
    #: The party's Ed25519 signing key (the hotline needs it; the tracks client does not).
    key_file: Path | None = None
    store: Path = Path("hotline.db")
    #: NATS JetStream as the primary transport instead of the broker's WebSocket.
    nats_url: str | None = Field(None, pattern=r"^(nats|tls)://")
    #: The tracks client's outbox (states not yet acknowledged by the broker).
    outbox: Path = Path("client-outbox.db")

    @field_validator("key_file", "store", "outbox", mode="before")
    @classmethod
    def _expand_home(cls, value: Any) -> Any:
        return Path(str(value)).expanduser() if isinstance(value, str | Path) else value


class _ConfigFile(TomlConfigSettingsSource):
    """The TOML config file, its problems as one-line :class:`InputError`."""

    def _read_file(self, file_path: Path) -> dict[str, Any]:
        try:
            values = super()._read_file(file_path)
        except OSError as err:
            raise InputError(f"config file {file_path}: {err.strerror}") from None
        except UnicodeDecodeError as err:
            raise InputError(f"config file {file_path}: not UTF-8 text ({err.reason})") from None
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"config file {file_path}: not valid TOML ({err})") from None
        except RecursionError:  # tomllib recurses once per nested array or inline table
            raise InputError(
                f"config file {file_path}: not valid TOML (nested too deeply)"
            ) from None
        unknown = sorted(set(values) - set(FIELDS))
        if unknown:
            raise InputError(
                f"config file {file_path}: unknown key {unknown[0]!r}; known: {', '.join(FIELDS)}"
            )
        return values


def config_file(named: Path | None = None) -> Path | None:
    """The config file to read: ``named``, else the environment's, else the default if any."""
    for path in (
        named,
        os.environ.get(f"{ENV_PREFIX}CONFIG"),
        os.environ.get(f"{LEGACY_ENV_PREFIX}CONFIG"),
    ):
        if path is not None:
            target = Path(path).expanduser()
            if not target.is_file():  # named but missing (or a folder): say why
                try:
                    target.open("rb").close()
                except OSError as err:
                    raise InputError(f"config file {target}: {err.strerror}") from None
            return target
    default = DEFAULT_CONFIG.expanduser()
    return default if default.exists() else None


def load_config(
    flags: dict[str, Any], named_file: Path | None = None, *, need_key: bool = True
) -> ClientConfig:
    """The party's settings, validated, or a one-line :class:`InputError`.

    Flags (None: not given) win over ``DECONFLICT_CLIENT_*`` variables, which win over
    the older ``DECONFLICT_*`` names, which win over the config file. ``need_key``: a
    signing key is required (the hotline signs; the tracks client does not).
    """
    given = {k: v for k, v in flags.items() if v is not None}
    sources = (
        InitSettingsSource(ClientConfig, given),
        EnvSettingsSource(ClientConfig, env_prefix=ENV_PREFIX),
        EnvSettingsSource(ClientConfig, env_prefix=LEGACY_ENV_PREFIX),
        _ConfigFile(ClientConfig, config_file(named_file)),
    )
    try:
        config = ClientConfig(_build_sources=(sources, given))
    except ValidationError as err:
        missing = {e["loc"][0] for e in err.errors() if e["type"] == "missing" and e["loc"]}
        if "token" in missing:
            raise InputError(
                "no token: pass --token, set DECONFLICT_CLIENT_TOKEN, "
                "or put token in the config file"
            ) from None
        raise InputError(one_line_error(err, "setting", got=True)) from None
    if need_key and config.key_file is None:
        raise InputError(
            "no signing key: pass --key-file (make one with `deconflict keys new`), "
            "set DECONFLICT_CLIENT_KEY_FILE, or put key_file in the config file"
        )
    return config


def store_path(flag: Path | None = None) -> Path:
    """The store named by the flag, else by ``DECONFLICT_CLIENT_STORE`` (or ``DECONFLICT_STORE``).

    For commands that read only the store, without the rest of the settings; the
    default is ``hotline.db`` in the working folder.
    """
    if flag is not None:
        return flag
    for name in (f"{ENV_PREFIX}STORE", f"{LEGACY_ENV_PREFIX}STORE"):
        if name in os.environ:
            return Path(os.environ[name])
    return Path("hotline.db")
