"""Overdue requests, who owes whom: from the party's own store, or from both relays.

Read-only: the local store must exist and be this party's (the key file's); the remote
view reads no store and asks both relays, merging what they list, so one relay that
fails or is down does not hide the other's list. Times are Unix seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from deconflict.errors import InputError
from deconflict.hotline.client_store import ClientStore
from deconflict.hotline.config import ClientConfig
from deconflict.hotline.keys import load_key_file, public_hex

#: How long each relay gets to answer, s.
RELAY_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class OverdueRequest:
    """A request whose response deadline (``due_at``, Unix s) has passed."""

    id: str
    owes: str
    owed_to: str
    due_at: float
    body: str


def open_own_store(settings: ClientConfig) -> ClientStore:
    """The party's store for a read-only command: never created; refused if another's.

    :class:`InputError` when it does not exist, and when it is bound to a party whose
    key is not ``settings.key_file`` (the store records the key of the party it belongs to).
    """
    if not settings.store.exists():
        raise InputError(
            f"hotline store {settings.store} does not exist: nothing was sent or received"
            " with it (name yours with --store)"
        )
    mine = public_hex(load_key_file(settings.key_file))
    local = ClientStore(settings.store)
    party, key = local.get_meta("party"), local.get_meta("public_key")
    if key and key != mine:
        local.close()
        raise InputError(
            f"hotline store {settings.store} belongs to party {party!r}, whose key is not"
            f" {settings.key_file}; use a store of your own (--store)"
        )
    return local


def local_overdue(settings: ClientConfig, now: float) -> list[OverdueRequest]:
    """Overdue requests the party's own store knows, at ``now`` (Unix s)."""
    local = open_own_store(settings)
    try:
        me = local.get_meta("party", "us")
        rows = []
        for o in local.owed(now):
            owes, owed_to = (o.party, me) if o.direction == "they owe us" else (me, o.party)
            rows.append(OverdueRequest(o.id, owes, owed_to, o.due_at, o.body))
        return rows
    finally:
        local.close()


def remote_overdue(settings: ClientConfig) -> tuple[list[OverdueRequest], list[str]]:
    """Overdue requests both relays list, merged by id (earliest due first), and problems.

    Each relay raises escalations for what it carried, so a request only the backup
    carried is listed by the backup alone. A relay that fails is one line in the
    problems; :class:`InputError` when neither answers.
    """
    found: dict[str, OverdueRequest] = {}
    problems: list[str] = []
    answered = 0
    for name, base in (("broker", settings.broker_url), ("backup", settings.backup_url)):
        if base is None:
            continue
        try:
            resp = httpx.get(
                f"{base}/hotline/overdue",
                headers={"Authorization": f"Bearer {settings.token}"},
                timeout=RELAY_TIMEOUT_S,
                trust_env=False,
            )
        except httpx.HTTPError as err:
            problems.append(f"the {name} ({base}) did not answer ({err.__class__.__name__})")
            continue
        if resp.status_code == 401:
            problems.append(f"the {name} ({base}) answered 401 unauthorized (check the token)")
            continue
        if resp.status_code != 200:
            problems.append(f"the {name} ({base}) answered HTTP {resp.status_code}")
            continue
        answered += 1
        try:
            for o in resp.json():
                found.setdefault(
                    str(o["id"]),
                    OverdueRequest(
                        str(o["id"]), str(o["to"]), str(o["sender"]), float(o["due_at"]), o["body"]
                    ),
                )
        except (ValueError, KeyError, TypeError):
            problems.append(f"the {name} ({base}) answered something that is not an overdue list")
            answered -= 1
    if not answered:
        raise InputError(
            "; ".join(problems or ["no relay configured"])
            + "; run without --remote to read the local store"
        )
    return sorted(found.values(), key=lambda r: r.due_at), problems
