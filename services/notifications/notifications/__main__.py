"""``python -m notifications``: serve the API and consume the notification stream."""

from eventkit.service import serve

from notifications.config import Settings
from notifications.main import create_app


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
