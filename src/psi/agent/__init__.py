"""The agent layer: one turn from message to stored reply."""
