"""psi: a personal superintelligence that its user owns."""

__version__ = "0.1.0"
