"""The ASGI entry point for uvicorn/gunicorn: ``trustdesk.asgi:app``."""

from trustdesk.app import create_app

app = create_app()
