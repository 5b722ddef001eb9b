"""One side's state file: the exchange stops and resumes at every step with the same results."""

from __future__ import annotations

import json

import pytest

from deconflict import Agreement
from deconflict.errors import InputError
from deconflict.io.private_state import from_state, to_state
from deconflict.private.local import local_check
from deconflict.private.protocol import Party
from deconflict.private.results import join, own_overlaps


def test_state_round_trips_through_json_at_every_step(plans):
    a, b = plans
    ag = Agreement()

    def hop(party: Party) -> Party:
        return from_state(json.loads(json.dumps(to_state(party))))

    pa, pb = hop(Party.initiator(a, ag)), hop(Party.responder(b, ag))
    m1 = pa.offer()
    pa = hop(pa)
    m2 = pb.answer(m1)
    pb = hop(pb)
    m3 = pa.refine(m2)
    pa = hop(pa)
    m4 = pb.refine(m3)
    pb = hop(pb)
    m5 = pa.finish(m4)
    pa = hop(pa)
    assert m5 is not None and pb.finish(m5) is None
    pb = hop(pb)
    direct = local_check(a, b, ag)
    resumed = join(pa, pb)
    assert resumed.drop(columns="geometry").equals(direct.drop(columns="geometry"))
    own = own_overlaps(pa)
    assert set(own["id"]) == set(direct["a_id"]) and set(own_overlaps(pb)["id"]) == set(
        direct["b_id"]
    )
    with pytest.raises(InputError, match="not a deconflict private-mode state"):
        from_state({"format": "something else"})
    broken = to_state(pa)
    del broken["scalar"]
    with pytest.raises(InputError, match="damaged private-mode state"):
        from_state(broken)
