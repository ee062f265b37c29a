"""``python -m console``: serve the page, its live feed and the API."""

from __future__ import annotations

from servicekit import serve

from console.bootstrap import create_app
from console.config import Settings
from console.lanes.hub import Hub


def main() -> None:
    settings = Settings()
    hub = Hub()
    # At shutdown uvicorn waits for open responses to finish, and an open page's ``/events``
    # never finishes by itself: end them first, so that it stops at once (each browser
    # reconnects, with its Last-Event-ID, to the next console).
    serve(create_app(settings, hub), settings, before_shutdown=hub.close_all)


if __name__ == "__main__":
    main()
