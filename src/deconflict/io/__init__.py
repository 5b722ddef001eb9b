"""File readers and writers at the edge: states, agreements, tables."""
