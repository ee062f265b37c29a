"""Each service's Settings class, by service name: what a deployment file's environment is
checked against (variable names are the fields, upper-cased)."""

from __future__ import annotations

from console.config import Settings as ConsoleSettings
from notifications.config import Settings as NotificationsSettings
from orders.config import Settings as OrdersSettings
from payments.config import Settings as PaymentsSettings
from pydantic_settings import BaseSettings

SETTINGS: dict[str, type[BaseSettings]] = {
    "payments": PaymentsSettings,
    "orders": OrdersSettings,
    "notifications": NotificationsSettings,
    "console": ConsoleSettings,
}
CONSUMERS = ("orders", "notifications")


def default_port(name: str) -> int:
    return int(SETTINGS[name].model_fields["port"].default)


def setting_names(name: str) -> set[str]:
    """The environment variables the service's Settings read."""
    return {field.upper() for field in SETTINGS[name].model_fields}
