"""The demo marketplace: ``trustdesk demo`` builds it (deterministic, idempotent); see ``build.py``."""
