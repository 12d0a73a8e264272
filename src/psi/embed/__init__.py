"""The embedder seam: one Embedder surface for a local model, a server, or a hash.

Importing this package loads numpy and nothing heavier; a backend's own
dependencies (torch, the openai SDK) load when it is built.
"""

from psi.embed.base import Embedder, normalise
from psi.embed.registry import get_embedder

__all__ = ["Embedder", "get_embedder", "normalise"]
