"""The message every benchmark sends: a probe payload of about 200 bytes of JSON.

Written out rather than built from :class:`streamproc.testing.Probe`, so that the
peer frameworks' processes can import it without streamproc or its dependencies
(a test checks it is what ``Probe(seq=0, pad="x" * 150)`` serializes to).
"""

from __future__ import annotations

import json

PAYLOAD_FIELDS = {
    "seq": 0,
    "action": "ok",
    "seconds": 0.0,
    "until_attempt": 0,
    "at_stage": None,
    "polls": 0,
    "pad": "x" * 150,
}
PAYLOAD = json.dumps(PAYLOAD_FIELDS, separators=(",", ":")).encode()
