#!/usr/bin/env python3
"""The reference partner requester (examples/python/requester.py), broken on purpose:
`passerelle conformance requester` must fail it by the rules named (tests/e2e/conformance_requester.rs).

1. it sends persons under 55 (no age check)                       → persons-aged-55
2. it sets no AMQP correlation_id (on its Request and its Receipt) → request-properties, receipt-sent
3. (the test runs it with --service 0, UNSPECIFIED)                → request-service

Same options as the reference requester. The reference's folder is PARTNER_EXAMPLES, else the
repository's examples/python.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("PARTNER_EXAMPLES") or os.path.join(HERE, "..", "..", "examples", "python"))

import requester  # noqa: E402
import wire  # noqa: E402

requester.old_enough = lambda nir, birth_year, today: True

reference_properties = wire.properties


def properties(message, user_id, expires_at, chunk=None):
    props = reference_properties(message, user_id, expires_at, chunk)
    props.correlation_id = None
    return props


wire.properties = properties

if __name__ == "__main__":
    sys.exit(requester.main())
