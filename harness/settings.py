"""Service settings for a system under test: quick recovery, where the defaults (30 s idle
before a claim, …) suit production. Shared by the tests, the benchmarks and chaos runs."""

FAST_CONSUMERS = {
    "CONSUMER_BLOCK_MS": "200",
    "CLAIM_IDLE_MS": "3000",
    "CLAIM_EVERY_S": "0.5",
    "RETRY_DELAY_S": "0.2",
    "CALLBACK_TIMEOUT_S": "1.0",
    # Mail: a dead worker's messages return after 3 s; retries from 0.2 s, at most 1 s apart.
    "MAIL_VISIBILITY_TIMEOUT_S": "3",
    "MAIL_RETRY_BASE_S": "0.2",
    "MAIL_RETRY_CAP_S": "1",
    "SMTP_TIMEOUT_S": "2",
}
