"""The errors every route uses, and how the API documents them.

A service raises ``Invalid`` (422, naming the field), ``NotFound`` (404) or ``Conflict`` (409);
``server.app`` turns them into JSON answers. ``answers(...)`` gives a route's ``responses=`` for
its OpenAPI document; ``document_errors(routers)`` adds what every route of a kind can answer
(404 under a path with an id, 401 where the admin token is needed, 400 for a body that is not
JSON, 413 for one over the server's limit), and the app's 405 handler names the path's methods
in ``Allow``: the document lists every status code the server gives, with the error body's
shape.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.routing import Match

__all__ = ["Conflict", "ErrorBody", "Invalid", "NotFound", "allowed_methods", "answers",
           "content", "document_errors"]


class Invalid(ValueError):
    """Bad input; ``issues`` are (location, message) pairs for a 422."""

    def __init__(self, issues: list[tuple[tuple[str | int, ...], str]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in issues))
        self.issues = issues


class NotFound(LookupError):
    """What the request names does not exist (404)."""


class Conflict(RuntimeError):
    """The request does not fit the resource's state (409)."""


class ImageServiceError(RuntimeError):
    """A request the image service could not answer; the message says why. ``invalid``: the
    request's fault (a bad checkpoint or value); otherwise the service's."""

    def __init__(self, message: str, *, invalid: bool = False) -> None:
        super().__init__(message)
        self.invalid = invalid


class ErrorBody(BaseModel):
    """Every error but a 422: what went wrong and what to change, in words."""

    detail: str = Field(description="What went wrong, and what to change.")


WHY = {
    400: "The body is not valid JSON.",
    401: "The server has an admin token and the request did not carry it.",
    403: "Not allowed from here (e.g. study administration through a proxy without a token).",
    404: "Nothing of that id (or no such file of it).",
    409: "The request does not fit the resource's current state.",
    413: "The request body is larger than the server accepts (GANSCOPE_MAX_REQUEST_BYTES).",
    503: "The image service (generators in a worker process) is unavailable; try again.",
}


def answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that can answer these error codes."""
    return {code: {"model": ErrorBody, "description": WHY[code]} for code in codes}


def content(*media_types: str, description: str = "Successful Response",
            code: int = 200) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route whose success answer is a file or text, not JSON."""
    return {code: {"description": description, "content": {
        media: {"schema": {"type": "string"}} if media.startswith("text/")
        else {"schema": {}} if media == "application/json"
        else {"schema": {"type": "string", "format": "binary"}} for media in media_types}}}


def allowed_methods(routes: list[APIRoute], scope: dict[str, Any]) -> list[str]:
    """The methods of every route whose path matches the request's."""
    methods: set[str] = set()
    for route in routes:
        if route.matches(scope)[0] != Match.NONE:
            methods |= route.methods or set()
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def document_errors(routers: list[APIRouter], *,
                    guards: dict[Any, tuple[int, ...]]) -> list[APIRoute]:
    """Add to each API route the error answers that follow from its shape (before the routers
    are included); ``guards`` maps a dependency (the admin check) to the codes it answers
    with. Returns the routes."""
    routes = [r for router in routers for r in router.routes if isinstance(r, APIRoute)]
    for route in routes:
        if not route.include_in_schema:
            continue
        codes: list[int] = []
        if route.param_convertors:  # a path with ids: the id may name nothing
            codes.append(404)
        for dep in route.dependant.dependencies:
            codes += guards.get(dep.call, ())
        if route.body_field is not None:
            codes += (400, 413)
        for code, spec in answers(*codes).items():
            route.responses.setdefault(code, spec)
    return routes
