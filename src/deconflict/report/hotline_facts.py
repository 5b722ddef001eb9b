"""What the hotline record says: response times, overdue requests, distress acks, failovers.

Read from the messages of a run (:data:`deconflict.report.record.MESSAGE_COLUMNS`), on
the record clock. An ``ack`` whose body is the clients' automatic receipt
(``{"acks": [...]}``) says a message arrived; any other ``ack`` of a distress call is its
acknowledgement by a person.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from deconflict.names import BROADCAST

#: Columns of :attr:`HotlineFacts.requests`.
REQUEST_COLUMNS = (
    "t_s",
    "id",
    "sender",
    "to",
    "body",
    "deadline_s",
    "due_s",
    "response_s",
    "response_after_s",
    "status",
)
#: Columns of :attr:`HotlineFacts.overdue`: ``owed_by`` owes ``owed_to`` since ``since_s``.
OVERDUE_COLUMNS = ("id", "owed_by", "owed_to", "body", "asked_s", "since_s", "overdue_s")
#: Columns of :attr:`HotlineFacts.distress`.
DISTRESS_COLUMNS = ("t_s", "id", "sender", "body", "ack_by", "ack_after_s", "acknowledged")
#: Columns of :attr:`HotlineFacts.failovers`: ``to`` is ``backup`` or ``primary``.
FAILOVER_COLUMNS = ("t_s", "to", "message_id", "kind", "sender")


@dataclass(frozen=True)
class HotlineFacts:
    """Tables of one run's hotline (see the column constants)."""

    requests: pd.DataFrame
    overdue: pd.DataFrame
    distress: pd.DataFrame
    failovers: pd.DataFrame


def is_receipt(body: str) -> bool:
    """Whether an ack's body is a client's automatic receipt (``{"acks": [...]}``).

    >>> is_receipt('{"acks": ["ab"]}'), is_receipt("received")
    (True, False)
    """
    try:
        obj = json.loads(body)
    except (ValueError, TypeError):
        return False
    return isinstance(obj, dict) and isinstance(obj.get("acks"), list)


def hotline_facts(messages: pd.DataFrame, until_s: float) -> HotlineFacts:
    """The tables of ``messages`` as of ``until_s`` (the end of the record)."""
    replies = messages[messages["in_reply_to"].notna()]
    requests = []
    overdue = []
    for r in messages[messages["kind"] == "request"].itertuples(index=False):
        answers = replies[(replies["in_reply_to"] == r.id) & (replies["kind"] == "response")]
        due = r.t_s + r.deadline_s if math.isfinite(r.deadline_s) else math.inf
        answered = float(answers["t_s"].min()) if len(answers) else math.nan
        if math.isfinite(answered):
            status = "answered" if answered <= due else "answered late"
        elif due <= until_s:
            status = "overdue"
        else:
            status = "open"
        requests.append(
            (
                r.t_s,
                r.id,
                r.sender,
                r.to,
                r.body,
                r.deadline_s,
                due,
                answered,
                answered - r.t_s,
                status,
            )
        )
        if status == "overdue":
            debtors = [r.to] if r.to != BROADCAST else ["every other party"]
            for who in debtors:
                overdue.append((r.id, who, r.sender, r.body, r.t_s, due, until_s - due))
    distress = []
    for r in messages[messages["kind"] == "distress"].itertuples(index=False):
        acks = replies[(replies["in_reply_to"] == r.id) & (replies["kind"] == "ack")]
        acks = acks[~acks["body"].map(is_receipt).astype(bool)]
        first = acks.sort_values("t_s", kind="stable").head(1)
        if len(first):
            row = first.iloc[0]
            distress.append(
                (r.t_s, r.id, r.sender, r.body, row["sender"], row["t_s"] - r.t_s, True)
            )
        else:
            distress.append((r.t_s, r.id, r.sender, r.body, "", np.nan, False))
    return HotlineFacts(
        requests=pd.DataFrame(requests, columns=list(REQUEST_COLUMNS)),
        overdue=pd.DataFrame(overdue, columns=list(OVERDUE_COLUMNS)),
        distress=pd.DataFrame(distress, columns=list(DISTRESS_COLUMNS)),
        failovers=_failovers(messages),
    )


def _failovers(messages: pd.DataFrame) -> pd.DataFrame:
    """Switches of channel: messages carried by one relay only, in time order.

    The first message only the backup relay stored after one only the primary stored is
    a switch to the backup, and the other way round; messages both relays stored (sent
    once more on the other channel) say nothing.
    """
    single = messages[messages["channel"].isin(["primary", "backup"])]
    rows = []
    last = "primary"
    for r in single.itertuples(index=False):
        if r.channel != last:
            rows.append((r.t_s, r.channel, r.id, r.kind, r.sender))
            last = r.channel
    return pd.DataFrame(rows, columns=list(FAILOVER_COLUMNS))
