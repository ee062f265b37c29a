"""What a chaos run's deployment runs, and with which settings."""

from harness import FAST_CONSUMERS

# The processes: the three services, a second orders (a replica in its consumer group, which
# claims what a killed or stopped one leaves pending) and a mail worker of its own (``mailer``).
SERVICES = ("payments", "orders", "orders-2", "notifications", "mailer")
APIS = ("payments", "orders", "notifications")  # what the clients (and the console) call
OPERATOR_TOKEN = "operator-token-of-the-chaos-run"
# Quick recovery (the tests' settings), and mail that outlives any SMTP outage of a run: a
# mail given up on would be the nemesis's doing, not the system's.
ENV = {
    **FAST_CONSUMERS,
    "MAIL_MAX_ATTEMPTS": "100",
    "OPERATOR_TOKEN": OPERATOR_TOKEN,
    "LOG_LEVEL": "warning",
}
