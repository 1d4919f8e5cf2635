"""GANscope training core: a plain PyTorch library (no web, no database)."""

__version__ = "0.1.0"
