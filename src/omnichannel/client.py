"""A client of a running ``omni serve``: what the CLI uses while the server owns the home.

On the embedded default the server is the one process that may open the DuckDB file,
so a CLI command on the same home asks the server instead (``--home`` finds it through
the runtime file, see ``server_runtime``). Errors come back as the server's one-line
message, raised as the same ``OmniError`` kinds the library raises locally, so a
command prints the same thing whichever way it ran.

Example::

    runtime = read_runtime(settings.home)
    with ServerClient(runtime) as server:
        jobs = server.get("/api/jobs")
"""

from __future__ import annotations

import os
import sys
from typing import Any

import httpx

from omnichannel.errors import OmniError
from omnichannel.server_runtime import ServerRuntime, differing_environment

# What this process has already said (one note per server and variables, not per client).
_NOTED: set[tuple[int, tuple[str, ...]]] = set()


class ServerError(OmniError):
    """The running server refused or failed a request; the message is the server's."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ServerBusyError(ServerError):
    """The server is doing that already (HTTP 409), e.g. a job that is running."""


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip() or response.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, dict):
        return str(detail.get("message") or detail.get("reason") or detail)
    return str(detail)


def note_differing_environment(runtime: ServerRuntime) -> None:
    """Say on stderr which ``OMNI_*`` variables of this shell the server will not use."""
    names = differing_environment(runtime, os.environ)
    if names and (runtime.pid, tuple(names)) not in _NOTED:
        _NOTED.add((runtime.pid, tuple(names)))
        listed = ", ".join(names)
        sys.stderr.write(
            f"note: {listed} {'is' if len(names) == 1 else 'are'} set in this shell but "
            f"{runtime.describe()} started with {'it' if len(names) == 1 else 'them'} unset "
            "or set otherwise; this command runs there, with the server's settings. To use "
            "this shell's value, restart omni serve with it.\n"
        )


def cli_actor() -> str:
    from omnichannel.access.principal import cli_actor as named

    return named()


class ServerClient:
    """Calls the API of the server in a runtime file, with its local admin token."""

    def __init__(self, runtime: ServerRuntime, *, timeout: float = 600.0) -> None:
        self.runtime = runtime
        note_differing_environment(runtime)
        self._http = httpx.Client(
            base_url=runtime.url,
            # The local admin token lets the CLI in as an admin; the audit log names who.
            headers={"Authorization": f"Bearer {runtime.token}", "X-Omni-Actor": cli_actor()},
            timeout=timeout,
        )

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.response(method, path, **kwargs)
        return response.json() if response.content else None

    def response(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The answer itself (a file download, its headers); errors raised as in ``request``."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServerError(
                f"{self.runtime.describe()} owns this home but did not answer {method} {path} "
                f"({exc}); is it still starting or stopping?",
                0,
            ) from exc
        if response.status_code < 400:
            return response
        message = _message(response)
        if response.status_code == 409:
            raise ServerBusyError(message, 409)
        raise ServerError(message, response.status_code)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, json: Any = None, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        return self.request("POST", path, json=json, params=query)
