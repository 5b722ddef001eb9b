"""``/cycle``: one detection cycle on demand, for exercises run in lockstep.

A broker started with ``lockstep`` (``DECONFLICT_BROKER_LOCKSTEP=1``) keeps the
newest track time as its clock and runs no detection loop of its own: the exercise's
host (the admin) sends every party's states for one time step, then asks for a cycle.
The alert events of that cycle are stored and pushed as usual, then every ``/stream``
connection receives ``{"type": "cycle", "time": t, "events": n}``: its alerts of the
cycle at data time ``t`` (s) came before that frame. A broker not in lockstep answers
409.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from starlette import status

from deconflict.api.auth import Admin
from deconflict.service.deps import AlertHub, Detection
from deconflict.service.schemas import ERRORS, Problem

router = APIRouter()


class CycleOut(BaseModel):
    """One cycle: its data time (s; ``null`` before any track) and its alert events."""

    time: float | None
    events: int


@router.post(
    "/cycle",
    operation_id="post_cycle",
    response_model=CycleOut,
    responses={**ERRORS, 409: {"model": Problem}},
)
async def post_cycle(request: Request, admin: Admin, engine: Detection, hub: AlertHub) -> CycleOut:
    """Run one detection cycle now (lockstep brokers only); every stream hears ``cycle``."""
    if not request.app.state.lockstep:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="POST /cycle needs a broker started in lockstep"
        )
    state = request.app.state
    if getattr(state, "cycle_lock", None) is None:  # one cycle at a time
        state.cycle_lock = asyncio.Lock()
    async with state.cycle_lock:
        records = await asyncio.to_thread(engine.cycle)
        t = engine.clock()
        out = CycleOut(time=t if t > float("-inf") else None, events=len(records))
        hub.announce({"type": "cycle", "time": out.time, "events": out.events})
    return out
