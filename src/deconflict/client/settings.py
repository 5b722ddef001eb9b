"""The party client's settings: flags, then ``DECONFLICT_CLIENT_*`` variables, then defaults.

Today's ``DECONFLICT_BROKER_URL`` and ``DECONFLICT_TOKEN`` are accepted too (the
prefixed names win when both are set). Nothing is read at import; build the class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from deconflict._util import one_line_error
from deconflict.errors import InputError

#: Where the outbox lives unless ``--outbox`` names a file: the current directory.
DEFAULT_OUTBOX = Path("client-outbox.db")


class ClientSettings(BaseSettings):
    """Where the broker is, who the party is, and where its outbox lives."""

    model_config = SettingsConfigDict(
        env_prefix="DECONFLICT_CLIENT_", extra="ignore", frozen=True, populate_by_name=True
    )

    broker_url: str = Field(
        "http://127.0.0.1:8000",
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        validation_alias=AliasChoices(
            "broker_url", "DECONFLICT_CLIENT_BROKER_URL", "DECONFLICT_BROKER_URL"
        ),
    )
    token: str = Field(
        min_length=1,
        repr=False,
        validation_alias=AliasChoices("token", "DECONFLICT_CLIENT_TOKEN", "DECONFLICT_TOKEN"),
    )
    outbox: Path = Field(
        DEFAULT_OUTBOX, validation_alias=AliasChoices("outbox", "DECONFLICT_CLIENT_OUTBOX")
    )


def load_settings(**given: Any) -> ClientSettings:
    """Settings from the flags ``given`` (None: not given) over the environment.

    A missing token or a bad value is one :class:`InputError` line naming the setting.
    """
    flags = {k: v for k, v in given.items() if v is not None}
    try:
        return ClientSettings(**flags)
    except ValidationError as err:
        if any(e["type"] == "missing" and e["loc"][-1:] == ("token",) for e in err.errors()):
            raise InputError(
                "no token: pass --token or set DECONFLICT_CLIENT_TOKEN "
                "(the one `deconflict party add` printed)"
            ) from None
        raise InputError(one_line_error(err, "setting", got=True)) from None
