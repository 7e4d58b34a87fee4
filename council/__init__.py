"""Council: residents' questions on the council chamber screen, moderated and archived."""

__version__ = "0.1.0"
