"""GANscope server: FastAPI app, jobs, persistence (see ARCHITECTURE.md)."""
