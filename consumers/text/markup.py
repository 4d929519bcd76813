"""HTML and XML documents: markup stripped, blocks on their own lines, paragraphs apart.

Both are walked once with lxml's ``iterwalk``, so deep or long documents cost
linear time and no recursion.  Whitespace is collapsed as a browser does,
except inside ``<pre>``; block elements end lines, paragraph-like blocks leave
an empty line, and table cells are separated by tabs.
"""

from __future__ import annotations

from lxml import etree, html

from consumers.model import Page
from consumers.text.clean import tidy
from consumers.text.encoding import decode_text, html_charset
from consumers.text.limits import Limits
from consumers.text.writer import TextWriter
from streamproc.errors import PermanentError

# fmt: off
_HTML_DROPPED = frozenset({
    "head", "script", "style", "noscript", "template", "iframe", "object", "embed", "svg",
    "math", "canvas", "select", "button", "input", "textarea", "map", "area", "audio", "video",
})
_HTML_PARAGRAPHS = frozenset({
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol", "dl",
    "hr", "address", "figure", "center",
})
_HTML_LINES = frozenset({
    "div", "li", "tr", "dt", "dd", "caption", "article", "aside", "section", "header",
    "footer", "nav", "main", "form", "fieldset", "legend", "details", "summary", "dialog",
    "figcaption", "menu", "dir", "body", "tbody", "thead", "tfoot",
})
# fmt: on
_HTML_CELLS = frozenset({"td", "th"})
_PREFORMATTED = frozenset({"pre", "textarea", "listing", "plaintext"})
# CAP casebody star-pagination ("*676") marks where a printed page began, mid-sentence.
_XML_DROPPED = frozenset({"page-number"})


def html_pages(data: bytes, limits: Limits) -> list[Page]:
    """Return the visible text of an HTML document as one page."""
    limits.check_markup(len(data), "HTML document")
    # Decoded here, where the charset rules are ours, then handed to libxml2 as UTF-8.
    utf8 = decode_text(data, declared=html_charset(data)).encode("utf-8")
    parser = html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
    try:
        root = html.document_fromstring(utf8, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise PermanentError(_unreadable("HTML", exc)) from exc
    return [Page(number=1, text=tidy(_html_text(root)))]


def xml_pages(data: bytes, limits: Limits) -> list[Page]:
    """Return the text content of an XML document (CAP casebody, RSS, ...) as one page."""
    limits.check_markup(len(data), "XML document")
    # No DTDs, no external entities, no network: XML from outside is hostile until proven not.
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
        recover=True,
    )
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise PermanentError(_unreadable("XML", exc)) from exc
    if root is None:
        raise PermanentError(_unreadable("XML", "no root element"))
    return [Page(number=1, text=tidy(_xml_text(root)))]


def _unreadable(kind: str, reason: object) -> str:
    return f"{kind} document cannot be parsed ({reason}): save it again and submit the new copy"


def _html_text(root: etree._Element) -> str:
    writer = TextWriter()
    walker = etree.iterwalk(root, events=("start", "end"))
    preformatted = 0
    for event, element in walker:
        name = element.tag.lower() if isinstance(element.tag, str) else ""
        dropped = not name or name in _HTML_DROPPED
        if event == "start":
            if dropped:
                walker.skip_subtree()
                continue
            preformatted += name in _PREFORMATTED
            _html_open(writer, name)
            writer.text(element.text, preserve=preformatted > 0)
            continue
        if not dropped:
            preformatted -= name in _PREFORMATTED
            _html_close(writer, name)
        writer.text(element.tail, preserve=preformatted > 0)
    return writer.getvalue()


def _html_open(writer: TextWriter, name: str) -> None:
    if name in _HTML_PARAGRAPHS:
        writer.paragraph_break()
    elif name in _HTML_LINES:
        writer.line_break()
    elif name in _HTML_CELLS:
        writer.cell_break()
    elif name == "br":
        writer.hard_break()


def _html_close(writer: TextWriter, name: str) -> None:
    if name in _HTML_PARAGRAPHS:
        writer.paragraph_break()
    elif name in _HTML_LINES:
        writer.line_break()


def _xml_text(root: etree._Element) -> str:
    mixed = _mixed_content_parents(root)
    writer = TextWriter()
    walker = etree.iterwalk(root, events=("start", "end"))
    # Whether each open element sits inside running text; inside running text, all is inline.
    inline: list[bool] = [False]
    for event, element in walker:
        dropped = not isinstance(element.tag, str) or _local_name(element) in _XML_DROPPED
        if event == "start":
            if dropped:
                walker.skip_subtree()
                inline.append(True)
                continue
            inline.append(inline[-1] or element.getparent() in mixed)
            if not inline[-1]:
                writer.paragraph_break()
            writer.text(element.text)
            continue
        if not inline.pop():
            writer.paragraph_break()
        writer.text(element.tail)
    return writer.getvalue()


def _local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def _mixed_content_parents(root: etree._Element) -> set[etree._Element]:
    """Elements whose children sit inside running text (``<p>a <em>b</em> c</p>``)."""
    mixed: set[etree._Element] = set()
    for element in root.iter():
        if len(element) and element.text and element.text.strip():
            mixed.add(element)
        parent = element.getparent()
        if parent is not None and element.tail and element.tail.strip():
            mixed.add(parent)
    return mixed
