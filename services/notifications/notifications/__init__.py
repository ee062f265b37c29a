"""notifications: reacts to thin events by calling payments back for the details."""
