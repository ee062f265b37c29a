"""payments: stores each payment as its events and publishes them as thin and fat events."""
