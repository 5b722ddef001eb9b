"""The party client: what each party runs beside its own systems.

It streams the party's own states to the broker (WebSocket, HTTP fallback) from a
file replay, JSON lines or a live SBS-1 feed, keeps every state in a local outbox
until the broker acknowledged it, and hands the alerts the broker pushes to a sink.
"""
