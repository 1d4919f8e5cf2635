"""The image service: trained generators in a process of their own.

The latent explorer (and later the studies' image pools) draw images from checkpoints. That
work runs in one spawned process, never on the server's event loop and never in a training
worker: it holds a small LRU cache of generators loaded from safetensors checkpoints (on the
GPU when there is one), answers requests in order, and reports how long each took. The server
talks to it over one pipe; a reader thread hands each answer to the request waiting for it. A
crash in the process (out of memory, a killed process) fails the requests in flight with a
clear message, and the next request starts a fresh process.
"""

from server.errors import ImageServiceError
from server.images.engine import ImageEngine, serve_images
from server.images.service import ImageService

__all__ = ["ImageEngine", "ImageService", "ImageServiceError", "serve_images"]
