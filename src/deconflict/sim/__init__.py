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

The scenario exercise (``deconflict sim``) flies whole scenarios with performance
limits instead:

- :mod:`deconflict.sim.scenario`: scenarios as data (a TOML file and its zones);
  :mod:`deconflict.sim.scenario_schema` what the file may say.
- :mod:`deconflict.sim.performance`: performance-limited flight along routes and orbits.
- :mod:`deconflict.sim.fleet`: a scenario's aircraft as a flight plan.
- :mod:`deconflict.sim.scenario_pilots`: the exercise's pilots (how they differ
  from the closed loop's is said there).
- :mod:`deconflict.sim.exercise`: the runner and the in-process advisor.
- :mod:`deconflict.sim.losses`: losses of separation, NMACs and zone violations,
  measured from a tracks table.
"""
