"""The legal-document pipeline, as the engine loads it (``consumers.pipeline:PIPELINE``)."""

from __future__ import annotations

from consumers.facts import batch_facts, document_facts
from consumers.resources import lifespan
from consumers.stages import chunk, entities, ocr, relationships, resolve
from streamproc.stage import Pipeline

PIPELINE = Pipeline(
    stages=(ocr.STAGE, chunk.STAGE, entities.STAGE, resolve.STAGE, relationships.STAGE),
    lifespan=lifespan,
    facts=document_facts,
    batch_facts=batch_facts,
)
"""ocr -> chunk -> entities -> resolve -> relationships, sharing ``Resources``;
``trace`` adds each document's database row to its stream history, and ``batches`` each
batch's."""
