"""``deconflict demo --serve``: the exercise in real time (×N), a map URL per party."""

from __future__ import annotations

import re

from tests.conftest import run_deconflict


def test_demo_serve_prints_a_map_url_per_party_and_tokens_apart(tmp_path) -> None:
    res = run_deconflict(
        "demo", "--serve", "--speed", "100", "--duration-s", "30", "--out", str(tmp_path / "out")
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout
    urls = dict(re.findall(r"^  (\w[\w ]*?) +(http://127\.0\.0\.1:\d+/map\S*)$", out, re.M))
    assert set(urls) == {"coalition", "russia", "working group"}
    tokens = re.findall(r"^  (?:coalition|russia|working group) +([A-Za-z0-9_-]{40,})$", out, re.M)
    assert len(tokens) == 3
    assert not any(t in u for t in tokens for u in urls.values()), "no token in a URL"
    assert "flown in" in out
    assert (tmp_path / "out" / "serve" / "deconflict.db").exists()


def test_demo_serve_refuses_a_bad_speed(tmp_path) -> None:
    res = run_deconflict("demo", "--serve", "--speed", "0", "--out", str(tmp_path / "out"))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
