"""Errors as one-line ``{"detail": …}`` answers, shared by the broker and the backup relay."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from deconflict._util import one_line_error
from deconflict.errors import InputError


def install_error_handlers(app: FastAPI) -> None:
    """Bad input → 422 whose detail names the field (``body.messages: …``)."""

    @app.exception_handler(InputError)
    async def _input_error(_: Request, err: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, err: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": one_line_error(err.errors())}, status_code=422)

    @app.exception_handler(RecursionError)
    async def _too_deep(_: Request, err: RecursionError) -> JSONResponse:
        # The JSON readers refuse deep nesting first (io.json_file.MAX_DEPTH); this is
        # the last line of defence for any other reader.
        return JSONResponse({"detail": "input nested too deeply"}, status_code=400)
