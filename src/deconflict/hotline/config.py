"""A hotline client's settings: flags, then ``DECONFLICT_*`` variables, then a config file.

The config file is TOML (``--config``, else ``$DECONFLICT_CONFIG``, else
``~/.config/deconflict/hotline.toml`` when it exists) with the same keys::

    broker_url = "http://127.0.0.1:8000"
    backup_url = "http://127.0.0.1:8001"
    token = "…"
    key_file = "~/.config/deconflict/signing.key"
    store = "~/.local/share/deconflict/hotline.db"
    nats_url = "nats://127.0.0.1:4222"     # optional: JetStream as the primary
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from deconflict._util import one_line_error
from deconflict.errors import InputError

FIELDS = ("broker_url", "backup_url", "token", "key_file", "store", "nats_url")
DEFAULT_CONFIG = Path("~/.config/deconflict/hotline.toml")


class ClientConfig(BaseModel):
    """Validated client settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    broker_url: str = Field("http://127.0.0.1:8000", pattern=r"^https?://")
    backup_url: str | None = Field(None, pattern=r"^https?://")
    token: str = Field(min_length=1)
    key_file: Path
    store: Path = Path("hotline.db")
    #: NATS JetStream as the primary transport instead of the broker's WebSocket.
    nats_url: str | None = Field(None, pattern=r"^(nats|tls)://")


def load_config(flags: dict[str, Any], config_file: Path | None = None) -> ClientConfig:
    """Merge flags over ``DECONFLICT_*`` variables over the config file; validate."""
    path = config_file or (
        Path(os.environ["DECONFLICT_CONFIG"]) if "DECONFLICT_CONFIG" in os.environ else None
    )
    from_file: dict[str, Any] = {}
    if path is not None or DEFAULT_CONFIG.expanduser().exists():
        target = (path or DEFAULT_CONFIG).expanduser()
        try:
            from_file = tomllib.loads(target.read_text())
        except OSError as err:
            raise InputError(f"config file {target}: {err.strerror}") from None
        except UnicodeDecodeError as err:
            raise InputError(f"config file {target}: not UTF-8 text ({err.reason})") from None
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"config file {target}: not valid TOML ({err})") from None
        except RecursionError:  # tomllib recurses once per nested array or inline table
            raise InputError(f"config file {target}: not valid TOML (nested too deeply)") from None
        unknown = sorted(set(from_file) - set(FIELDS))
        if unknown:
            raise InputError(
                f"config file {target}: unknown key {unknown[0]!r}; known: {', '.join(FIELDS)}"
            )
    from_env = {
        name: os.environ[f"DECONFLICT_{name.upper()}"]
        for name in FIELDS
        if f"DECONFLICT_{name.upper()}" in os.environ
    }
    merged = {**from_file, **from_env, **{k: v for k, v in flags.items() if v is not None}}
    for name in ("key_file", "store"):
        if name in merged:
            merged[name] = Path(str(merged[name])).expanduser()
    if "token" not in merged:
        raise InputError(
            "no token: pass --token, set DECONFLICT_TOKEN, or put token in the config file"
        )
    if "key_file" not in merged:
        raise InputError(
            "no signing key: pass --key-file (make one with `deconflict keys new`), "
            "set DECONFLICT_KEY_FILE, or put key_file in the config file"
        )
    try:
        return ClientConfig.model_validate(merged)
    except ValidationError as err:
        raise InputError(one_line_error(err, "setting", got=True)) from None
