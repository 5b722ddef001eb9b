"""Protected airspace and planned operation volumes (pure: numpy, shapely, pyproj)."""
