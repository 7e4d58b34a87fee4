"""Moderation: the state machine of a submission, and who may drive it."""
