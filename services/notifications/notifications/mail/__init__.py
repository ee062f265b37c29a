"""The mail a notification sends, one level below the pattern: ``compose.py`` writes it (pure,
like the domain), ``queue.py`` queues it in the step that records its notification,
``smtp.py`` hands it to the mail server, and ``workers.py`` runs the mail handler over each
partition's mail queue (in the service, or as ``python -m notifications mail-worker``)."""
