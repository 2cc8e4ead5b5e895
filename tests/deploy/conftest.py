"""Fixtures the deploy drills share with the workflow tests."""

from tests.workflows.conftest import local_server  # noqa: F401  (the local HTTP server the http steps call)
