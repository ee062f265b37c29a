"""What a chaos run's deployment runs, and with which settings."""

# The processes: the three services, a second orders (a replica in its consumer group, which
# claims what a killed or stopped one leaves pending) and a mail worker of its own (``mailer``).
SERVICES = ("payments", "orders", "orders-2", "notifications", "mailer")
APIS = ("payments", "orders", "notifications")  # what the clients (and the console) call
OPERATOR_TOKEN = "operator-token-of-the-chaos-run"
# Quick recovery (the tests' settings), and mail that outlives any SMTP outage of a run: a
# mail given up on would be the nemesis's doing, not the system's.
ENV = {
    "CONSUMER_BLOCK_MS": "200",
    "CLAIM_IDLE_MS": "3000",
    "CLAIM_EVERY_S": "0.5",
    "RETRY_DELAY_S": "0.2",
    "CALLBACK_TIMEOUT_S": "1.0",
    "MAIL_VISIBILITY_TIMEOUT_S": "3",
    "MAIL_RETRY_BASE_S": "0.2",
    "MAIL_RETRY_CAP_S": "1",
    "MAIL_MAX_ATTEMPTS": "100",
    "SMTP_TIMEOUT_S": "2",
    "OPERATOR_TOKEN": OPERATOR_TOKEN,
    "LOG_LEVEL": "warning",
}
