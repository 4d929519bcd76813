"""Where the pipeline keeps what it learns: PostgreSQL (asyncpg) and an object store.

- ``db``: the pool, transactions with translated errors, versioned migrations.
- ``records``: row values and the deterministic ids that key them.
- ``documents``, ``content``, ``mentions``, ``entities``, ``relationships``:
  the writes and reads of each table, every write an idempotent upsert.
- ``export``: one document's summary; every document of a batch as dicts.
- ``objects``, ``s3`` and ``store``: the object store (a directory, or S3).
"""

from consumers.storage.db import Pool, connect, migrate, transaction
from consumers.storage.export import document_summary, export_documents
from consumers.storage.objects import LocalStore, ObjectNotFound, ObjectStore
from consumers.storage.records import document_id, original_key
from consumers.storage.store import open_store

__all__ = [
    "LocalStore",
    "ObjectNotFound",
    "ObjectStore",
    "Pool",
    "connect",
    "document_id",
    "document_summary",
    "export_documents",
    "migrate",
    "open_store",
    "original_key",
    "transaction",
]
