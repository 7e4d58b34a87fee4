"""Fake third-party services that tests run real client libraries against, offline."""
