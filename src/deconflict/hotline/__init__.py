"""The hotline: signed messages between parties over a primary and a backup channel."""
