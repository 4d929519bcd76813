"""Docket party rosters in the layouts CM/ECF reports take once rendered to text.

The snippets are written in the shape of district, appellate and bankruptcy
docket reports (party, role, "represented by", attorney blocks), as the
pipeline's HTML reader renders their tables (cells separated by tabs) and as
a browser copy or an older renderer lays them out (one cell per line).  The
names in them are invented.
"""

from __future__ import annotations

import pytest

from consumers.chunking import join_pages
from consumers.entities import extract_mentions
from consumers.entities.lines import content, is_role_line, logical_lines
from consumers.entities.names import normalize_role
from consumers.model import EntityType, Mention
from consumers.text import read_document

DISTRICT = """CIVIL DOCKET FOR CASE #: 1:21-cv-01234
Assigned to: Judge Ann B. Carter

Plaintiff
Acme Widgets Inc.\trepresented by\tJane Q. Roe
Roe & Partners LLP
1 Main Street
Springfield, IL 62701
(217) 555-0100
Email: jroe@example.com
LEAD ATTORNEY
ATTORNEY TO BE NOTICED

Peter Smith
Email: psmith@example.com
PRO HAC VICE
ATTORNEY TO BE NOTICED

V.
Defendant
Bob Builder\trepresented by\tMary Major
Major Law Group
2 Elm Street
Peoria, IL 61602
ATTORNEY TO BE NOTICED
Defendant
Carol Client
Defendant
Daniel Doe

Date Filed\t#\tDocket Text
01/02/2021\t1\tCOMPLAINT filed by Acme Widgets Inc. (Roe, Jane) (Entered: 01/02/2021)
"""

APPELLATE = """General Docket
Court of Appeals Docket #: 22-1234\tDocketed: 01/27/2022

ACME WIDGETS, INC.
Plaintiff - Appellant\tJane Q. Roe
Direct: 217-555-0100
[COR LD NTC Retained]
Roe & Partners LLP
1 Main Street
Springfield, IL 62701

Peter Smith
Direct: 217-555-0101
[COR NTC Retained]
Roe & Partners LLP
1 Main Street
Springfield, IL 62701
v.

BOB BUILDER, also known as Bobby B
Defendant - Appellee\tMary Major, Assistant U.S. Attorney
Direct: 309-555-0100
[COR NTC Government]
U.S. Attorney's Office
2 Elm Street
Peoria, IL 61602
"""

BANKRUPTCY = """Bankruptcy Petition #: 21-00236

Debtor
Acme Air, Inc., an AK corporation
PO Box 1234
Anchorage, AK 99519-1234
Tax ID / EIN: 92-0000000

represented by\tJane Q. Roe
ROE & ROE
40 N. Central Avenue
Phoenix, AZ 85004
(602) 555-0100

Peter Smith
(See above for address)

Trustee
Walter M. Whitman, III
200 W 34th Ave
Anchorage, AK 99503

represented by\tMary Major
MAJOR AND MINOR LLP
500 L Street, Suite 302
Anchorage, AK 99501

Nora (UST) Nolan
OFFICE OF THE U.S. TRUSTEE
605 West 4th Avenue, Suite 258
Anchorage, AK 99501

Creditor Committee
Official Unsecured Creditors Committee

represented by\tPeter Smith
(See above for address)

U.S. Trustee
U.S. Trustee's Office
605 West 4th Avenue, Suite 258
Anchorage, AK 99501
(907) 555-2600\trepresented by\tU.S. Trustee's Office
PRO SE

Filing Date\t#\tDocket Text
"""

CRIMINAL = """CRIMINAL DOCKET FOR CASE #: 2:17-cr-00999-ABC-1

Defendant (1)
Juan Carlos Perez-Garcia
TERMINATED: 06/26/2017
also known as
Carlos Garcia
TERMINATED: 06/26/2017\trepresented by\tMary Major
Federal Public Defenders Office
2285 S 4th Ave., Ste. 2E
Yuma, AZ 85364
LEAD ATTORNEY
Designation: Public Defender or Community Defender Appointment

Pending Counts\tDisposition

Plaintiff
USA\trepresented by\tPeter Smith
US Attorneys Office
7102 E 30th St., Ste. 101
Yuma, AZ 85365
LEAD ATTORNEY
Designation: Assistant US Attorney

Date Filed\t#\tDocket Text
"""


def parties(text: str) -> set[tuple[str, str | None]]:
    return {(m.text, m.role) for m in extract_mentions(text) if m.type is EntityType.PARTY}


def attorneys(text: str) -> dict[str, Mention]:
    return {m.text: m for m in extract_mentions(text) if m.type is EntityType.ATTORNEY}


def represents(text: str) -> dict[str, str | None]:
    return {name: dict(m.attrs).get("represents") for name, m in attorneys(text).items()}


# The same district report as a browser copy or a cell-per-line renderer gives it.
DISTRICT_LAYOUTS = {
    "cells separated by tabs": DISTRICT,
    "represented by on its own line": DISTRICT.replace("\trepresented by\t", "\nrepresented by\n"),
    "represented by opening the attorney's line": DISTRICT.replace(
        "\trepresented by\t", "\nrepresented by "
    ),
    "cells on indented lines, a no-break space in represented by": DISTRICT.replace(
        "\trepresented by\t", "\n\t\t\t\n\t\trepresented\u00a0by\t"
    ).replace("Plaintiff\n", "\t\t\t\tPlaintiff      \t\n\t\t\n"),
    "cells separated by runs of spaces": DISTRICT.replace(
        "\trepresented by\t", "    represented by  "
    ),
}


@pytest.mark.parametrize("layout", sorted(DISTRICT_LAYOUTS))
def test_district_roster_gives_each_party_its_role_and_its_attorneys(layout: str) -> None:
    text = DISTRICT_LAYOUTS[layout]
    assert parties(text) == {
        ("Acme Widgets Inc.", "plaintiff"),
        ("Bob Builder", "defendant"),
        ("Carol Client", "defendant"),
        ("Daniel Doe", "defendant"),
    }
    assert represents(text) == {
        "Jane Q. Roe": "Acme Widgets Inc.",
        "Peter Smith": "Acme Widgets Inc.",
        "Mary Major": "Bob Builder",
    }


def test_district_attorneys_carry_the_firm_named_under_them() -> None:
    found = attorneys(DISTRICT)
    assert dict(found["Jane Q. Roe"].attrs)["firm"] == "Roe & Partners LLP"
    assert dict(found["Mary Major"].attrs)["firm"] == "Major Law Group"
    assert "firm" not in dict(found["Peter Smith"].attrs)  # only an e-mail under the name
    firms = {m.text for m in extract_mentions(DISTRICT) if m.type is EntityType.LAW_FIRM}
    assert firms == {"Roe & Partners LLP", "Major Law Group"}


@pytest.mark.parametrize("separator", ["\t", "\n"])
def test_appellate_roster_puts_the_role_between_party_and_attorneys(separator: str) -> None:
    text = APPELLATE.replace("Appellant\t", "Appellant" + separator).replace(
        "Appellee\t", "Appellee" + separator
    )
    assert parties(text) == {
        ("ACME WIDGETS, INC.", "plaintiff-appellant"),
        ("BOB BUILDER", "defendant-appellee"),
    }
    assert represents(text) == {
        "Jane Q. Roe": "ACME WIDGETS, INC.",
        "Peter Smith": "ACME WIDGETS, INC.",
        "Mary Major": "BOB BUILDER",  # the title after the name is not part of it
    }


def test_bankruptcy_roster_reads_past_the_party_address_to_represented_by() -> None:
    assert parties(BANKRUPTCY) == {
        ("Acme Air, Inc.", "debtor"),
        ("Walter M. Whitman, III", "trustee"),
        ("Official Unsecured Creditors Committee", "creditor committee"),
        ("U.S. Trustee's Office", "trustee"),
    }
    found = represents(BANKRUPTCY)
    assert found["Jane Q. Roe"] == "Acme Air, Inc."
    assert found["Mary Major"] == "Walter M. Whitman, III"


def test_a_nickname_in_parentheses_does_not_hide_an_attorney() -> None:
    assert represents(BANKRUPTCY)["Nora (UST) Nolan"] == "Walter M. Whitman, III"


def test_the_cell_after_represented_by_is_an_attorney_even_when_it_names_an_office() -> None:
    assert represents(BANKRUPTCY)["U.S. Trustee's Office"] == "U.S. Trustee's Office"


def test_an_attorney_listed_for_two_parties_is_found_under_each() -> None:
    found = [
        dict(m.attrs).get("represents")
        for m in extract_mentions(BANKRUPTCY)
        if m.type is EntityType.ATTORNEY and m.text == "Peter Smith"
    ]
    assert found == ["Acme Air, Inc.", "Official Unsecured Creditors Committee"]


def test_criminal_roster_skips_termination_notes_and_aliases() -> None:
    assert parties(CRIMINAL) == {("Juan Carlos Perez-Garcia", "defendant"), ("USA", "plaintiff")}
    assert represents(CRIMINAL) == {
        "Mary Major": "Juan Carlos Perez-Garcia",
        "Peter Smith": "USA",
    }


def test_an_attorney_without_contact_lines_is_found_after_represented_by() -> None:
    text = "Plaintiff\nJane Roe\trepresented by\tJohn Q. Public\n\nV.\nDefendant\nAcme Corp.\n"
    assert represents(text) == {"John Q. Public": "Jane Roe"}


def test_a_roster_without_counsel_still_gives_each_role_the_name_below_it() -> None:
    text = (
        "Jurisdiction: Federal Question\n\nPlaintiff\nAcme Widgets Inc.\nDefendant\n"
        "Carol Client\nDefendant\nDaniel Doe\n\nDate Filed\t#\tDocket Text\n"
    )
    assert parties(text) == {
        ("Acme Widgets Inc.", "plaintiff"),
        ("Carol Client", "defendant"),
        ("Daniel Doe", "defendant"),
    }


def test_a_caption_still_gives_each_role_the_name_above_it() -> None:
    text = "ACME WIDGETS, INC.,\nPlaintiff,\nJOHN DOE,\nDefendant.\n"
    assert parties(text) == {("ACME WIDGETS, INC.", "plaintiff"), ("JOHN DOE", "defendant")}


def test_a_party_row_becomes_one_line_per_cell() -> None:
    text = "Plaintiff\nAcme Inc.\trepresented by\tJane Roe\nAppellant\tJohn Doe\n"
    assert [content(text, line) for line in logical_lines(text)] == [
        "Plaintiff",
        "Acme Inc.",
        "represented by",
        "Jane Roe",
        "Appellant",
        "John Doe",
        "",
    ]


def test_represented_by_inside_a_sentence_does_not_cut_the_line() -> None:
    text = "The debtor, represented by counsel, objected.\n"
    assert [content(text, line) for line in logical_lines(text)] == [text.strip(), ""]


def test_prose_mentioning_representation_yields_no_docket_attorney() -> None:
    text = "Plaintiff\nThe plaintiff was represented by John Q. Public at the hearing.\n"
    assert attorneys(text) == {}


def test_two_spaces_in_docket_text_do_not_open_an_attorney_cell() -> None:
    text = "03/15/2017\t12\tMINUTE ENTRY.  represented by Federal Public Defender today.\n"
    assert len(logical_lines(text)) == 2


@pytest.mark.parametrize(
    ("role", "normalized"),
    [
        ("Plaintiff - Appellee", "plaintiff-appellee"),
        ("Defendant (1)", "defendant"),
        ("Intervenor Defendant", "intervenor-defendant"),
        ("ThirdParty Defendant", "third-party defendant"),
        ("3rd Party Plaintiff", "third-party plaintiff"),
        ("Consol Plaintiff", "consolidated plaintiff"),
        ("Joint Debtor", "joint debtor"),
        ("Creditor Committee", "creditor committee"),
        ("Interested Party", "interested party"),
        ("U.S. Trustee", "trustee"),
    ],
)
def test_cm_ecf_party_types_are_role_lines(role: str, normalized: str) -> None:
    assert is_role_line(role)
    assert normalize_role(role) == normalized


DISTRICT_HTML = """<html><body>
<h3>U.S. District Court<br>District of Example<br>CIVIL DOCKET FOR CASE #: 1:21-cv-01234</h3>
<table><tr><td>Acme Widgets Inc. v. Builder et al<br>Assigned to: Judge Ann B. Carter</td>
<td>Date Filed: 01/02/2021<br>Jurisdiction: Federal Question</td></tr></table>
<table width="100%" border="0" cellspacing="5"><tbody>
<tr><td><b><u>Lead Plaintiff </u></b></td></tr>
<tr><td valign="top" width="40%"><b>Acme Widgets Inc.</b></td>
<td valign="top" width="20%" align="right">represented&nbsp;by</td>
<td valign="top" width="40%"><b>Jane Q. Roe </b><br>Roe &amp; Partners LLP<br>1 Main Street
<br>Springfield, IL 62701<br>Email: jroe@example.com<br><i>LEAD ATTORNEY</i>
<br><i>ATTORNEY TO BE NOTICED</i><br><br><b>Peter Smith </b><br>N/A<br>Email: ps@example.com
<br><i>PRO HAC VICE</i></td></tr>
<tr><td></td></tr>
<tr><td><b><u>Plaintiff </u></b></td></tr>
<tr><td valign="top"><b>Drew Self</b></td><td align="right">represented&nbsp;by</td>
<td valign="top"><b>Drew Self</b><br>PRO SE</td></tr>
<tr><td></td></tr>
<tr><td align="center"><b>V.</b></td></tr>
<tr><td><b><u>Defendant </u></b></td></tr>
<tr><td valign="top"><b>Bob Builder</b><br><i>TERMINATED: 02/03/2021</i></td>
<td align="right">represented&nbsp;by</td><td valign="top"><b>Mary Major </b>
<br>Major Law Group<br>2 Elm Street<br>Peoria, IL 61602<br><i>ATTORNEY TO BE NOTICED</i></td></tr>
<tr><td><b><u>Defendant </u></b></td></tr>
<tr><td valign="top"><b>Carol Client</b></td></tr>
</tbody></table>
<table><tr><th>Date Filed</th><th>#</th><th>Docket Text</th></tr>
<tr><td>01/02/2021</td><td>1</td><td>COMPLAINT filed by Acme Widgets Inc. (Roe, Jane)</td></tr>
</table></body></html>"""

APPELLATE_HTML = """<html><body>
<table><tr><td align=center><b>General Docket<br>United States Court of Appeals</b>
</td></tr></table>
<table width=100% border=1 cellpadding=4><tr><td><table>
<tr><td colspan=2></td></tr>
<tr><td valign=top width=50%>ACME WIDGETS, INC.<BR>

Plaintiff - Appellant

</td>
<td valign=top width=50%>
Jane Q. Roe<br>Direct: 217-555-0100<br>[COR LD NTC Retained]<br>Roe &amp; Partners LLP<br>1 Main
Street<br>Springfield, IL 62701<BR><BR>
Peter Smith<br>Direct: 217-555-0101<br>[COR NTC Retained]<br>Roe &amp; Partners LLP</td></tr>
<tr><td colspan=2>v.<BR><BR></td></tr>
<tr><td valign=top width=50%>BOB BUILDER, as Trustee of the Builder Family Trust<BR>

Defendant - Appellee

</td>
<td valign=top width=50%>
Mary Major<br>Direct: 309-555-0100<br>[COR NTC Retained]<br>Major Law Group<br>2 Elm Street
<br>Peoria, IL 61602</td></tr>
</table></td></tr></table></body></html>"""

BANKRUPTCY_HTML = """<html><body>
<CENTER><B>U.S. Bankruptcy Court<BR>District of Example<BR>
Bankruptcy Petition #: 21-00236</B></CENTER>
<TABLE width="100%" BORDER=0 CELLSPACING=1><TR><TR><TD VALIGN=top WIDTH="50%"><I><B>Debtor</B></I>
<BR><B>Acme Air, Inc.</B><BR>100 Runway Boulevard<BR>Anchorage, AK 99519
<BR>Tax ID / EIN: 00-0000000<BR><BR></TD>
<TD VALIGN=top ALIGN=right>represented by	</TD>
<TD valign="top" WIDTH="40%"><B>Jane Q. Roe</B><BR>Roe, Roe &amp; Roe, LLP<BR>1 Main Street
<BR>Atlanta, GA 30303<BR>404-555-5300<BR>Email: jroe@example.com<BR><BR><B>Peter Smith, IV</B>
<BR>Roe, Roe &amp; Roe LLP<BR>1 Main Street<BR>Atlanta, GA 30303<BR><BR></TD></TR>
</TABLE>
<TABLE BORDER=1><TR><TH>Filing Date</TH><TH>#</TH><TH>Docket Text</TH></TR></TABLE>
</body></html>"""


def rendered(markup: str) -> str:
    """The text the pipeline's entities stage reads for an HTML docket."""
    return join_pages(read_document(markup.encode("utf-8"), "docket.html")[1])[0]


def test_an_html_district_report_as_the_pipeline_renders_it() -> None:
    text = rendered(DISTRICT_HTML)
    assert parties(text) >= {
        ("Acme Widgets Inc.", "lead plaintiff"),
        ("Drew Self", "plaintiff"),
        ("Bob Builder", "defendant"),
        ("Carol Client", "defendant"),
    }
    assert represents(text) == {
        "Jane Q. Roe": "Acme Widgets Inc.",
        "Peter Smith": "Acme Widgets Inc.",
        "Drew Self": "Drew Self",  # a party acting pro se is its own counsel
        "Mary Major": "Bob Builder",
    }


def test_an_html_appellate_docket_as_the_pipeline_renders_it() -> None:
    text = rendered(APPELLATE_HTML)
    assert parties(text) == {
        ("ACME WIDGETS, INC.", "plaintiff-appellant"),
        ("BOB BUILDER", "defendant-appellee"),
    }
    assert represents(text) == {
        "Jane Q. Roe": "ACME WIDGETS, INC.",
        "Peter Smith": "ACME WIDGETS, INC.",
        "Mary Major": "BOB BUILDER",
    }


def test_an_html_bankruptcy_docket_with_role_and_party_in_one_cell() -> None:
    text = rendered(BANKRUPTCY_HTML)
    assert parties(text) == {("Acme Air, Inc.", "debtor")}
    assert represents(text) == {
        "Jane Q. Roe": "Acme Air, Inc.",
        "Peter Smith, IV": "Acme Air, Inc.",
    }
    firms = {m.text for m in extract_mentions(text) if m.type is EntityType.LAW_FIRM}
    assert "Roe, Roe & Roe, LLP" in firms
