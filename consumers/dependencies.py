"""The external dependencies of the legal-document stages, by their breakers' names.

A stage declares the ones it reaches (``Stage(..., needs=...)``); the boundary
that translates a library's errors raises
:class:`~streamproc.errors.DependencyUnavailable` with the name when one cannot
be reached. A dependency a stage may use, depending on configuration (OpenAI,
Textract), is declared anyway: a breaker nothing fails on stays closed.
"""

from __future__ import annotations

POSTGRES = "postgres"
OBJECTS = "objects"
OPENAI = "openai"
TEXTRACT = "textract"
