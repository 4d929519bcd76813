"""OCR providers beyond the local extractors: AWS Textract, polled without blocking.

``blocks`` turns Textract's results into pages (pure); ``textract`` is the
aioboto3 client and its error translation; ``jobs`` starts a document's job
and polls it, for the ocr stage to ``Defer`` between polls.
"""

from __future__ import annotations

from consumers.ocr.blocks import Detection, detection, job_token, textract_kind
from consumers.ocr.jobs import TextractJob, poll_job, start_job, verdict

__all__ = [
    "Detection",
    "TextractJob",
    "detection",
    "job_token",
    "poll_job",
    "start_job",
    "textract_kind",
    "verdict",
]
