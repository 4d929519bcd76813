"""The relationship graph of exported documents as GraphML (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from xml.sax.saxutils import quoteattr

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="label" for="node" attr.name="label" attr.type="string"/>
  <key id="kind" for="node" attr.name="kind" attr.type="string"/>
  <key id="type" for="edge" attr.name="type" attr.type="string"/>
  <graph id="streamproc" edgedefault="directed">
"""
TAIL = "  </graph>\n</graphml>\n"


def graphml_lines(documents: Iterable[dict[str, Any]]) -> Iterable[str]:
    """GraphML, line by line: documents and entities as nodes, relationships as edges."""
    yield HEAD
    seen: set[str] = set()
    for doc in documents:
        nodes = {f"doc:{doc['document_id']}": (doc["source"], "DOCUMENT")}
        for e in doc["entities"]:
            if e.get("entity_id"):
                nodes.setdefault(e["entity_id"], (e.get("canonical") or e["text"], e["type"]))
        for node_id, (label, kind) in nodes.items():
            if node_id not in seen:
                seen.add(node_id)
                yield _node(node_id, label, kind)
        for i, r in enumerate(doc["relationships"]):
            for end in (r["source"], r["target"]):
                if end not in seen:
                    seen.add(end)
                    yield _node(end, end, "UNKNOWN")
            yield _edge(f"{doc['document_id']}:{i}", r["source"], r["target"], r["type"])
    yield TAIL


def _edge(edge_id: str, source: str, target: str, edge_type: str) -> str:
    return (
        f"    <edge id={quoteattr(edge_id)} source={quoteattr(source)} "
        f'target={quoteattr(target)}><data key="type">{_text(edge_type)}</data></edge>\n'
    )


def _node(node_id: str, label: str, kind: str) -> str:
    return (
        f'    <node id={quoteattr(node_id)}><data key="label">{_text(label)}</data>'
        f'<data key="kind">{_text(kind)}</data></node>\n'
    )


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
