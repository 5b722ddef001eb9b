"""Tactical deconfliction, the pure numeric core: states, pairs, detection, alerts, advice."""
