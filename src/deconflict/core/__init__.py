"""The pure numeric core: numpy (+ shapely, pyproj, h3), no I/O, no globals."""
