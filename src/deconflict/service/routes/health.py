"""``GET /health``: does the database answer (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from deconflict.service.deps import Repo
from deconflict.service.schemas import Health, Problem

router = APIRouter()


@router.get(
    "/health", operation_id="health", response_model=Health, responses={503: {"model": Problem}}
)
def health(repo: Repo) -> Health | JSONResponse:
    """200 when the database answers (no authentication)."""
    if repo.health():
        return Health(status="ok")
    return JSONResponse({"detail": "database unavailable"}, status_code=503)
