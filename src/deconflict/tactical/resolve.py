"""Coordinated complementary advisories: each party computes its half, identically.

For each conflicting pair the decision depends only on the pair's shared geometry
(:class:`~deconflict.tactical.detect.PairGeometry`, which swapping the pair negates
exactly) and the agreement's :class:`~deconflict.agreement.ResolutionRules`.
So each party, from its own aircraft and the intruder alone, reaches the same
decision and flies the complementary half of it:

* **Vertical first** (as TCAS): the aircraft above climbs, the one below descends,
  so neither crosses the other's level; the crossing sense is taken only where it
  clears and the other does not. Level at the same altitude, the one above at
  closest approach climbs; a full tie is broken by a keyed hash of the aircraft
  ids as their parties report them, and of the party names where the two ids are
  equal (``tie_break = "id_hash"``, see :func:`tie_hashes`): what every side sees
  alike, never an internal key nor who asked first. A manoeuvre that cannot
  clear in full asks for the full rate. The relative vertical rate needed to reach
  ``V·(1 + margin)`` over the whole horizontal-loss window, after the reaction delay and a vertical
  acceleration ramp, is shared equally (the other takes what one cannot, within
  ``max_vs_fpm``); it is refused if an aircraft would leave
  ``[min_alt_ft, max_alt_ft]``.
* **Turn** when the vertical manoeuvre is impossible or insufficient: both
  aircraft turn by the same angle with the same handedness, which rotates their
  relative velocity by that angle and never brings them towards each other; the
  side is the one that widens the miss distance (right on an exact head-on, as
  the rules of the air say), and the angle the smallest that gives
  ``H·(1 + margin)`` at closest approach.
* **Multi-threat**: an aircraft in several conflicts flies the most demanding of
  its advisories when they agree in kind and sense, and is flagged
  ``no_safe_manoeuvre`` when they contradict each other.
* **Held sense** (as TCAS II's reversal logic): once issued, a conflict's manoeuvre
  (vertical sense or turn side) is kept, strengthened as needed, while it still
  restores the minima themselves (without the margin); it is replaced only when it
  no longer does and the fresh choice clears with the margin, or when a vertical
  sense would leave the altitude limits. Every replacement is a counted *reversal*
  (:attr:`PairAdvice.reversed`). The margin is the hysteresis: a pair whose best
  choice hovers at a boundary does not flip from one snapshot to the next.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from deconflict.agreement import Agreement
from deconflict.tactical.detect import Kinematics, PairGeometry, Windows
from deconflict.tactical.hashing import U64, combine, hash_strings
from deconflict.units import MINUTE, fps_to_fpm, nm_to_m

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]

MANOEUVRES = ("climb", "descend", "turn_left", "turn_right", "no_safe_manoeuvre")
CLIMB, DESCEND, TURN_LEFT, TURN_RIGHT, NO_SAFE = range(5)
#: The other aircraft's half of each pair manoeuvre, by code (index −1, none, gives −1).
_OTHER_HALF = np.array([DESCEND, CLIMB, TURN_LEFT, TURN_RIGHT, NO_SAFE, -1], dtype=np.int64)
#: Predicted vertical offsets at closest approach smaller than this are ties (ft).
TIE_FT = 1.0
#: Encounters within this angle of head-on (rad) are ties: both turn right, as the rules
#: of the air say (it costs at most twice this angle of extra turn).
TIE_HEAD_ON_RAD = float(np.radians(0.5))


@dataclass(frozen=True)
class PairAdvice:
    """Both halves of each pair's decision (``man_*`` index :data:`MANOEUVRES`).

    Target vertical speeds in ft/min, target tracks in degrees; ``clears`` tells
    whether the manoeuvre restores the minima with margin (else it is best effort).
    """

    a: IntArray
    b: IntArray
    man_a: IntArray
    man_b: IntArray
    vs_a_fpm: FloatArray
    vs_b_fpm: FloatArray
    trk_a_deg: FloatArray
    trk_b_deg: FloatArray
    turn_deg: FloatArray
    clears: BoolArray
    #: The pair's held manoeuvre was replaced (a counted reversal).
    reversed: BoolArray


@dataclass(frozen=True)
class _VerticalPlan:
    """Target vertical speeds (ft/s) of the upper and lower aircraft, and whether they work."""

    tgt_up: FloatArray
    tgt_lo: FloatArray
    ok: BoolArray  # clears with margin, in time, within rates and altitude limits
    feasible: BoolArray  # stays within the altitude limits


def _vertical(
    g: PairGeometry,
    win: Windows,
    b_upper: BoolArray,
    kin: Kinematics,
    a: IntArray,
    b: IntArray,
    ag: Agreement,
    margin: float | None = None,
) -> _VerticalPlan:
    """The vertical manoeuvre with ``b`` (where ``b_upper``) or ``a`` as the upper aircraft.

    ``margin`` (fraction of the minimum) defaults to the agreement's resolution margin.
    """
    rules = ag.resolution
    T = ag.lookahead_s
    Vm = ag.vertical_ft * (1.0 + (rules.margin if margin is None else margin))
    cap = rules.max_vs_fpm / MINUTE  # ft/s
    up_i = np.where(b_upper, b, a)
    lo_i = np.where(b_upper, a, b)
    sign = np.where(b_upper, 1.0, -1.0)
    s0 = sign * g.dz_ft  # upper minus lower, now (ft)
    sv = sign * g.dvz_fps  # its rate (ft/s)
    t1 = np.clip(win.h_in_s, 0.0, T)
    t2 = np.clip(win.h_out_s, 0.0, T)
    vs_up = kin.vs_fps[up_i]
    vs_lo = kin.vs_fps[lo_i]
    delta = np.zeros_like(s0)
    for _ in range(3):  # the ramp time depends on the rate change: iterate
        t_eff = rules.reaction_s + (delta / 2.0) / (2.0 * rules.vertical_accel_fps2)
        for t in (t1, t2):
            # A window start before the manoeuvre acts is judged when it acts.
            at = np.maximum(t, t_eff + 1.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                req = np.where(t2 > t_eff, (Vm - (s0 + sv * at)) / (at - t_eff), 0.0)
            delta = np.maximum(delta, req)  # never forget a need found earlier
    t_eff = rules.reaction_s + (delta / 2.0) / (2.0 * rules.vertical_accel_fps2)
    # Separation must already hold at any part of the window before the manoeuvre acts.
    early = np.minimum(t2, t_eff)
    in_time = ~(t1 < t_eff) | ((s0 + sv * t1 >= Vm) & (s0 + sv * early >= Vm))
    # Share the rate change; the other takes what one cannot, within the cap.
    room_up = np.maximum(cap - vs_up, 0.0)
    room_lo = np.maximum(cap + vs_lo, 0.0)
    give_up = np.minimum(delta / 2.0, room_up)
    give_lo = np.minimum(delta - give_up, room_lo)
    give_up = np.minimum(delta - give_lo, room_up)
    enough = (give_up + give_lo >= delta * (1.0 - 1e-9)) & in_time
    # Best effort (it cannot clear in full): the full rate, never "no change".
    give_up = np.where(enough, give_up, room_up)
    give_lo = np.where(enough, give_lo, room_lo)
    tgt_up = vs_up + give_up
    tgt_lo = vs_lo - give_lo
    # Altitude limits at the end of the protected window.
    horizon = np.maximum(t2, t_eff)
    alt_up = kin.alt_ft[up_i] + vs_up * t_eff + tgt_up * (horizon - t_eff)
    alt_lo = kin.alt_ft[lo_i] + vs_lo * t_eff + tgt_lo * (horizon - t_eff)
    feasible = (alt_up <= rules.max_alt_ft) & (alt_lo >= rules.min_alt_ft)
    return _VerticalPlan(tgt_up, tgt_lo, enough & feasible, feasible)


def _turn(
    g: PairGeometry,
    win: Windows,
    ag: Agreement,
    side: FloatArray | None = None,
    margin: float | None = None,
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Turn angle (deg, same for both), sense (+1 right, −1 left) and sufficiency.

    The side is the one that widens the miss distance, or ``side`` (+1 right, −1
    left) where given; ``margin`` defaults to the agreement's resolution margin.
    """
    rules = ag.resolution
    Hm = nm_to_m(ag.horizontal_nm) * (1.0 + (rules.margin if margin is None else margin))
    psi = np.zeros(g.r.shape[0])
    for _ in range(3):  # the turn's own duration delays it: iterate
        t_eff = rules.reaction_s + psi / (2.0 * rules.turn_rate_dps)
        r_e = g.r + g.w * t_eff[:, None]
        to_other = -r_e
        cross = np.einsum("ij,ij->i", np.cross(to_other, g.w), g.up)
        dot = np.einsum("ij,ij->i", to_other, g.w)
        phi = np.arctan2(cross, dot)  # angle from "towards the other" to w, counter-clockwise
        dist = np.linalg.norm(r_e, axis=1)
        with np.errstate(invalid="ignore"):
            phi_req = np.arcsin(np.clip(Hm / np.maximum(dist, 1e-9), 0.0, 1.0))
        if side is None:
            psi = np.degrees(np.maximum(phi_req - np.abs(phi), 0.0))
        else:  # a right turn by psi makes phi - psi, a left one phi + psi
            psi = np.degrees(np.maximum(phi_req + side * phi, 0.0))
    # Rotating both velocities clockwise (a right turn) rotates w clockwise, i.e.
    # lowers phi: turn right when phi < 0, left when phi > 0, right on a near tie.
    left = phi > TIE_HEAD_ON_RAD if side is None else side < 0.0
    sense = np.where(left, -1.0, 1.0)
    with np.errstate(invalid="ignore"):
        psi = np.where(
            left,
            np.degrees(np.maximum(phi_req - phi, 0.0)),
            np.degrees(np.maximum(phi_req + phi, 0.0)),
        )
    sufficient = (dist > Hm) & (psi <= rules.max_turn_deg) & (win.t_in_s >= t_eff)
    return psi, sense, sufficient


@dataclass(frozen=True)
class PairOptions:
    """Each pair's fresh decision, and what each manoeuvre it may hold would ask now.

    Row ``c`` of the ``(4, n)`` arrays is aircraft ``a`` holding manoeuvre ``c``
    (:data:`CLIMB`, :data:`DESCEND`, :data:`TURN_LEFT`, :data:`TURN_RIGHT`; ``b``
    flies the other half): target vertical speeds (ft/min), turn angle (deg),
    ``clears`` (with the margin), ``holds`` (restores at least the minima
    themselves) and ``feasible`` (within the altitude limits).
    """

    fresh: PairAdvice
    track_a_deg: FloatArray
    track_b_deg: FloatArray
    vs_a_fpm: FloatArray
    vs_b_fpm: FloatArray
    turn_deg: FloatArray
    clears: BoolArray
    holds: BoolArray
    feasible: BoolArray
    #: False: the held rows were not computed (every conflict is new).
    held: bool = True


def pair_options(
    kin: Kinematics,
    track_deg: FloatArray,
    a: IntArray,
    b: IntArray,
    g: PairGeometry,
    win: Windows,
    tie_a: U64,
    tie_b: U64,
    ag: Agreement,
    *,
    held: bool = True,
) -> PairOptions:
    """The fresh decision for conflicting pairs ``(a, b)`` and every manoeuvre they may hold.

    ``tie_a``/``tie_b`` come from :func:`tie_hashes`: on a vertical tie the top bit
    of their order-free combination says whether the aircraft with the smaller hash
    climbs, so the rule never depends on the order in which the pair is given.
    ``held=False`` skips the held manoeuvres (no conflict holds one: all new).
    """
    # Preferred sense: no crossing. The aircraft above now climbs; level now, the one
    # above at closest approach; level then too, the tie hash decides.
    dz_cpa = g.dz_ft + g.dvz_fps * win.t_cpa_s  # b minus a at closest approach (ft)
    smaller_climbs = (order_free_pair_hash(tie_a, tie_b) >> np.uint64(63)).astype(bool)
    b_climbs_on_tie = np.where(smaller_climbs, tie_b < tie_a, tie_b > tie_a)
    by_cpa = np.where(np.abs(dz_cpa) < TIE_FT, b_climbs_on_tie, dz_cpa > 0.0)
    preferred = np.where(np.abs(g.dz_ft) < TIE_FT, by_cpa, g.dz_ft > 0.0)
    n = a.size
    b_up = _vertical(g, win, np.ones(n, dtype=bool), kin, a, b, ag)
    a_up = _vertical(g, win, np.zeros(n, dtype=bool), kin, a, b, ag)
    keep = _select_plan(preferred, b_up, a_up)
    cross = _select_plan(~preferred, b_up, a_up)
    # Cross the other's level only where that clears and the preferred sense does not.
    use_cross = ~keep.ok & cross.ok
    b_upper = np.where(use_cross, ~preferred, preferred)
    tgt_up = np.where(use_cross, cross.tgt_up, keep.tgt_up)
    tgt_lo = np.where(use_cross, cross.tgt_lo, keep.tgt_lo)
    v_ok = keep.ok | cross.ok
    v_feasible = np.where(use_cross, cross.feasible, keep.feasible)
    psi, sense, h_ok = _turn(g, win, ag)

    vertical = v_ok | (~h_ok & v_feasible)
    clears = np.where(vertical, v_ok, h_ok)
    max_turn = ag.resolution.max_turn_deg
    psi = np.minimum(psi, max_turn)
    turn_code = np.where(sense > 0, TURN_RIGHT, TURN_LEFT)
    man_b = np.where(vertical, np.where(b_upper, CLIMB, DESCEND), turn_code)
    man_a = np.where(vertical, np.where(b_upper, DESCEND, CLIMB), turn_code)
    vs_b = fps_to_fpm(np.where(vertical, np.where(b_upper, tgt_up, tgt_lo), kin.vs_fps[b]))
    vs_a = fps_to_fpm(np.where(vertical, np.where(b_upper, tgt_lo, tgt_up), kin.vs_fps[a]))
    turn = np.where(vertical, 0.0, sense * psi)
    fresh = PairAdvice(
        a=a,
        b=b,
        man_a=man_a.astype(np.int64),
        man_b=man_b.astype(np.int64),
        vs_a_fpm=vs_a,
        vs_b_fpm=vs_b,
        trk_a_deg=np.mod(track_deg[a] + turn, 360.0),
        trk_b_deg=np.mod(track_deg[b] + turn, 360.0),
        turn_deg=np.where(vertical, 0.0, psi),
        clears=clears,
        reversed=np.zeros(n, dtype=bool),
    )

    if not held:
        never = np.zeros((4, n), dtype=bool)
        unused = np.full((4, n), np.nan)
        return PairOptions(
            fresh, track_deg[a], track_deg[b], unused, unused, unused, never, never, never, False
        )
    # Each manoeuvre held: with the margin (targets), and against the bare minima.
    b_up0 = _vertical(g, win, np.ones(n, dtype=bool), kin, a, b, ag, margin=0.0)
    a_up0 = _vertical(g, win, np.zeros(n, dtype=bool), kin, a, b, ag, margin=0.0)
    turns = [_turn(g, win, ag, np.full(n, side)) for side in (-1.0, 1.0)]
    turns0 = [_turn(g, win, ag, np.full(n, side), margin=0.0) for side in (-1.0, 1.0)]
    vs_a_now = fps_to_fpm(kin.vs_fps[a])
    vs_b_now = fps_to_fpm(kin.vs_fps[b])
    true = np.ones(n, dtype=bool)
    return PairOptions(
        fresh=fresh,
        track_a_deg=track_deg[a],
        track_b_deg=track_deg[b],
        # a climbs: a is the upper one; a descends: b is.
        vs_a_fpm=np.stack([fps_to_fpm(a_up.tgt_up), fps_to_fpm(b_up.tgt_lo), vs_a_now, vs_a_now]),
        vs_b_fpm=np.stack([fps_to_fpm(a_up.tgt_lo), fps_to_fpm(b_up.tgt_up), vs_b_now, vs_b_now]),
        turn_deg=np.stack([np.zeros(n), np.zeros(n), *(np.minimum(t[0], max_turn) for t in turns)]),
        clears=np.stack([a_up.ok, b_up.ok, turns[0][2], turns[1][2]]),
        holds=np.stack(
            [
                a_up.ok | a_up0.ok,
                b_up.ok | b_up0.ok,
                turns[0][2] | turns0[0][2],
                turns[1][2] | turns0[1][2],
            ]
        ),
        feasible=np.stack([a_up.feasible, b_up.feasible, true, true]),
    )


def _select_plan(b_upper: BoolArray, b_up: _VerticalPlan, a_up: _VerticalPlan) -> _VerticalPlan:
    """The plan with ``b`` above where ``b_upper``, else with ``a`` above."""
    return _VerticalPlan(
        tgt_up=np.where(b_upper, b_up.tgt_up, a_up.tgt_up),
        tgt_lo=np.where(b_upper, b_up.tgt_lo, a_up.tgt_lo),
        ok=np.where(b_upper, b_up.ok, a_up.ok),
        feasible=np.where(b_upper, b_up.feasible, a_up.feasible),
    )


def choose(opts: PairOptions, held_a: IntArray, sel: slice | IntArray = slice(None)) -> PairAdvice:
    """The advice for pairs ``sel`` of ``opts``, given aircraft ``a``'s held manoeuvre.

    ``held_a`` (aligned with ``sel``) is the manoeuvre code ``a`` was given in the
    conflict's previous snapshot, −1 for a new conflict. A held manoeuvre is kept
    (with the targets it needs now) while it restores the minima; it is replaced by
    the fresh choice only when it no longer does and the fresh choice clears with
    the margin, or when a vertical sense would leave the altitude limits. A
    replacement by a different manoeuvre is a reversal.
    """
    f = opts.fresh
    held_a = np.asarray(held_a, dtype=np.int64)
    c = np.clip(held_a, 0, 3)
    col = np.arange(opts.holds.shape[1])[sel]
    has = held_a >= 0
    if has.any() and not opts.held:
        raise ValueError("options made with held=False cannot hold a manoeuvre")
    holds = opts.holds[c, col]
    feasible = opts.feasible[c, col]
    fresh_man_a = f.man_a[sel]
    replace = has & ~holds & (f.clears[sel] | ~feasible)
    held = has & ~replace
    turn_held = np.where(c == TURN_LEFT, -1.0, 1.0) * opts.turn_deg[c, col]
    man_a = np.where(held, c, fresh_man_a)
    return PairAdvice(
        a=f.a[sel],
        b=f.b[sel],
        man_a=man_a,
        man_b=np.where(held, _OTHER_HALF[c], f.man_b[sel]),
        vs_a_fpm=np.where(held, opts.vs_a_fpm[c, col], f.vs_a_fpm[sel]),
        vs_b_fpm=np.where(held, opts.vs_b_fpm[c, col], f.vs_b_fpm[sel]),
        trk_a_deg=np.where(
            held, np.mod(opts.track_a_deg[sel] + turn_held, 360.0), f.trk_a_deg[sel]
        ),
        trk_b_deg=np.where(
            held, np.mod(opts.track_b_deg[sel] + turn_held, 360.0), f.trk_b_deg[sel]
        ),
        turn_deg=np.where(held, opts.turn_deg[c, col], f.turn_deg[sel]),
        clears=np.where(held, opts.clears[c, col], f.clears[sel]),
        reversed=replace & (fresh_man_a != held_a),
    )


def tie_hashes(
    ids: StrArray, party: StrArray, a: IntArray, b: IntArray, key: str
) -> tuple[U64, U64]:
    """The vertical tie-break hashes of pairs ``(a, b)``: of the ids, of the parties if equal.

    ``ids`` are the aircraft ids as the parties report them (never an internal key)
    and ``party`` the party names, per aircraft, so every side computes the same
    hashes from the same picture; ``key`` is the agreement fingerprint.
    """
    involved, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    h = hash_strings(ids[involved], key=key)[inverse]
    h_a, h_b = h[: a.size], h[a.size :]
    same = h_a == h_b
    if same.any():
        h_a[same] = hash_strings(party[a[same]], key=key)
        h_b[same] = hash_strings(party[b[same]], key=key)
    return h_a, h_b


def other_half(manoeuvre: IntArray) -> IntArray:
    """The other aircraft's half of each pair manoeuvre (−1 stays −1)."""
    return _OTHER_HALF[np.asarray(manoeuvre, dtype=np.int64)]


def sense_from_halves(lower: IntArray, upper: IntArray) -> IntArray:
    """A pair's sense (the lower-keyed aircraft's code) from both halves' advised codes.

    Codes outside the four pair manoeuvres (``no_safe_manoeuvre``, −1, unknown) tell
    nothing; the lower's own code is used first, else the other half of the upper's.
    """
    lower = np.asarray(lower, dtype=np.int64)
    upper = np.asarray(upper, dtype=np.int64)
    usable_lo = (lower >= 0) & (lower < NO_SAFE)
    usable_up = (upper >= 0) & (upper < NO_SAFE)
    return np.where(usable_lo, lower, np.where(usable_up, other_half(upper), -1))


def manoeuvre_codes(names: npt.ArrayLike) -> IntArray:
    """Manoeuvre names → indices into :data:`MANOEUVRES` (−1 for any other name)."""
    ref = np.asarray(MANOEUVRES)
    names = np.asarray(names, dtype=np.str_)
    sorter = np.argsort(ref)
    pos = np.minimum(np.searchsorted(ref, names, sorter=sorter), ref.size - 1)
    code = sorter[pos]
    return np.where(ref[code] == names, code, -1).astype(np.int64)


def order_free_pair_hash(h_a: U64, h_b: U64) -> U64:
    """Combine two per-aircraft hashes independently of their order."""
    return combine(np.minimum(h_a, h_b), np.maximum(h_a, h_b))


@dataclass(frozen=True)
class AircraftAdvice:
    """One advisory per aircraft in conflict (``aircraft`` indexes the states)."""

    aircraft: IntArray
    manoeuvre: IntArray
    target_vs_fpm: FloatArray
    target_track_deg: FloatArray
    worst_pair: IntArray  # index into the pairs of its most urgent conflict


def per_aircraft(advice: PairAdvice, t_in_s: FloatArray, track_deg: FloatArray) -> AircraftAdvice:
    """Merge each aircraft's pair advisories into one (or ``no_safe_manoeuvre``)."""
    n_pairs = advice.a.size
    ac = np.concatenate([advice.a, advice.b])
    man = np.concatenate([advice.man_a, advice.man_b])
    vs = np.concatenate([advice.vs_a_fpm, advice.vs_b_fpm])
    turn = np.concatenate([advice.turn_deg, advice.turn_deg])
    pair = np.concatenate([np.arange(n_pairs), np.arange(n_pairs)])
    urgency = np.concatenate([t_in_s, t_in_s])
    if ac.size == 0:
        e = np.zeros(0, dtype=np.int64)
        return AircraftAdvice(e, e, np.zeros(0), np.zeros(0), e)
    # Sort by aircraft, then by urgency, so each group's first entry is its worst pair.
    order = np.lexsort((urgency, ac))
    ac, man, vs, turn, pair = ac[order], man[order], vs[order], turn[order], pair[order]
    start = np.flatnonzero(np.r_[True, ac[1:] != ac[:-1]])
    man_min = np.minimum.reduceat(man, start)
    man_max = np.maximum.reduceat(man, start)
    vs_max = np.maximum.reduceat(vs, start)
    vs_min = np.minimum.reduceat(vs, start)
    turn_max = np.maximum.reduceat(turn, start)
    agree = man_min == man_max
    manoeuvre = np.where(agree, man_min, NO_SAFE)
    target_vs = np.select(
        [manoeuvre == CLIMB, manoeuvre == DESCEND, manoeuvre == NO_SAFE],
        [vs_max, vs_min, np.nan],
        default=vs[start],
    )
    own_track = track_deg[ac[start]]
    target_track = np.select(
        [manoeuvre == TURN_RIGHT, manoeuvre == TURN_LEFT, manoeuvre == NO_SAFE],
        [np.mod(own_track + turn_max, 360.0), np.mod(own_track - turn_max, 360.0), np.nan],
        default=own_track,
    )
    return AircraftAdvice(
        aircraft=ac[start],
        manoeuvre=manoeuvre.astype(np.int64),
        target_vs_fpm=target_vs,
        target_track_deg=target_track,
        worst_pair=pair[start],
    )
