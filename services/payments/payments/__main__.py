"""``python -m payments``: serve the API with the settings from the environment."""

import uvicorn

from payments.config import Settings
from payments.main import create_app


def main() -> None:
    settings = Settings()
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level
    )


if __name__ == "__main__":
    main()
