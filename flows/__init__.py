"""Prefect flows of the project: wiring of stages, runner choice, artifacts, manifests."""
