"""Fast-time simulation: aircraft fly coordinated advisories in closed loop.

- :mod:`deconflict.sim.kinematics`: point-mass fleet on the WGS84 ellipsoid,
  turning and changing vertical speed within limits (vectorised).
- :mod:`deconflict.sim.encounters`: planted encounters (head-on, crossing,
  overtaking, vertical) with background traffic, spread over the globe.
- :mod:`deconflict.sim.closed_loop`: the loop (advisories, pilot delay, return
  to the plan), per-pair outcomes and the resolution figures.

``bench/resolve.py`` runs the full closed-loop benchmark.
"""
