"""console: watch the three patterns happen, live, in the browser. Read-only towards Redis."""
