"""Settings of the legal-document pipeline: one frozen object, parsed once at start-up.

Environment variables share the engine's prefix, ``STREAMPROC_``:
``STREAMPROC_STORE`` (``local``, ``file:///path`` or ``s3://bucket/prefix``),
``STREAMPROC_S3_ENDPOINT_URL`` (MinIO, moto), ``STREAMPROC_EXTRACTOR``
(``offline`` or ``openai``), ``STREAMPROC_OCR_PROVIDER`` (``local`` or
``textract``), ``STREAMPROC_CHUNK_SIZE``, and so on. The engine's
own settings (``streamproc.config.Settings``) are parsed separately and ignore
these, as these ignore the engine's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from consumers.text import Limits
from streamproc.config import parse_settings

_MIB = 1024 * 1024


class PipelineSettings(BaseSettings):
    """Everything the legal-document stages can be told. Frozen once parsed."""

    model_config = SettingsConfigDict(env_prefix="STREAMPROC_", frozen=True, extra="ignore")

    store: str = Field(default="local", pattern=r"^(local|file://.+|s3://[^/]+(/.*)?)$")
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    extractor: Literal["offline", "openai"] = "offline"
    extract_concurrency: int = Field(default=4, ge=1, le=256)

    chunk_size: int = Field(default=2000, ge=100, le=1_000_000)
    chunk_overlap: int = Field(default=200, ge=0)

    max_bytes: int = Field(default=200 * _MIB, gt=0)
    max_pages: int = Field(default=2_000, gt=0)
    max_ocr_pages: int = Field(default=500, gt=0)
    max_pixels: int = Field(default=40_000_000, gt=0)
    max_markup_bytes: int = Field(default=32 * _MIB, gt=0)
    max_document_memory: int = Field(default=1024 * _MIB, gt=0)
    ocr_dpi: int = Field(default=300, ge=72, le=1200)
    ocr_language: str = "eng"
    tesseract_timeout: float = Field(default=120.0, gt=0)

    ocr_provider: Literal["local", "textract"] = "local"
    textract_bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    textract_region: str | None = None
    textract_endpoint_url: str | None = None
    textract_poll_seconds: float = Field(default=5.0, gt=0, le=3600)
    textract_max_polls: int = Field(default=720, ge=1)

    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=8, ge=1, le=1000)
    #: Seconds one statement or connection attempt may take: a server that stopped
    #: answering (frozen, cut off) is then seen as unavailable instead of holding handlers.
    db_timeout: float = Field(default=30.0, gt=0)
    intake_concurrency: int = Field(default=8, ge=1, le=256)

    @model_validator(mode="after")
    def _check(self) -> PipelineSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        if self.db_pool_min > self.db_pool_max:
            raise ValueError("db_pool_min must not be larger than db_pool_max")
        s3_store = self.store.startswith("s3://")
        if self.ocr_provider == "textract" and not s3_store and self.textract_bucket is None:
            raise ValueError(
                "Textract reads documents from S3: set STREAMPROC_TEXTRACT_BUCKET "
                "or use an S3 object store (STREAMPROC_STORE=s3://bucket/prefix)"
            )
        return self

    def limits(self) -> Limits:
        """The text-extraction limits these settings describe."""
        return Limits(
            max_bytes=self.max_bytes,
            max_pages=self.max_pages,
            max_ocr_pages=self.max_ocr_pages,
            max_pixels=self.max_pixels,
            max_markup_bytes=self.max_markup_bytes,
            max_document_memory=self.max_document_memory,
            ocr_dpi=self.ocr_dpi,
            ocr_language=self.ocr_language,
            tesseract_timeout=self.tesseract_timeout,
        )

    def store_location(self, data_dir: Path) -> str:
        """The object store as a URL: ``local`` becomes ``file://<data_dir>/objects``."""
        if self.store == "local":
            return (data_dir.absolute() / "objects").as_uri()
        return self.store


def load_pipeline_settings(**overrides: object) -> PipelineSettings:
    """Parse the environment (and explicit overrides) into :class:`PipelineSettings`.

    Raises :class:`ConfigurationError` naming every bad setting.
    """
    return parse_settings(PipelineSettings, "pipeline configuration", **overrides)
