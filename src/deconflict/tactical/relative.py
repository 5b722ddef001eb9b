"""What one aircraft may be told about another: relative geometry only.

Need-to-know: a party learns the intruder's position relative to its own aircraft
(range, bearing, relative altitude, closure), never the intruder's identity or
absolute track.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace as dc_replace

import numpy as np
import numpy.typing as npt

from deconflict.geo import ecef_to_geodetic, enu_basis
from deconflict.tactical.detect import Kinematics, pair_geometry
from deconflict.tactical.state import TrafficState
from deconflict.units import fpm_to_fps, m_to_nm, mps_to_kt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Relative:
    """Intruder ``b`` seen from own aircraft ``a``: NM, degrees true, ft, kt (closing > 0)."""

    range_nm: FloatArray
    bearing_deg: FloatArray
    rel_alt_ft: FloatArray
    closure_kt: FloatArray


def relative_geometry(
    kin: Kinematics, lat_deg: FloatArray, lon_deg: FloatArray, own: IntArray, other: IntArray
) -> Relative:
    """Range, bearing (from own, true north), relative altitude and closure of each pair."""
    g = pair_geometry(kin, own, other)
    dist = np.linalg.norm(g.r, axis=1)
    basis = enu_basis(lat_deg[own], lon_deg[own]).reshape(-1, 3, 3)
    east = np.einsum("ij,ij->i", g.r, basis[:, 0, :])
    north = np.einsum("ij,ij->i", g.r, basis[:, 1, :])
    with np.errstate(invalid="ignore", divide="ignore"):
        closure = np.where(dist > 0, -np.einsum("ij,ij->i", g.r, g.w) / dist, 0.0)
    return Relative(
        range_nm=m_to_nm(dist),
        bearing_deg=np.mod(np.degrees(np.arctan2(east, north)), 360.0),
        rel_alt_ft=g.dz_ft,
        closure_kt=mps_to_kt(closure),
    )


def extrapolate(state: TrafficState, time_s: float) -> TrafficState:
    """Dead-reckon every state straight on to ``time_s`` (its tangent-plane path).

    Used to bring the latest reports of many aircraft, received at slightly
    different times, to one snapshot time before detection.
    """
    dt = time_s - state.time
    kin = Kinematics.from_state(state)
    pos = kin.pos + kin.vel * dt[:, None]
    lat, lon, _ = ecef_to_geodetic(pos)
    return dc_replace(
        state,
        time=np.full(len(state), float(time_s)),
        lat=np.asarray(lat, dtype=np.float64),
        lon=np.asarray(lon, dtype=np.float64),
        alt_ft=state.alt_ft + fpm_to_fps(state.vs_fpm) * dt,
    )
