"""``python -m console``: serve the page, its live feed and the API."""

from __future__ import annotations

import socket

import uvicorn

from console.bootstrap import create_app
from console.config import Settings
from console.feed import Hub


class Server(uvicorn.Server):
    """uvicorn's server, which ends every open event stream when it shuts down.

    At shutdown uvicorn waits for open responses to finish, and an open page's ``/events``
    never finishes by itself, so servicekit.serve would wait forever. Ending them first lets
    it stop at once; each browser reconnects, with its Last-Event-ID, to the next console.
    """

    def __init__(self, config: uvicorn.Config, hub: Hub) -> None:
        super().__init__(config)
        self.hub = hub

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.hub.close_all()
        await super().shutdown(sockets)


def main() -> None:
    settings = Settings()
    hub = Hub()
    app = create_app(settings, hub)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level=settings.log_level
    )
    Server(config, hub).run()


if __name__ == "__main__":
    main()
