"""Data files bundled with the package (the demo snapshot of real traffic)."""
