"""The engine's one error family.

Services raise these with a message a user can act on; the API layer maps each
class to Docker's status code in one table (`engine.api.server.STATUS_FOR`).
Anything else that escapes a handler is a real fault and becomes a 500.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine reports to a client on purpose."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(EngineError):
    """The request is malformed or names something impossible (400)."""

    status = 400


class Forbidden(EngineError):
    """Never allowed here: removing a pre-defined network, overlapping address pools (403)."""

    status = 403


class NotFound(EngineError):
    """No such container, image, exec, network or volume (404)."""

    status = 404


class Conflict(EngineError):
    """The name is taken, the image is in use, the container is not running (409)."""

    status = 409


class NotModified(EngineError):
    """Start of a started container, stop of a stopped one (304, empty body)."""

    status = 304


class NotImplementedYet(EngineError):
    """An API Berth does not offer (501)."""

    status = 501


class Unavailable(EngineError):
    """The engine is shutting down or a dependency is missing (503)."""

    status = 503


class SystemFault(EngineError):
    """A host-side operation failed for reasons the client cannot fix (500)."""

    status = 500
