"""``/map``: the live map page, its static files and the offline basemap, on the broker.

Nothing here is secret: the page, MapLibre GL JS and Natural Earth's lines are the
same for everyone; what a party sees comes from the authenticated endpoints and the
``/stream`` WebSocket. The page may talk to its own origin only (Content-Security-Policy),
so a script injected into it could not send a token elsewhere.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Literal

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette import status

from deconflict.data import basemap_text

#: The page's policy: its own origin only; MapLibre runs its worker from a blob: URL.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "worker-src blob:",
        "child-src blob:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def static_dir() -> str:
    """The folder of the page's files and the vendored MapLibre GL JS."""
    return str(files(__package__) / "static")


def mount_map(app: FastAPI) -> FastAPI:
    """Add ``GET /map``, ``/map/static/*`` and ``/map/basemap/{layer}.geojson`` to ``app``.

    None of them is in the OpenAPI schema (they are the page, not the API); none needs a
    token (the page asks for one, and sends it only to the API). Returns ``app``.
    """
    page = (files(__package__) / "static" / "map.html").read_text(encoding="utf-8")

    @app.get("/map", include_in_schema=False)
    def map_page() -> HTMLResponse:
        """The live map (a single page)."""
        return HTMLResponse(page, headers=PAGE_HEADERS)

    @app.get("/map/basemap/{layer}.geojson", include_in_schema=False)
    def basemap(layer: str) -> Response:
        """Natural Earth 1:50m borders or coastlines (GeoJSON), bundled."""
        if layer not in ("borders", "coastlines"):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Not Found")
        name: Literal["borders", "coastlines"] = layer  # type: ignore[assignment]
        return Response(
            basemap_text(name),
            media_type="application/geo+json",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.mount("/map/static", StaticFiles(directory=static_dir()), name="map-static")
    return app
