"""Fast-time simulation: aircraft fly coordinated advisories in closed loop.

- :mod:`deconflict.sim.kinematics`: point-mass fleet on the WGS84 ellipsoid,
  turning and changing vertical speed within limits (vectorised).
- :mod:`deconflict.sim.encounters`: planted encounters (head-on, crossing,
  overtaking, vertical) with background traffic, spread over the globe.
- :mod:`deconflict.sim.pilots`: the pilot model (reaction delay, following,
  release when clear of conflict).
- :mod:`deconflict.sim.records`: what a run records per pair and per aircraft.
- :mod:`deconflict.sim.closed_loop`: the loop, :func:`~deconflict.sim.closed_loop.simulate`.
- :mod:`deconflict.sim.outcome`: a run with advisories against one without
  (resolution figures, the per-pair table).

``bench/resolve.py`` runs the full closed-loop benchmark.
"""
