"""``python -m notifications``: serve the API and consume the notification stream."""

from servicekit import serve

from notifications.bootstrap import create_app
from notifications.config import Settings


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
