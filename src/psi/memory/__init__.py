"""Personal memory: every message indexed for recall (episodes), hybrid retrieval, user control."""
