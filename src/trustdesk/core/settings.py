"""Settings from the environment (prefix ``TRUSTDESK_``); nothing is needed for the embedded default."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRUSTDESK_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Where the embedded database and secrets live.")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite in data_dir.")
    secret_key: str = Field(default="", description="Signs session cookies; empty means a key kept in data_dir.")
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000

    max_request_bytes: int = Field(default=1_048_576, description="Largest request body accepted (bytes).")
    max_message_chars: int = 20_000
    max_attachment_bytes: int = 20 * 1024 * 1024
    attachment_types: list[str] = Field(
        default=[
            "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain",
            "text/csv", "video/mp4",
        ]
    )
    max_attachments_per_case: int = 20
    reopen_window_days: int = Field(default=7, description="A solved case closes after this many days.")
    session_max_age_seconds: int = 12 * 3600
    cookie_secure: bool = False

    run_jobs_in_process: bool = Field(default=True, description="Deliver the outbox in a thread of `serve`.")
    outbox_poll_seconds: float = 1.0
    outbox_max_attempts: int = 10

    smtp_url: str = Field(default="", description="smtp://user:password@host:587?starttls=true; empty: no email.")
    smtp_from: str = Field(default="TrustDesk <trustdesk@localhost>", description="The sender of TrustDesk's email.")

    kb_answer_threshold: float = Field(default=0.55, ge=0, le=1, description="Confidence the bot needs to "
                                       "answer from an article; below it, it offers a person instead.")
    kb_deflection_days: int = Field(default=7, ge=1, le=90, description="A bot conversation counts as resolved "
                                    "when the same party opens no case on any channel for this many days.")
    bot_flows_dir: Path | None = Field(default=None, description="Folder of the bot's guided flows (*.yaml); "
                                       "unset: the packaged demo flows.")
    bot_lookups: dict[str, str] = Field(default={}, description="Guided-flow lookups, name -> URL, as JSON: "
                                        '{"orders": "https://shop.example/lookups/orders"}.')
    bot_lookup_secret: str = Field(default="", description="Signs lookup calls (Standard Webhooks, whsec_...).")
    bot_lookup_timeout_seconds: float = Field(default=3.0, gt=0, le=10, description="A lookup slower than this "
                                              "takes the flow's error branch.")

    llm_base_url: str = Field(default="", description="An OpenAI-compatible chat API (e.g. https://host/v1) that "
                              "drafts a reply from the suggested replies' sources; empty: no drafts, all offline.")
    llm_model: str = Field(default="", description="The model name the LLM provider serves.")
    llm_api_key: str = Field(default="", description="Bearer token for the LLM provider, if it needs one.")
    llm_timeout_seconds: float = Field(default=15.0, gt=0, le=120, description="A draft that takes longer is "
                                       "dropped; the suggestions are shown without it.")

    routing_training_days: int = Field(default=180, description="History the topic classifier learns from.")
    routing_min_examples: int = Field(default=5, description="Topics with fewer closed cases are not learnt.")
    routing_max_per_topic: int = Field(default=2000, description="Each topic's newest closed cases learnt, at most.")
    routing_retrain_hours: float = Field(default=168.0, description="The retrain job trains a new model this often; "
                                                                    "0 turns it off.")
    routing_auto_activate: bool = Field(default=True, description="The retrain job activates a new model when it "
                                                                  "is at least as accurate as the active one.")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / 'trustdesk.db').resolve()}"

    def resolved_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        # Embedded mode keeps one key on disk so sessions survive a restart.
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
