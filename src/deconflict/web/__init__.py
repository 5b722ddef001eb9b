"""The live map: a page the broker serves at ``/map``, with MapLibre GL JS bundled.

:func:`~deconflict.web.routes.mount_map` adds the page, its static files and the
offline basemap to a broker application (``deconflict serve`` does). The page logs in
with a party's token (kept in ``sessionStorage``), reads the broker's ``/stream``
WebSocket (the ``deconflict.map`` feed: its own aircraft each cycle, its alerts) and
its REST endpoints (agreement, alerts, hotline). See ``docs/map.md``.
"""
