"""Both sides here: the five messages can be kept, and written to a folder."""

from __future__ import annotations

from pathlib import Path

from deconflict import Agreement
from deconflict.io.private_messages import write_exchange
from deconflict.private.local import local_check
from deconflict.private.psi import Kind, decode


def test_messages_dir_holds_each_message(plans, tmp_path: Path):
    a, b = plans
    messages: list[bytes] = []
    local_check(a, b, Agreement(), messages_out=messages)
    assert len(messages) == 5
    write_exchange(tmp_path / "wire", messages)
    names = sorted(p.name for p in (tmp_path / "wire").iterdir())
    assert names == [
        "01-a-offer.bin",
        "02-b-answer.bin",
        "03-a-refine.bin",
        "04-b-refine-answer.bin",
        "05-a-finish.bin",
    ]
    kinds = [decode((tmp_path / "wire" / n).read_bytes()).kind for n in names]
    assert kinds == list(Kind)
