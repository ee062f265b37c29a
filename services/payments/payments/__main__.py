"""``python -m payments``: serve the API with the settings from the environment."""

from eventkit.service import serve

from payments.config import Settings
from payments.main import create_app


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
