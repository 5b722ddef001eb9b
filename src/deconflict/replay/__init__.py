"""Replay of recorded traffic archives (ADS-B) through the detector."""
