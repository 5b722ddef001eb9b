"""Planted pairwise encounters with background traffic, for fast-time simulation.

Each encounter is a conflict designed in the tangent plane at its own centre:
two aircraft of different parties whose first loss of separation (5 NM / 1,000 ft
by default) lies ``t_loss_s`` after the start, between about 60 and 280 s, with
one of these geometries (:data:`KINDS`):

``head_on``
    tracks 180° ± 10° apart;
``crossing``
    tracks 20°–160° apart, either side;
``overtaking``
    tracks within 15°, the faster one 120–250 kt faster and behind;
``vertical``
    any crossing angle; one aircraft level, the other climbing or descending at
    1,000–2,500 ft/min through its level within 20 s of horizontal closest approach.

The three level geometries are co-altitude (40 %) or offset by less than 900 ft.
Horizontal miss distance at closest approach is 0 (30 %) or uniform up to 4.5 NM;
speeds are 150–500 kt; levels 5,000–40,000 ft (vertical geometries keep the
climber within 2,000–44,000 ft for the whole run).

One to three **background** aircraft join each encounter (random parties, level
or climbing, within ±3,000 ft of the encounter, starting 12–35 NM from its centre
and aimed within 15 NM of it), so multi-threat and induced conflicts can arise;
none starts within 6 NM and 1,000 ft of another aircraft of its encounter.

Encounter centres are a Fibonacci lattice over the whole globe (the antimeridian
and high latitudes included), ~270 NM apart for 2,000 encounters, so encounters
do not interact and all of them can be simulated at once.
:func:`encounter_pairs` lists the pairs that can interact; the simulator checks
that no other pair ever does.

>>> enc = make_encounters(4, seed=1)
>>> len(enc.kind), bool((enc.party[enc.planted_a] != enc.party[enc.planted_b]).all())
(4, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from deconflict.geo import WGS84_A, ecef_to_geodetic, enu_basis, geodetic_to_ecef
from deconflict.tactical.state import TrafficState
from deconflict.units import fpm_to_fps, kt_to_mps, m_to_nm, nm_to_m

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]

KINDS = ("head_on", "crossing", "overtaking", "vertical")
#: Share of each kind among planted encounters (same order as :data:`KINDS`).
KIND_SHARES = (0.25, 0.35, 0.15, 0.25)
PARTIES = ("alpha", "bravo", "charlie", "delta")
#: Most aircraft in one encounter (the planted pair and up to three background).
MAX_GROUP = 5
#: Planted pairs close at least this fast horizontally (kt), so every closest
#: approach falls within a few hundred seconds of the start.
MIN_CLOSING_KT = 100.0


@dataclass(frozen=True)
class Encounters:
    """Initial states (t = 0) of every aircraft, and the design of each encounter.

    Per aircraft (sorted by encounter): ``id`` (``E00042-1``: encounter 42, member
    1; members 0 and 1 are the planted pair), ``party``, ``group`` (encounter
    index), ``lat``/``lon`` (deg), ``alt_ft``, ``gs_kt``, ``track_deg``, ``vs_fpm``.
    Per encounter: ``planted_a``/``planted_b`` (aircraft indices), ``kind``
    (index into :data:`KINDS`), ``center_lat``/``center_lon`` (deg), and the
    designed (flat-Earth, straight-flight) ``t_loss_s`` (first loss), ``t_cpa_s``
    and ``t_out_s`` (end of loss) after the start, ``d_cpa_nm`` and ``dz_cpa_ft``.
    """

    id: StrArray
    party: StrArray
    group: IntArray
    lat: FloatArray
    lon: FloatArray
    alt_ft: FloatArray
    gs_kt: FloatArray
    track_deg: FloatArray
    vs_fpm: FloatArray
    planted_a: IntArray
    planted_b: IntArray
    kind: IntArray
    center_lat: FloatArray
    center_lon: FloatArray
    t_loss_s: FloatArray
    t_cpa_s: FloatArray
    t_out_s: FloatArray
    d_cpa_nm: FloatArray
    dz_cpa_ft: FloatArray

    def __len__(self) -> int:
        """Number of aircraft."""
        return int(self.id.shape[0])

    @property
    def n_encounters(self) -> int:
        """Number of encounters."""
        return int(self.kind.shape[0])

    def state(self, time_s: float = 0.0) -> TrafficState:
        """The initial states as a :class:`TrafficState` stamped ``time_s``."""
        return TrafficState(
            time=np.full(len(self), float(time_s)),
            id=self.id,
            party=self.party,
            lat=self.lat,
            lon=self.lon,
            alt_ft=self.alt_ft,
            gs_kt=self.gs_kt,
            track_deg=self.track_deg,
            vs_fpm=self.vs_fpm,
        )

    def select(self, encounters: npt.ArrayLike) -> Encounters:
        """A subset of encounters (indices, increasing), ids and designs unchanged.

        Encounters do not interact, so a subset simulates exactly as it does among
        all the others: handy to replay one case.
        """
        sel = np.unique(np.asarray(encounters, dtype=np.int64))
        keep = np.isin(self.group, sel)
        new_index = np.cumsum(keep) - 1
        per_ac = {name: getattr(self, name)[keep] for name in _PER_AIRCRAFT}
        per_enc = {name: getattr(self, name)[sel] for name in _PER_ENCOUNTER}
        per_enc["planted_a"] = new_index[per_enc["planted_a"]]
        per_enc["planted_b"] = new_index[per_enc["planted_b"]]
        group = np.searchsorted(sel, self.group[keep]).astype(np.int64)
        return Encounters(group=group, **per_ac, **per_enc)


_PER_AIRCRAFT = ("id", "party", "lat", "lon", "alt_ft", "gs_kt", "track_deg", "vs_fpm")
_PER_ENCOUNTER = (
    "planted_a",
    "planted_b",
    "kind",
    "center_lat",
    "center_lon",
    "t_loss_s",
    "t_cpa_s",
    "t_out_s",
    "d_cpa_nm",
    "dz_cpa_ft",
)


@dataclass(frozen=True)
class EncounterPairs:
    """Every pair of aircraft of the same encounter (``a < b``, aircraft indices).

    ``group`` is the encounter, ``cross_party`` whether the parties differ (only
    those pairs are deconflicted), ``planted`` whether it is the planted pair.
    """

    a: IntArray
    b: IntArray
    group: IntArray
    cross_party: BoolArray
    planted: BoolArray

    def __len__(self) -> int:
        """Number of pairs."""
        return int(self.a.shape[0])

    def aircraft(self, n: int, mask: BoolArray) -> BoolArray:
        """Which of the ``n`` aircraft appear in any pair where ``mask`` holds."""
        out = np.zeros(n, dtype=bool)
        out[self.a[mask]] = True
        out[self.b[mask]] = True
        return out


def encounter_pairs(enc: Encounters) -> EncounterPairs:
    """All pairs within each encounter: the only pairs that can interact."""
    n_enc = enc.n_encounters
    start = np.searchsorted(enc.group, np.arange(n_enc))
    size = np.bincount(enc.group, minlength=n_enc)
    i, j = np.triu_indices(MAX_GROUP, 1)
    valid = j[None, :] < size[:, None]
    a = (start[:, None] + i[None, :])[valid]
    b = (start[:, None] + j[None, :])[valid]
    group = np.broadcast_to(np.arange(n_enc)[:, None], valid.shape)[valid]
    planted = (a == enc.planted_a[group]) & (b == enc.planted_b[group])
    return EncounterPairs(
        a=a.astype(np.int64),
        b=b.astype(np.int64),
        group=group.astype(np.int64),
        cross_party=enc.party[a] != enc.party[b],
        planted=planted,
    )


def lattice_centres(n: int) -> tuple[FloatArray, FloatArray]:
    """``n`` points spread evenly over the globe (Fibonacci lattice): lat, lon (deg)."""
    k = np.arange(n) + 0.5
    lat = np.degrees(np.arcsin(1.0 - 2.0 * k / n))
    lon = np.mod(k * 180.0 * (3.0 - np.sqrt(5.0)) + 180.0, 360.0) - 180.0
    return lat, lon


def min_centre_spacing_nm(lat: FloatArray, lon: FloatArray) -> float:
    """Smallest great-circle distance between two centres (NM, spherical; O(n²) memory-light)."""
    xyz = geodetic_to_ecef(lat, lon, 0.0) / WGS84_A
    xyz /= np.linalg.norm(xyz, axis=1)[:, None]
    best = 2.0
    for lo in range(0, xyz.shape[0], 512):  # chunks of rows, not a loop over pairs
        dots = xyz[lo : lo + 512] @ xyz.T
        rows = np.arange(dots.shape[0])
        dots[rows, lo + rows] = -2.0
        best = min(best, float(np.arccos(np.clip(dots.max(), -1.0, 1.0))))
    return m_to_nm(best * WGS84_A)


def _unit(angle_deg: FloatArray) -> FloatArray:
    """East/north unit vectors of tracks (deg), shape (n, 2)."""
    r = np.radians(angle_deg)
    return np.column_stack([np.sin(r), np.cos(r)])


def _loss_window(
    p_rel: FloatArray, w: FloatArray, dz_ft: FloatArray, dvz_fps: FloatArray, H: float, V: float
) -> tuple[FloatArray, FloatArray]:
    """Flat straight-flight loss window (s) of pairs with relative position/velocity (m, m/s)."""
    qa = np.einsum("ij,ij->i", w, w)
    qb = np.einsum("ij,ij->i", p_rel, w)
    qc = np.einsum("ij,ij->i", p_rel, p_rel) - H * H
    disc = np.maximum(qb * qb - qa * qc, 0.0)
    h_in = (-qb - np.sqrt(disc)) / qa
    h_out = (-qb + np.sqrt(disc)) / qa
    with np.errstate(divide="ignore", invalid="ignore"):
        v1 = (-V - dz_ft) / dvz_fps
        v2 = (V - dz_ft) / dvz_fps
    level = dvz_fps == 0.0
    inside = np.abs(dz_ft) < V
    v_in = np.where(level, np.where(inside, -np.inf, np.inf), np.minimum(v1, v2))
    v_out = np.where(level, np.where(inside, np.inf, -np.inf), np.maximum(v1, v2))
    return np.maximum(h_in, v_in), np.minimum(h_out, v_out)


def _horizontal(
    rng: np.random.Generator, kind: IntArray
) -> tuple[tuple[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]:
    """Tracks (deg) and ground speeds (kt) of planted pairs of the given kinds."""
    n = kind.size
    head_on, crossing, overtaking = (kind == k for k in range(3))
    trk_a = rng.uniform(0.0, 360.0, n)
    side = rng.choice([-1.0, 1.0], n)
    dtrk = np.select(
        [head_on, crossing, overtaking],
        [
            180.0 + rng.uniform(-10.0, 10.0, n),
            side * rng.uniform(20.0, 160.0, n),
            rng.uniform(-15.0, 15.0, n),
        ],
        default=rng.uniform(-180.0, 180.0, n),
    )
    gs_a = rng.uniform(150.0, 500.0, n)
    gs_b = rng.uniform(150.0, 500.0, n)
    slow = rng.uniform(150.0, 300.0, n)
    fast = np.minimum(slow + rng.uniform(120.0, 250.0, n), 500.0)
    a_fast = rng.random(n) < 0.5
    gs_a = np.where(overtaking, np.where(a_fast, fast, slow), gs_a)
    gs_b = np.where(overtaking, np.where(a_fast, slow, fast), gs_b)
    return (trk_a, np.mod(trk_a + dtrk, 360.0)), (gs_a, gs_b)


def _planted(
    rng: np.random.Generator, n: int, H: float, V: float, duration_s: float
) -> dict[str, FloatArray | IntArray]:
    """Designs of ``n`` planted pairs in each centre's tangent plane (time 0 = CPA)."""
    kind = rng.choice(len(KINDS), size=n, p=KIND_SHARES)
    trk_a, trk_b, gs_a, gs_b = (np.zeros(n) for _ in range(4))
    todo = np.ones(n, dtype=bool)
    for _ in range(100):  # redraw the few pairs that close too slowly
        k = int(todo.sum())
        if k == 0:
            break
        tracks, speeds = _horizontal(rng, kind[todo])
        trk_a[todo], trk_b[todo] = tracks
        gs_a[todo], gs_b[todo] = speeds
        closing = np.linalg.norm(
            _unit(trk_b) * gs_b[:, None] - _unit(trk_a) * gs_a[:, None], axis=1
        )
        todo = closing < MIN_CLOSING_KT
    vertical = kind == KINDS.index("vertical")
    v_a = _unit(trk_a) * kt_to_mps(gs_a)[:, None]
    v_b = _unit(trk_b) * kt_to_mps(gs_b)[:, None]
    w = v_b - v_a
    w_hat = w / np.linalg.norm(w, axis=1)[:, None]
    normal = np.column_stack([-w_hat[:, 1], w_hat[:, 0]]) * rng.choice([-1.0, 1.0], n)[:, None]
    d_cpa = nm_to_m(np.where(rng.random(n) < 0.3, 0.0, rng.uniform(0.0, 4.5, n)))
    m = normal * d_cpa[:, None]  # b minus a at CPA (m)

    # Vertical: level pairs offset by < 900 ft (40 % co-altitude); or a climber through a level.
    level_dz = np.where(rng.random(n) < 0.4, 0.0, np.round(rng.uniform(-900.0, 900.0, n)))
    climb_vs = rng.uniform(1000.0, 2500.0, n) * rng.choice([-1.0, 1.0], n)  # ft/min
    climber_b = rng.random(n) < 0.5
    t_x = rng.uniform(-20.0, 20.0, n)  # climber crosses the level at this time from CPA (s)
    vs_a = np.where(vertical & ~climber_b, climb_vs, 0.0)
    vs_b = np.where(vertical & climber_b, climb_vs, 0.0)
    dvz = fpm_to_fps(vs_b - vs_a)
    dz0 = np.where(vertical, -dvz * t_x, level_dz)  # b minus a at CPA (ft)

    tau_in, tau_out = _loss_window(m, w, dz0, dvz, H, V)  # relative to CPA (s)
    t_loss = rng.uniform(60.0, 280.0, n)
    tau0 = tau_in - t_loss  # the start, relative to CPA (negative)

    # Altitudes: the level (a's at CPA), within bounds for the whole run.
    lvl_lo = np.full(n, 5000.0)
    lvl_hi = np.full(n, 40000.0)
    climb_fps = fpm_to_fps(np.abs(climb_vs))
    up = climb_vs > 0
    before = (t_x - tau0) * climb_fps  # altitude gained/lost from the start to the crossing
    after = (tau0 + duration_s - t_x) * climb_fps
    lo_v = np.where(up, 2000.0 + before, 2000.0 + after)
    hi_v = np.where(up, 44000.0 - after, 44000.0 - before)
    lo = np.where(vertical, np.maximum(lo_v, np.minimum(lvl_lo, hi_v)), lvl_lo)
    hi = np.where(vertical, np.minimum(hi_v, np.maximum(lvl_hi, lo_v)), lvl_hi)
    level = np.round(rng.uniform(lo, np.maximum(hi, lo)) / 100.0) * 100.0
    # A climbing a is offset from the level at CPA by its climb since crossing it.
    alt_a_cpa = np.where(vertical & ~climber_b, level - dz0, level)
    alt_b_cpa = alt_a_cpa + dz0

    # Positions at CPA: midpoint at the centre.
    return {
        "kind": kind,
        "pos_a": -0.5 * m + v_a * tau0[:, None],
        "pos_b": 0.5 * m + v_b * tau0[:, None],
        "trk_a": trk_a,
        "trk_b": trk_b,
        "gs_a": gs_a,
        "gs_b": gs_b,
        "alt_a": alt_a_cpa + fpm_to_fps(vs_a) * tau0,
        "alt_b": alt_b_cpa + fpm_to_fps(vs_b) * tau0,
        "vs_a": vs_a,
        "vs_b": vs_b,
        "t_loss_s": t_loss,
        "t_cpa_s": -tau0,
        "t_out_s": tau_out - tau0,
        "d_cpa_nm": m_to_nm(d_cpa),
        "dz_cpa_ft": dz0,
    }


def _to_geodetic(
    c_lat: FloatArray, c_lon: FloatArray, en_m: FloatArray, trk_deg: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Tangent-plane points (east, north in m) and tracks at centres → lat, lon, local track."""
    basis = enu_basis(c_lat, c_lon)
    p = geodetic_to_ecef(c_lat, c_lon, 0.0)
    p = p + en_m[:, :1] * basis[:, 0, :] + en_m[:, 1:] * basis[:, 1, :]
    lat, lon, _ = ecef_to_geodetic(p)
    u = _unit(trk_deg)
    v = u[:, :1] * basis[:, 0, :] + u[:, 1:] * basis[:, 1, :]
    b1 = enu_basis(lat, lon)
    trk = np.degrees(
        np.arctan2(np.einsum("ij,ij->i", v, b1[:, 0, :]), np.einsum("ij,ij->i", v, b1[:, 1, :]))
    )
    return np.asarray(lat), np.mod(np.asarray(lon) + 180.0, 360.0) - 180.0, np.mod(trk, 360.0)


def make_encounters(
    n: int,
    *,
    seed: int = 0,
    background: tuple[int, int] = (1, 3),
    horizontal_nm: float = 5.0,
    vertical_ft: float = 1000.0,
    duration_s: float = 480.0,
    centres: tuple[FloatArray, FloatArray] | None = None,
) -> Encounters:
    """``n`` planted encounters with ``background`` (min, max) extra aircraft each.

    ``horizontal_nm``/``vertical_ft`` are the minima the conflicts are designed
    against; ``duration_s`` the run length over which climbers must stay within
    2,000–44,000 ft. Deterministic for a given ``seed``. ``centres`` (deg; default
    :func:`lattice_centres` of ``n``) places the encounters.
    """
    rng = np.random.default_rng(seed)
    H = nm_to_m(horizontal_nm)
    V = vertical_ft
    c_lat, c_lon = lattice_centres(n) if centres is None else centres
    p = _planted(rng, n, H, V, duration_s)

    # Background aircraft: members 2.. of each encounter.
    n_bg = rng.integers(background[0], background[1] + 1, n)
    size = 2 + n_bg
    group = np.repeat(np.arange(n), size)
    member = np.arange(group.size) - np.repeat(np.cumsum(size) - size, size)
    bg = member >= 2
    n_ac = group.size
    ia = np.flatnonzero(member == 0)
    ib = np.flatnonzero(member == 1)

    en = np.zeros((n_ac, 2))
    trk = np.zeros(n_ac)
    gs = np.zeros(n_ac)
    alt = np.zeros(n_ac)
    vs = np.zeros(n_ac)
    en[ia], en[ib] = p["pos_a"], p["pos_b"]
    trk[ia], trk[ib] = p["trk_a"], p["trk_b"]
    gs[ia], gs[ib] = p["gs_a"], p["gs_b"]
    alt[ia], alt[ib] = p["alt_a"], p["alt_b"]
    vs[ia], vs[ib] = p["vs_a"], p["vs_b"]
    mean_alt = 0.5 * (alt[ia] + alt[ib])

    # Draw the background; redraw any that starts within 6 NM and 1,000 ft of another member.
    todo = bg.copy()
    for _ in range(100):
        k = int(todo.sum())
        if k == 0:
            break
        g = group[todo]
        r0 = nm_to_m(rng.uniform(12.0, 35.0, k))
        b0 = rng.uniform(0.0, 360.0, k)
        en[todo] = _unit(b0) * r0[:, None]
        aim = _unit(rng.uniform(0.0, 360.0, k)) * nm_to_m(np.sqrt(rng.random(k)) * 15.0)[:, None]
        heading = aim - en[todo]
        trk[todo] = np.degrees(np.arctan2(heading[:, 0], heading[:, 1]))
        gs[todo] = rng.uniform(150.0, 500.0, k)
        alt[todo] = np.clip(
            np.round((mean_alt[g] + rng.uniform(-3000.0, 3000.0, k)) / 100.0) * 100.0,
            4000.0,
            41000.0,
        )
        vs[todo] = np.where(
            rng.random(k) < 0.7, 0.0, rng.uniform(500.0, 2000.0, k) * rng.choice([-1.0, 1.0], k)
        )
        todo = bg & _crowded(en, alt, group, size, nm_to_m(6.0), V)
    else:  # pragma: no cover - 100 redraws never all fail in practice
        raise RuntimeError("could not place background aircraft apart")

    lat, lon, track = _to_geodetic(c_lat[group], c_lon[group], en, trk)
    party = np.asarray(PARTIES)[rng.integers(0, len(PARTIES), n_ac)]
    # The planted pair: two different parties.
    pa = rng.integers(0, len(PARTIES), n)
    pb = np.mod(pa + rng.integers(1, len(PARTIES), n), len(PARTIES))
    party[ia] = np.asarray(PARTIES)[pa]
    party[ib] = np.asarray(PARTIES)[pb]
    ids = np.char.add(
        np.char.add("E", np.char.zfill(group.astype(str), 5)), np.char.add("-", member.astype(str))
    )
    return Encounters(
        id=ids.astype(np.str_),
        party=party.astype(np.str_),
        group=group.astype(np.int64),
        lat=lat,
        lon=lon,
        alt_ft=alt,
        gs_kt=gs,
        track_deg=track,
        vs_fpm=vs,
        planted_a=ia.astype(np.int64),
        planted_b=ib.astype(np.int64),
        kind=np.asarray(p["kind"], dtype=np.int64),
        center_lat=c_lat,
        center_lon=c_lon,
        t_loss_s=np.asarray(p["t_loss_s"]),
        t_cpa_s=np.asarray(p["t_cpa_s"]),
        t_out_s=np.asarray(p["t_out_s"]),
        d_cpa_nm=np.asarray(p["d_cpa_nm"]),
        dz_cpa_ft=np.asarray(p["dz_cpa_ft"]),
    )


def encounters_of_seeds(n: int, seeds: Sequence[int], **kw: Any) -> Encounters:
    """``n`` encounters of each seed (as :func:`make_encounters` designs them), flown together.

    Seed ``seeds[k]`` gives encounters ``k·n`` to ``(k + 1)·n − 1``, placed on one
    lattice of ``n·len(seeds)`` centres so no two encounters interact; ``kw`` go
    to :func:`make_encounters`. One run then measures every seed at the cost of one
    step loop.
    """
    c_lat, c_lon = lattice_centres(n * len(seeds))
    parts = [
        make_encounters(
            n, seed=s, centres=(c_lat[k * n : (k + 1) * n], c_lon[k * n : (k + 1) * n]), **kw
        )
        for k, s in enumerate(seeds)
    ]
    offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])
    group = np.concatenate([p.group + k * n for k, p in enumerate(parts)])
    member = np.concatenate([np.char.partition(p.id, "-")[:, 2] for p in parts])
    ids = np.char.add(
        np.char.add("E", np.char.zfill(group.astype(str), 5)), np.char.add("-", member)
    )
    cat = {name: np.concatenate([getattr(p, name) for p in parts]) for name in _PER_AIRCRAFT}
    cat.update({name: np.concatenate([getattr(p, name) for p in parts]) for name in _PER_ENCOUNTER})
    cat["id"] = ids.astype(np.str_)
    cat["planted_a"] = np.concatenate(
        [p.planted_a + o for p, o in zip(parts, offsets, strict=True)]
    )
    cat["planted_b"] = np.concatenate(
        [p.planted_b + o for p, o in zip(parts, offsets, strict=True)]
    )
    return Encounters(group=group.astype(np.int64), **cat)


def _crowded(
    en: FloatArray, alt: FloatArray, group: IntArray, size: IntArray, h_m: float, v_ft: float
) -> BoolArray:
    """Aircraft within ``h_m`` and ``v_ft`` of another member of their encounter."""
    start = np.cumsum(size) - size
    i, j = np.triu_indices(MAX_GROUP, 1)
    valid = j[None, :] < size[:, None]
    a = (start[:, None] + i[None, :])[valid]
    b = (start[:, None] + j[None, :])[valid]
    close = (np.linalg.norm(en[a] - en[b], axis=1) < h_m) & (np.abs(alt[a] - alt[b]) < v_ft)
    out = np.zeros(group.size, dtype=bool)
    out[a[close]] = True
    out[b[close]] = True
    return out
