"""GANscope web UI: templates and static files served by the server."""
