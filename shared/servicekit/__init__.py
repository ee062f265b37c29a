"""servicekit: the HTTP side every service shares, apart from the messaging core (eventkit).

An app factory, ``serve`` and the overrides a test may hand a composition root; errors as
problem details; the edge's input rules; liveness, readiness and the operator endpoints for dead
letters; the settings base classes.

``__all__`` is the whole public surface.
"""

from servicekit.app import ConsumerOverrides, fail_fast, serve, service_app
from servicekit.inputs import BodySizeLimit, JsonInteger, absent_or
from servicekit.operator import operator_only, operator_router
from servicekit.problems import install_error_handlers, problem, problem_responses
from servicekit.settings import ConsumerSettings, ServiceSettings
from servicekit.telemetry import tracing_on

__all__ = [
    "BodySizeLimit",
    "ConsumerOverrides",
    "ConsumerSettings",
    "JsonInteger",
    "ServiceSettings",
    "absent_or",
    "fail_fast",
    "install_error_handlers",
    "operator_only",
    "operator_router",
    "problem",
    "problem_responses",
    "serve",
    "service_app",
    "tracing_on",
]
