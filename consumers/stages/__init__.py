"""The legal-document stages, in pipeline order: ocr, chunk, entities, resolve, relationships.

Each module declares ``NAME``, its input model, ``handle(msg, ctx)`` and
``STAGE``; ``consumers.pipeline`` wires them into ``PIPELINE``.
"""
