"""hotline.listen: the JSON-lines output and its cursor, without relays."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from deconflict.errors import InputError
from deconflict.hotline.listen import jsonl_cursor, jsonl_line, open_private
from deconflict.hotline.messages import new_message

KEY = SigningKey(bytes(range(32)))


def test_a_torn_last_line_is_dropped_and_the_cursor_is_the_last_whole_line(tmp_path: Path):
    path = tmp_path / "out.jsonl"
    msg = new_message(KEY, kind="notice", sender="blue", to="red", seq=1, body="hi")
    path.write_text(jsonl_line(1, msg) + jsonl_line(2, msg) + '{"n": 3, "v"')
    assert jsonl_cursor(path, last_delivered=3) == 2
    assert [json.loads(line)["n"] for line in path.read_text().splitlines()] == [1, 2]
    assert jsonl_cursor(tmp_path / "none.jsonl", last_delivered=0) == 0


def test_a_file_ahead_of_the_store_or_not_written_by_listen_is_refused(tmp_path: Path):
    path = tmp_path / "out.jsonl"
    msg = new_message(KEY, kind="notice", sender="blue", to="red", seq=1, body="hi")
    path.write_text(jsonl_line(7, msg))
    with pytest.raises(InputError, match="written from another store"):
        jsonl_cursor(path, last_delivered=3)
    path.write_text("not json\n")
    with pytest.raises(InputError, match="not a delivery written by listen"):
        jsonl_cursor(path, last_delivered=3)


def test_the_output_file_is_private(tmp_path: Path):
    path = tmp_path / "out.jsonl"
    path.write_text("")
    path.chmod(0o644)
    with open_private(path) as fh:
        fh.write("x\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
