"""The demo's sample legal documents (``python examples/make_examples.py OUTDIR``).

Every document is made from text in this file (fictional parties, judge and
companies; real, correctly cited precedents) and comes out byte-for-byte the
same on every run:

- ``court_order.pdf``          a born-digital two-page court order
- ``court_order_scanned.pdf``  the same order as an image-only scan (slightly
                               skewed, speckled and blurred), for OCR
- ``services_agreement.docx``  a services contract between two companies
- ``docket.html``              the case's docket report
"""

from __future__ import annotations

import html
import io
import random
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import docx
import pypdfium2 as pdfium
from fpdf import FPDF
from PIL import Image, ImageChops, ImageFilter

FIXED_TIME = datetime(2024, 3, 14, 9, 30, tzinfo=UTC)
CASE_NUMBER = "2:23-cv-01874-KLH"
JUDGE = "Katherine L. Hollis"
COURT = "UNITED STATES DISTRICT COURT"
DISTRICT = "WESTERN DISTRICT OF WASHINGTON AT SEATTLE"
DISTRICT_NAME = "Western District of Washington (Seattle)"

ORDER_CAPTION = (
    "MARISOL ABERNATHY, individually and on behalf of her minor child, and "
    "CEDAR VALLEY PARENTS ALLIANCE,\n    Plaintiffs,\nv.\n"
    "LAKEVIEW UNIFIED SCHOOL DISTRICT NO. 412 and THOMAS R. WENDELL, "
    "in his official capacity as Superintendent,\n    Defendants."
)
ORDER_TITLE = "ORDER GRANTING IN PART AND DENYING IN PART DEFENDANTS' MOTION FOR SUMMARY JUDGMENT"
ORDER_PARAGRAPHS = (
    "THIS MATTER comes before the Court on Defendants' Motion for Summary Judgment "
    "(Dkt. No. 58), filed on January 9, 2024. The Court has considered the motion, "
    "Plaintiffs' response (Dkt. No. 63), the reply (Dkt. No. 67), and the record. "
    "For the reasons below, the motion is GRANTED IN PART and DENIED IN PART.",
    "I. BACKGROUND. Plaintiffs allege that the District's 2022 attendance-boundary plan "
    "assigned students to the Harborview and Maple Ridge campuses on the basis of race. "
    "The District contends that the plan rests on transportation costs and building "
    "capacity alone. The Court has jurisdiction under 28 U.S.C. \u00a7 1331.",
    "II. LEGAL STANDARD. Summary judgment is appropriate when there is no genuine dispute "
    "as to any material fact and the movant is entitled to judgment as a matter of law. "
    "Fed. R. Civ. P. 56(a); Celotex Corp. v. Catrett, 477 U.S. 317, 322 (1986). The "
    "evidence of the non-movant is to be believed, and all justifiable inferences are to "
    "be drawn in that party's favor. Anderson v. Liberty Lobby, Inc., 477 U.S. 242, 255 (1986).",
    "III. DISCUSSION. Separate educational facilities are inherently unequal. Brown v. "
    "Board of Education, 347 U.S. 483 (1954). A school district may not assign students "
    "to schools on the basis of race without meeting strict scrutiny. Parents Involved in "
    "Community Schools v. Seattle School District No. 1, 551 U.S. 701, 720 (2007). "
    "Plaintiffs' expert report raises a genuine dispute over whether the boundary lines "
    "track the racial composition of the affected neighborhoods, so the equal protection "
    "claim must go to trial. The state-law claim for damages, however, is barred because "
    "Plaintiffs did not file the notice of claim that RCW 4.96.020 requires.",
    "IV. CONCLUSION. The motion is DENIED as to the equal protection claim (Count I) and "
    "GRANTED as to the state-law damages claim (Count III). The Court awards Plaintiffs "
    "$18,750.00 in costs previously taxed by the Clerk, and the parties shall submit a "
    "joint pretrial order by May 3, 2024. Trial remains set for June 17, 2024.",
    "IT IS SO ORDERED.",
    f"Dated this 14th day of March, 2024.\n\n/s/ {JUDGE}\n{JUDGE}\nUnited States District Judge",
)

CONTRACT_TITLE = "MASTER SERVICES AGREEMENT"
CONTRACT_PARTIES = (
    "This Master Services Agreement (the \u201cAgreement\u201d) is entered into as of "
    "April 1, 2024 (the \u201cEffective Date\u201d) by and between Northwind Analytics "
    "Corporation, a Delaware corporation with its principal office at 410 Pine Street, "
    "Seattle, Washington 98101 (\u201cProvider\u201d), and Bluefin Harbor Logistics LLC, "
    "an Oregon limited liability company with its principal office at 88 Dock Road, "
    "Portland, Oregon 97209 (\u201cCustomer\u201d)."
)
CONTRACT_CLAUSES = (
    (
        "1. Services.",
        "Provider shall deliver the freight-forecasting services described in "
        "Exhibit A (the \u201cServices\u201d) in accordance with the service levels set out there.",
    ),
    (
        "2. Fees.",
        "Customer shall pay Provider a fixed fee of $42,500.00 per calendar quarter, "
        "invoiced in advance and payable within thirty (30) days of the invoice date.",
    ),
    (
        "3. Term.",
        "The Agreement begins on the Effective Date and continues for thirty-six (36) "
        "months unless terminated earlier under Section 4.",
    ),
    (
        "4. Termination.",
        "Either party may terminate the Agreement for material breach that "
        "remains uncured sixty (60) days after written notice.",
    ),
    (
        "5. Limitation of Liability.",
        "Neither party's aggregate liability shall exceed the fees "
        "paid in the twelve (12) months preceding the claim, or $170,000.00, whichever is less.",
    ),
    (
        "6. Governing Law.",
        "The Agreement is governed by the laws of the State of Washington; "
        "the state and federal courts in King County, Washington have exclusive jurisdiction.",
    ),
)
CONTRACT_FEES = (
    ("Service", "Frequency", "Fee"),
    ("Demand forecasting", "Quarterly", "$30,000.00"),
    ("Route optimisation", "Quarterly", "$12,500.00"),
)
CONTRACT_SIGNATURES = (
    ("NORTHWIND ANALYTICS CORPORATION", "By: Helena V. Ostrander, Chief Executive Officer"),
    ("BLUEFIN HARBOR LOGISTICS LLC", "By: Marcus D. Pell, Managing Member"),
)

DOCKET_ENTRIES = (
    (
        "08/21/2023",
        "1",
        "COMPLAINT against Lakeview Unified School District No. 412, Thomas R. "
        "Wendell (Filing fee $402, receipt number AWAWDC-8841207), filed by Marisol Abernathy, "
        "Cedar Valley Parents Alliance. (Attachments: # 1 Civil Cover Sheet)",
    ),
    (
        "09/15/2023",
        "12",
        "ANSWER to Complaint by Lakeview Unified School District No. 412, "
        "Thomas R. Wendell. (Quan, Adrian)",
    ),
    ("01/09/2024", "58", "MOTION for Summary Judgment by Defendants. Noting Date 2/2/2024."),
    ("01/29/2024", "63", "RESPONSE, by Plaintiffs, to 58 MOTION for Summary Judgment."),
    ("02/02/2024", "67", "REPLY, filed by Defendants, TO RESPONSE to 58 MOTION."),
    (
        "03/14/2024",
        "71",
        f"ORDER granting in part and denying in part 58 Motion for Summary "
        f"Judgment, signed by Judge {JUDGE}. Costs of $18,750.00 awarded. (KLH)",
    ),
)
DOCKET_COUNSEL = (
    ("Marisol Abernathy", "Plaintiff", "Priya N. Castellanos, Castellanos & Reyes PLLC, Seattle"),
    ("Lakeview Unified School District No. 412", "Defendant", "Adrian Quan, Quan Wexler LLP"),
)

#: Phrases each document must yield when its text is extracted (what the tests check).
KEY_PHRASES: dict[str, tuple[str, ...]] = {
    "court_order.pdf": (
        f"Case No. {CASE_NUMBER}",
        "Brown v. Board of Education, 347 U.S. 483 (1954)",
        "Celotex Corp. v. Catrett, 477 U.S. 317, 322 (1986)",
        "LAKEVIEW UNIFIED SCHOOL DISTRICT NO. 412",
        "$18,750.00",
        JUDGE,
    ),
    "court_order_scanned.pdf": (
        f"Case No. {CASE_NUMBER}",
        "Brown v. Board of Education, 347 U.S. 483 (1954)",
        "LAKEVIEW UNIFIED SCHOOL DISTRICT NO. 412",
        "$18,750.00",
    ),
    "services_agreement.docx": (
        "Northwind Analytics Corporation, a Delaware corporation",
        "Bluefin Harbor Logistics LLC",
        "$42,500.00 per calendar quarter",
        "Route optimisation\tQuarterly\t$12,500.00",
    ),
    "docket.html": (
        f"CIVIL DOCKET FOR CASE #: {CASE_NUMBER}",
        "03/14/2024\t71\tORDER granting in part and denying in part 58 Motion",
        "Priya N. Castellanos",
    ),
}


def court_order_pdf() -> bytes:
    """The order as a born-digital PDF."""
    pdf = FPDF(format="letter")
    pdf.set_creation_date(FIXED_TIME)
    pdf.set_title(ORDER_TITLE)
    pdf.set_margins(left=25, top=22, right=25)
    pdf.add_page()
    _order_heading(pdf)
    pdf.set_font("times", size=12)
    for paragraph in ORDER_PARAGRAPHS:
        pdf.multi_cell(0, 6, paragraph)
        pdf.ln(4)
    return bytes(pdf.output())


def _order_heading(pdf: FPDF) -> None:
    pdf.set_font("times", style="B", size=13)
    for line in (COURT, DISTRICT):
        pdf.cell(0, 7, line, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)
    pdf.set_font("times", size=12)
    top = pdf.get_y()
    pdf.multi_cell(100, 6, ORDER_CAPTION)
    bottom = pdf.get_y()
    pdf.set_xy(130, top + 6)
    pdf.multi_cell(0, 6, f"Case No. {CASE_NUMBER}")
    pdf.set_y(max(bottom, pdf.get_y()) + 6)
    pdf.set_font("times", style="B", size=12)
    pdf.multi_cell(0, 6, ORDER_TITLE, align="C")
    pdf.ln(4)


def scanned_pdf(digital: bytes, *, dpi: int = 200, seed: int = 1954) -> bytes:
    """An image-only PDF of ``digital``: every page rendered, skewed, speckled and blurred."""
    rng = random.Random(seed)
    document = pdfium.PdfDocument(digital)
    pages = [_scanned_page(page, dpi, rng) for page in document]
    document.close()
    buffer = io.BytesIO()
    pages[0].save(
        buffer,
        format="PDF",
        resolution=dpi,
        save_all=True,
        append_images=pages[1:],
        creationDate=FIXED_TIME.utctimetuple(),
        modDate=FIXED_TIME.utctimetuple(),
    )
    return buffer.getvalue()


def _scanned_page(page: pdfium.PdfPage, dpi: int, rng: random.Random) -> Image.Image:
    image = page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
    skewed = image.rotate(rng.uniform(-0.8, 0.8), resample=Image.Resampling.BICUBIC, fillcolor=255)
    noise = Image.frombytes("L", skewed.size, rng.randbytes(skewed.width * skewed.height))
    # About one pixel in 256 becomes a grey speck, as dust on a scanner glass does.
    specks = noise.point(lambda value: 110 if value < 1 else 255)
    return ImageChops.darker(skewed, specks).filter(ImageFilter.GaussianBlur(0.7))


def services_agreement_docx() -> bytes:
    """The contract as a Word document, with a fee table and an exhibit on its own page."""
    document = docx.Document()
    document.core_properties.created = FIXED_TIME
    document.core_properties.modified = FIXED_TIME
    document.core_properties.title = CONTRACT_TITLE
    document.add_heading(CONTRACT_TITLE, level=1)
    document.add_paragraph(CONTRACT_PARTIES)
    for heading, body in CONTRACT_CLAUSES:
        paragraph = document.add_paragraph()
        paragraph.add_run(heading).bold = True
        paragraph.add_run(" " + body)
    _signatures(document)
    document.add_page_break()  # type: ignore[no-untyped-call]
    document.add_heading("EXHIBIT A - FEE SCHEDULE", level=2)
    table = document.add_table(rows=0, cols=3)
    for row in CONTRACT_FEES:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return _fixed_zip_times(buffer.getvalue())


def _signatures(document: docx.document.Document) -> None:
    document.add_paragraph("IN WITNESS WHEREOF, the parties have executed this Agreement.")
    for company, signer in CONTRACT_SIGNATURES:
        document.add_paragraph(company)
        document.add_paragraph(signer)


def _fixed_zip_times(data: bytes) -> bytes:
    """Re-pack a zip with one fixed timestamp: python-docx stamps entries with the clock."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for member in source.infolist():
            info = zipfile.ZipInfo(member.filename, date_time=(2024, 3, 14, 9, 30, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, source.read(member))
    return out.getvalue()


def docket_html() -> str:
    """The case's docket report, laid out like a district court's CM/ECF page."""
    rows = "\n".join(
        f"<tr><td>{date}</td><td>{number}</td><td>{html.escape(text)}</td></tr>"
        for date, number, text in DOCKET_ENTRIES
    )
    counsel = "\n".join(
        f"<tr><td><b>{html.escape(party)}</b><br><i>{role}</i></td>"
        f"<td>represented by</td><td>{html.escape(lawyer)}</td></tr>"
        for party, role, lawyer in DOCKET_COUNSEL
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>CM/ECF - Docket</title>'
        "<style>td {vertical-align: top}</style></head><body>\n"
        f"<h3>U.S. District Court<br>{DISTRICT_NAME}<br>"
        f"CIVIL DOCKET FOR CASE #: {CASE_NUMBER}</h3>\n"
        "<p>Abernathy et al v. Lakeview Unified School District No. 412 et al<br>"
        f"Assigned to: Judge {JUDGE}<br>Date Filed: 08/21/2023<br>"
        "Cause: 42:1983 Civil Rights Act</p>\n"
        f"<table>\n{counsel}\n</table>\n"
        "<table border=1><tr><th>Date Filed</th><th>#</th><th>Docket Text</th></tr>\n"
        f"{rows}\n</table>\n</body></html>\n"
    )


def build_examples() -> dict[str, bytes]:
    """Every sample document by file name."""
    order = court_order_pdf()
    return {
        "court_order.pdf": order,
        "court_order_scanned.pdf": scanned_pdf(order),
        "services_agreement.docx": services_agreement_docx(),
        "docket.html": docket_html().encode("utf-8"),
    }


def write_examples(outdir: Path) -> list[Path]:
    """Write every sample document into ``outdir``; returns their paths."""
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in build_examples().items():
        (outdir / name).write_bytes(data)
        written.append(outdir / name)
    return written


def main(argv: list[str]) -> int:
    """Write the sample documents into the directory named by ``argv[1]``."""
    if len(argv) != 2:
        sys.stderr.write("usage: python examples/make_examples.py OUTDIR\n")
        return 2
    for path in write_examples(Path(argv[1])):
        sys.stdout.write(f"{path}\n")
    return 0
