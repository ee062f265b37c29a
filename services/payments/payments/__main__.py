"""``python -m payments``: serve the API with the settings from the environment."""

from servicekit import serve

from payments.bootstrap import create_app
from payments.config import Settings


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
