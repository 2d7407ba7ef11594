#!/usr/bin/env python3
"""The reference partner responder (examples/python/responder.py), broken four ways on purpose:
`passerelle conformance responder` must fail it by the rules named (tests/e2e/conformance.rs).

1. it ignores former NIRs (its own and the solicitation's)      → former-nir-matched
2. it leaves the last person of chunk 0 out of its Response      → one-answer-per-person
3. it answers a category the solicitation did not ask            → values-only-asked-and-held
4. it omits the header x-passerelle-chunk-index                  → chunk-headers

Same options as the reference responder. The reference's folder is PARTNER_EXAMPLES, else the
repository's examples/python.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("PARTNER_EXAMPLES") or os.path.join(HERE, "..", "..", "examples", "python"))

import responder  # noqa: E402
import wire  # noqa: E402
from wire import pb  # noqa: E402


def find_by_current_nir_only(self, solicited):
    record = self.current.get(wire.nir(solicited.nir))
    return record if record is not None and responder.agrees(record, solicited) else None


responder.Extract.find = find_by_current_nir_only

reference_respond = responder.respond


def respond(solicitation, body, extract, holds):
    response = reference_respond(solicitation, body, extract, holds)
    if solicitation.chunk_index == 0 and response.answers:
        del response.answers[-1]
    unasked = next(code for number, code in sorted(wire.CODES.items()) if number not in solicitation.wanted)
    for answer in response.answers:
        if answer.status == pb.PERSON_STATUS_FOUND:
            setattr(answer.values, unasked, True)
    return response


responder.respond = respond

reference_properties = wire.properties


def properties(message, user_id, expires_at, chunk=None):
    props = reference_properties(message, user_id, expires_at, chunk)
    props.headers.pop(wire.H_CHUNK_INDEX, None)
    return props


wire.properties = properties

if __name__ == "__main__":
    responder.main()
