"""Reference data about United States courts, written out as plain data.

States and territories with their Bluebook abbreviations and federal
judicial districts; the federal circuits; the named federal and state
tribunals whose names carry no place.  The court patterns in ``courts.py``
are generated from these tables.
"""

from __future__ import annotations

from typing import NamedTuple


class State(NamedTuple):
    """A state or territory: name, Bluebook abbreviation, postal code, districts.

    ``districts`` holds the federal district prefixes: "N", "S", "E", "W",
    "M", "C" for divided states, "" for a single-district state.
    """

    name: str
    abbreviation: str
    postal: str
    districts: tuple[str, ...]


STATES: tuple[State, ...] = (
    State("Alabama", "Ala.", "AL", ("N", "M", "S")),
    State("Alaska", "Alaska", "AK", ("",)),
    State("Arizona", "Ariz.", "AZ", ("",)),
    State("Arkansas", "Ark.", "AR", ("E", "W")),
    State("California", "Cal.", "CA", ("N", "E", "C", "S")),
    State("Colorado", "Colo.", "CO", ("",)),
    State("Connecticut", "Conn.", "CT", ("",)),
    State("Delaware", "Del.", "DE", ("",)),
    State("District of Columbia", "D.C.", "DC", ("",)),
    State("Florida", "Fla.", "FL", ("N", "M", "S")),
    State("Georgia", "Ga.", "GA", ("N", "M", "S")),
    State("Hawaii", "Haw.", "HI", ("",)),
    State("Idaho", "Idaho", "ID", ("",)),
    State("Illinois", "Ill.", "IL", ("N", "C", "S")),
    State("Indiana", "Ind.", "IN", ("N", "S")),
    State("Iowa", "Iowa", "IA", ("N", "S")),
    State("Kansas", "Kan.", "KS", ("",)),
    State("Kentucky", "Ky.", "KY", ("E", "W")),
    State("Louisiana", "La.", "LA", ("E", "M", "W")),
    State("Maine", "Me.", "ME", ("",)),
    State("Maryland", "Md.", "MD", ("",)),
    State("Massachusetts", "Mass.", "MA", ("",)),
    State("Michigan", "Mich.", "MI", ("E", "W")),
    State("Minnesota", "Minn.", "MN", ("",)),
    State("Mississippi", "Miss.", "MS", ("N", "S")),
    State("Missouri", "Mo.", "MO", ("E", "W")),
    State("Montana", "Mont.", "MT", ("",)),
    State("Nebraska", "Neb.", "NE", ("",)),
    State("Nevada", "Nev.", "NV", ("",)),
    State("New Hampshire", "N.H.", "NH", ("",)),
    State("New Jersey", "N.J.", "NJ", ("",)),
    State("New Mexico", "N.M.", "NM", ("",)),
    State("New York", "N.Y.", "NY", ("N", "S", "E", "W")),
    State("North Carolina", "N.C.", "NC", ("E", "M", "W")),
    State("North Dakota", "N.D.", "ND", ("",)),
    State("Ohio", "Ohio", "OH", ("N", "S")),
    State("Oklahoma", "Okla.", "OK", ("N", "E", "W")),
    State("Oregon", "Or.", "OR", ("",)),
    State("Pennsylvania", "Pa.", "PA", ("E", "M", "W")),
    State("Puerto Rico", "P.R.", "PR", ("",)),
    State("Rhode Island", "R.I.", "RI", ("",)),
    State("South Carolina", "S.C.", "SC", ("",)),
    State("South Dakota", "S.D.", "SD", ("",)),
    State("Tennessee", "Tenn.", "TN", ("E", "M", "W")),
    State("Texas", "Tex.", "TX", ("N", "S", "E", "W")),
    State("Utah", "Utah", "UT", ("",)),
    State("Vermont", "Vt.", "VT", ("",)),
    State("Virginia", "Va.", "VA", ("E", "W")),
    State("Washington", "Wash.", "WA", ("E", "W")),
    State("West Virginia", "W. Va.", "WV", ("N", "S")),
    State("Wisconsin", "Wis.", "WI", ("E", "W")),
    State("Wyoming", "Wyo.", "WY", ("",)),
    State("Guam", "Guam", "GU", ("",)),
    State("Virgin Islands", "V.I.", "VI", ("",)),
    State("Northern Mariana Islands", "N. Mar. I.", "MP", ("",)),
)

DIRECTIONS: dict[str, str] = {
    "N": "Northern",
    "S": "Southern",
    "E": "Eastern",
    "W": "Western",
    "M": "Middle",
    "C": "Central",
}

ORDINAL_WORDS: tuple[str, ...] = (
    "First",
    "Second",
    "Third",
    "Fourth",
    "Fifth",
    "Sixth",
    "Seventh",
    "Eighth",
    "Ninth",
    "Tenth",
    "Eleventh",
    "Twelfth",
    "Thirteenth",
    "Fourteenth",
    "Fifteenth",
)

# Bluebook forms of the federal circuits' abbreviations ("2d Cir.").
CIRCUIT_ABBREVIATIONS: tuple[str, ...] = (
    "1st",
    "2d",
    "3d",
    "4th",
    "5th",
    "6th",
    "7th",
    "8th",
    "9th",
    "10th",
    "11th",
    "D.C.",
    "Fed.",
)

# Tribunals whose names need no place to be unambiguous.  An optional
# state name may precede any of them ("Tennessee Court of Workers'
# Compensation Claims").
NAMED_TRIBUNALS: tuple[str, ...] = (
    "Supreme Court of the United States",
    "United States Supreme Court",
    "United States Tax Court",
    "Tax Court",
    "Court of Federal Claims",
    "Court of International Trade",
    "Court of Appeals for Veterans Claims",
    "Court of Veterans Appeals",
    "Court of Appeals for the Armed Forces",
    "Court of Military Appeals",
    "Court of Customs and Patent Appeals",
    "Court of Claims",
    "Judicial Panel on Multidistrict Litigation",
    "Foreign Intelligence Surveillance Court",
    "Army Court of Criminal Appeals",
    "Navy-Marine Corps Court of Criminal Appeals",
    "Air Force Court of Criminal Appeals",
    "Coast Guard Court of Criminal Appeals",
    "Board of Veterans' Appeals",
    "Board of Immigration Appeals",
    "Board of Patent Appeals and Interferences",
    "Patent Trial and Appeal Board",
    "Trademark Trial and Appeal Board",
    "Merit Systems Protection Board",
    "Armed Services Board of Contract Appeals",
    "Civilian Board of Contract Appeals",
    "Benefits Review Board",
    "Employees' Compensation Appeals Board",
    "Discharge Review Board",
    "Naval Discharge Review Board",
    "Army Discharge Review Board",
    "Board for Correction of Naval Records",
    "Board for Correction of Military Records",
    "Workers' Compensation Appeals Board",
    "Workers' Compensation Court",
    "Workers' Compensation Commission",
    "Court of Workers' Compensation Claims",
    "Industrial Claim Appeals Office",
    "Office of Administrative Hearings",
    "Bankruptcy Appellate Panel",
    "Court of Chancery",
    "Chancery Court",
    "Court of Criminal Appeals",
    "Court of Special Appeals",
    "Supreme Judicial Court",
    "Commonwealth Court",
    "Appellate Division",
    "Court of Common Pleas",
    "Orphans' Court",
    "Surrogate's Court",
    "Land Court",
    "Housing Court",
    "Water Court",
)

# Kinds of trial and appellate courts that need a place or number to name
# one court ("Circuit Court of St. Charles County", "18th District Court").
COURT_KINDS: tuple[str, ...] = (
    "Supreme",
    "Superior",
    "Circuit",
    "District",
    "County",
    "Chancery",
    "Probate",
    "Family",
    "Juvenile",
    "Municipal",
    "Justice",
    "Magistrate",
    "Magistrates",
    "Criminal",
    "Civil",
    "Appellate",
    "City",
    "Police",
    "Traffic",
    "Small Claims",
    "Claims",
    "Tribal",
    "Bankruptcy",
    "Trial",
    "State",
)
