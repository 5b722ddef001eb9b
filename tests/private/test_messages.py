"""What crosses the wire: nothing matchable to a cell, padded and shuffled lists, and
messages that are corrupt, foreign or out of order rejected with one-line errors."""

from __future__ import annotations

import struct

import h3
import numpy as np
import pytest

from deconflict import Agreement
from deconflict.errors import InputError
from deconflict.private import Grid, Party, exchange, join, psi
from deconflict.private.cells import coarse_records, fine_records, parents
from deconflict.private.psi import RISTRETTO255, Message, decode, is_size_class, split


@pytest.fixture(scope="module")
def run(plans):
    a, b = plans
    pa, pb = Party.initiator(a, Agreement()), Party.responder(b, Agreement())
    messages = exchange(pa, pb)
    return pa, pb, messages


def test_the_sample_plans_overlap(run):
    pa, pb, _ = run
    assert len(join(pa, pb)) == 1
    assert len(pa.learned.common) > 0 and len(pa.learned.matched) > 0
    assert (pa.learned.common == pb.learned.common).all()


def test_no_message_holds_a_cell_or_anything_matchable_without_a_scalar(run):
    pa, pb, messages = run
    wire = b"".join(messages)
    points = {p for m in messages for s in decode(m).sections for p in split(s)}
    forbidden_points: set[bytes] = set()
    for party in (pa, pb):
        grid, cells = party.grid, party.cells
        records = [coarse_records(cells, grid), fine_records(cells, grid, party.common)]
        for rec in records:
            # the raw records (the hash input after the prefix)
            for i in range(len(rec)):
                assert rec[i].astype("<i8").tobytes() not in wire
            # their unblinded hash-to-group points: anyone could recompute these
            forbidden_points |= set(split(RISTRETTO255.hash_to_group(party.prefix, rec)))
        hexes = np.unique(np.concatenate([cells.hexes, parents(cells.hexes, grid.coarse_res)]))
        for hx in hexes.tolist():
            assert struct.pack("<Q", hx) not in wire and struct.pack(">Q", hx) not in wire
            assert h3.int_to_str(hx).encode() not in wire
        for ident in cells.ids:
            assert ident.encode() not in wire
    assert len(forbidden_points) > 100
    assert not points & forbidden_points


def test_the_same_cell_never_looks_the_same_twice(plans):
    a, b = plans
    first, second = Party.initiator(a, Agreement()), Party.initiator(a, Agreement())
    one, two = decode(first.offer()), decode(second.offer())
    assert not set(split(one.sections[0])) & set(split(two.sections[0]))
    # Nor does a cell both plans hold look alike in A's and B's fresh lists.
    pa, pb = Party.initiator(a, Agreement()), Party.responder(b, Agreement())
    offer = pa.offer()
    answer = decode(pb.answer(offer))
    assert not set(split(decode(offer).sections[0])) & set(split(answer.sections[1]))


def test_lists_are_padded_to_size_classes_and_shuffled(plans):
    a, _ = plans
    party = Party.initiator(a, Agreement())
    offer = decode(party.offer())
    (sent,) = offer.sections
    records = coarse_records(party.cells, party.grid)
    mine = RISTRETTO255.blind(RISTRETTO255.hash_to_group(party.prefix, records), party.scalar)
    at = {p: i for i, p in enumerate(split(sent))}
    positions = [at[p] for p in split(mine)]  # every real element is there, once
    n, total = len(records), len(sent) // 32
    assert total == psi.size_class(n) and is_size_class(total) and total > n
    assert len(set(positions)) == n
    assert positions != sorted(positions)  # not in record order
    dummies = set(range(total)) - set(positions)
    assert len(dummies) == total - n
    assert RISTRETTO255.invalid_points(sent) == []  # padding is made of group elements
    # The party keeps where each record went; a second offer is shuffled differently.
    assert sorted(i for i in party.sent_index.tolist() if i >= 0) == list(range(n))
    again = Party.initiator(a, Agreement(), grid=party.grid)
    again.scalar = party.scalar
    again.session = party.session
    resent = decode(again.offer()).sections[0]
    assert [at2 for at2 in [split(resent).index(p) for p in split(mine)[:20]]] != positions[:20]


def test_replies_keep_the_order_they_were_sent_in(plans):
    a, b = plans
    pa, pb = Party.initiator(a, Agreement()), Party.responder(b, Agreement())
    offer = pa.offer()
    answer = decode(pb.answer(offer))
    expected = RISTRETTO255.blind(decode(offer).sections[0], pb.scalar)
    assert answer.sections[0] == expected


def test_message_length_depends_only_on_the_size_class(plans):
    a, _ = plans
    party = Party.initiator(a, Agreement())
    n = len(coarse_records(party.cells, party.grid))
    header = psi._HEADER.size + psi._SECTION.size + 32  # header, one section, digest
    assert len(party.offer()) == header + 32 * psi.size_class(n)


# -- rejected messages ----------------------------------------------------------------------
def one_line(err: pytest.ExceptionInfo[InputError]) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def rebuild(data: bytes, **changes) -> bytes:
    msg = decode(data)
    fields = {
        "kind": msg.kind,
        "fingerprint": msg.fingerprint,
        "session": msg.session,
        "grid": msg.grid,
        "time_buffer_s": msg.time_buffer_s,
        "sections": msg.sections,
    }
    fields.update(changes)
    return Message(**fields).to_bytes()


@pytest.fixture()
def fresh(plans):
    a, b = plans
    pa, pb = Party.initiator(a, Agreement()), Party.responder(b, Agreement())
    return pa, pb, pa.offer()


def test_corrupt_messages_are_rejected(fresh):
    _, pb, offer = fresh
    flipped = bytearray(offer)
    flipped[200] ^= 0x01
    with pytest.raises(InputError) as err:
        pb.answer(bytes(flipped), source="1.bin")
    assert one_line(err) == "1.bin: corrupt message (checksum mismatch); ask for it again"
    with pytest.raises(InputError) as err:
        pb.answer(offer[:-100])
    assert "checksum" in one_line(err)
    with pytest.raises(InputError) as err:
        pb.answer(b"PK\x03\x04" + offer[4:])
    assert "not a deconflict private-mode message" in one_line(err)
    with pytest.raises(InputError) as err:
        pb.answer(b"")
    assert "not a deconflict private-mode message" in one_line(err)
    versioned = bytearray(offer)
    versioned[4] = 9
    with pytest.raises(InputError) as err:
        pb.answer(bytes(versioned))
    assert "version 9" in one_line(err)
    # A well-formed message whose points are not group elements.
    sent = decode(offer).sections[0]
    bad = rebuild(offer, sections=(b"\xff" * 32 + sent[32:],))
    zero = rebuild(offer, sections=(sent[:32] + bytes(32) + sent[64:],))
    with pytest.raises(InputError) as err:
        pb.answer(zero)
    assert "element 1 of the coarse elements is not a valid" in one_line(err)
    with pytest.raises(InputError) as err:
        pb.answer(bad)
    assert "element 0 of the coarse elements is not a valid ristretto255 group element" in one_line(
        err
    )
    unpadded = rebuild(offer, sections=(sent[: 32 * 65],))
    with pytest.raises(InputError) as err:
        pb.answer(unpadded)
    assert "65 coarse elements, not padded to a size class" in one_line(err)
    assert pb.step == "new"  # nothing was taken in


def test_foreign_messages_are_rejected(plans, fresh):
    a, b = plans
    pa, pb, offer = fresh
    other_rules = Party.responder(b, Agreement(horizontal_nm=4))
    with pytest.raises(InputError) as err:
        other_rules.answer(offer)
    assert "made under agreement" in one_line(err) and "same agreement" in one_line(err)
    other_grid = Party.responder(b, Agreement(), grid=Grid(fine_res=7))
    with pytest.raises(InputError) as err:
        other_grid.answer(offer)
    assert "made with grid H3 8/5" in one_line(err)
    other_buffer = Party.responder(b, Agreement(), time_buffer_s=300.0)
    with pytest.raises(InputError) as err:
        other_buffer.answer(offer)
    assert "time buffer of 0 s, this side uses 300 s" in one_line(err)
    answer = pb.answer(offer)
    # An answer from another exchange.
    stranger = Party.initiator(a, Agreement())
    stranger.offer()
    with pytest.raises(InputError) as err:
        stranger.refine(answer)
    assert "belongs to another exchange" in one_line(err)
    # The wrong message for the step.
    with pytest.raises(InputError) as err:
        pa.refine(offer)
    assert "a 'offer' message, expected 'answer' here" in one_line(err)
    # A reply that does not match what was sent.
    msg = decode(answer)
    short = rebuild(answer, sections=(msg.sections[0][:-64], msg.sections[1]))
    with pytest.raises(InputError) as err:
        pa.refine(short)
    assert "the reply holds" in one_line(err)
    # Steps out of order, or the other side's step.
    with pytest.raises(InputError) as err:
        pa.finish(answer)
    assert "needs 'refined'" in one_line(err)
    with pytest.raises(InputError) as err:
        pa.answer(offer)
    assert "initiator (A)" in one_line(err)
    with pytest.raises(InputError) as err:
        _ = pa.learned
    assert "not finished" in one_line(err)
