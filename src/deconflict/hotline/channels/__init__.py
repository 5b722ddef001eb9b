"""The hotline's channels: one small transport protocol (:mod:`.base`) and its three channels.

:mod:`.websocket` (the broker's ``/hotline/ws``, the usual primary), :mod:`.nats`
(NATS JetStream as the primary, at scale) and :mod:`.http` (the backup relay's HTTP API).
"""
