"""``python -m notifications``: serve the API and consume the notification stream."""

import uvicorn

from notifications.config import Settings
from notifications.main import create_app


def main() -> None:
    settings = Settings()
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level
    )


if __name__ == "__main__":
    main()
