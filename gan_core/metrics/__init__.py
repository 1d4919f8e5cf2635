"""Metrics as pure stages: samples or features -> statistics -> number."""
