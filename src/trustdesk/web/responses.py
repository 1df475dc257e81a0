"""JSON responses rendered straight from a pydantic model.

A handler that returns a model makes FastAPI validate it again against ``response_model`` and
then serialize it; for pages of cases that was a sizeable share of each request. ``ModelResponse``
serializes once, in pydantic's Rust core. Routes keep their ``response_model`` for the OpenAPI
document.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel
from starlette.responses import Response


class ModelResponse(Response):
    media_type = "application/json"

    def __init__(self, model: BaseModel, status_code: int = 200, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(model.model_dump_json().encode(), status_code=status_code, headers=headers)
