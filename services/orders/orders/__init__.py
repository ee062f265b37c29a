"""orders: keeps its own copy of payments from state-carrying events; never calls payments."""
