"""Settings every relay shares (the broker's and the backup's), read by role.

Each role reads its own environment variables, ``DECONFLICT_<ROLE>_<FIELD>``
(``DECONFLICT_BROKER_DB``, ``DECONFLICT_BACKUP_PORT``, …), so that a broker, a backup
relay and a party client started from one shell never read one another's settings.
The signing key is ``DECONFLICT_<ROLE>_KEY_FILE``. A role also accepts the names its
settings had before (the broker's ``DECONFLICT_DB``, …): the role's own name wins when
both are set.
Flags (keyword arguments) win over both.

Paths nobody gave default into the data directory (:mod:`deconflict.datadir`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import AliasChoices, AliasGenerator, Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from deconflict.datadir import BROKER, DATA_DIR_ENV, default_data_dir, default_db_url, relay_file

#: Bytes in a mebibyte.
MIB = 1024 * 1024
#: Default largest request body, and largest WebSocket frame (bytes): 32 MiB.
DEFAULT_MAX_BODY_BYTES = 32 * MIB


def env_names(role: str, *, old_prefix: str | None = None) -> Callable[[str], AliasChoices]:
    """The environment variables of each field of role ``role``, newest first.

    Field ``f`` is ``DECONFLICT_<ROLE>_<F>``, but ``relay_key_file`` is
    ``DECONFLICT_<ROLE>_KEY_FILE``. ``old_prefix`` adds the name a field had before
    (``<old_prefix><F>``: the broker's ``DECONFLICT_DB``). ``data_dir`` also reads
    ``DECONFLICT_DATA_DIR``, shared by every role.

    >>> env_names("BROKER", old_prefix="DECONFLICT_")("relay_key_file").choices
    ['DECONFLICT_BROKER_KEY_FILE', 'DECONFLICT_RELAY_KEY_FILE']
    >>> env_names("BACKUP")("data_dir").choices
    ['DECONFLICT_BACKUP_DATA_DIR', 'DECONFLICT_DATA_DIR']
    """

    def names(field: str) -> AliasChoices:
        upper = field.upper()
        choices = [f"DECONFLICT_{role}_{'KEY_FILE' if field == 'relay_key_file' else upper}"]
        if old_prefix is not None:
            choices.append(f"{old_prefix}{upper}")
        if field == "data_dir":
            choices.append(DATA_DIR_ENV)
        return AliasChoices(*dict.fromkeys(choices))

    return names


def role_config(role: str, *, old_prefix: str | None = None) -> SettingsConfigDict:
    """The settings configuration of a role: its variables (:func:`env_names`), frozen.

    Errors name the field (``port``), whichever variable or flag gave the value.
    """
    return SettingsConfigDict(
        alias_generator=AliasGenerator(validation_alias=env_names(role, old_prefix=old_prefix)),
        validate_by_name=True,
        loc_by_alias=False,
        extra="ignore",
        frozen=True,
    )


class Storage(BaseSettings):
    """A role's data directory and database (the database defaults into the directory)."""

    #: File stem of the role's files in the data directory (``<stem>.db``, …).
    stem: ClassVar[str] = BROKER

    #: Folder of every file nobody named (created 0700 when first used)
    #: [default: $DECONFLICT_DATA_DIR, else the per-user state folder].
    data_dir: Path = Field(default_factory=default_data_dir)
    #: Database URL [default: DATA_DIR/<stem>.db].
    db: str = Field("", validate_default=True)

    @field_validator("data_dir", mode="before")
    @classmethod
    def _expand(cls, value: Any) -> Any:
        return Path(str(value)).expanduser() if value else default_data_dir()

    @field_validator("db", mode="before")
    @classmethod
    def _default_db(cls, value: Any, info: ValidationInfo) -> Any:
        if value or "data_dir" not in info.data:
            return value
        return default_db_url(info.data["data_dir"], cls.stem)


class RelaySettings(Storage):
    """What every relay needs: storage, its signed audit log and key, its request limits."""

    #: The relay's signed audit log [default: beside an SQLite database X.db,
    #: X.audit.jsonl; else DATA_DIR/<stem>.audit.jsonl; none in memory].
    audit_log: Path | None = Field(None, validate_default=True)
    #: The relay's Ed25519 signing key file, made on first start [default: X.relay.key,
    #: else DATA_DIR/<stem>.relay.key].
    relay_key_file: Path | None = Field(None, validate_default=True)
    #: Largest request body and WebSocket frame (bytes): bigger gets 413, or close 1009.
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, ge=1)
    #: Failed authentications one client address may make per window; then 429.
    auth_max_failures: int = Field(20, ge=1)
    #: The failed-authentication window (s).
    auth_window_s: float = Field(60.0, gt=0)

    @field_validator("audit_log", "relay_key_file", mode="before")
    @classmethod
    def _beside_db(cls, value: Any, info: ValidationInfo) -> Any:
        if value or "db" not in info.data:
            return value or None
        suffix = ".audit.jsonl" if info.field_name == "audit_log" else ".relay.key"
        return relay_file(info.data["db"], suffix, info.data["data_dir"], cls.stem)
