"""Unit tests of the reference partner client's rules (no broker): `python -m unittest` in this
folder, with the generated modules (README.md). The e2e test `python_partner` runs them in CI."""

import datetime
import os
import tempfile
import time
import unittest

import pika

import requester
import responder
import wire
from wire import cat, pb

wire.log.setLevel("ERROR")  # the refusals these tests provoke are logged as warnings


def nir(body13):
    """A synthetic NIR: 13 digits and their key."""
    return body13 + f"{97 - int(body13) % 97:02}"


A, B, C, D, X = (nir(f"15503750560{i:02}") for i in (1, 2, 3, 4, 9))


def extract(rows):
    """An Extract of `rows` (nir, former_nirs, sex, birth_year, rsa)."""
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, encoding="utf-8") as f:
        f.write("nir;former_nirs;sex;birth_year;rsa;housing_aid\n")
        for row in rows:
            f.write(";".join(row) + "\n")
    try:
        return responder.Extract(f.name, {"rsa", "housing_aid"})
    finally:
        os.unlink(f.name)


def person(current, formers=(), sex=pb.SEX_UNSPECIFIED, year=0):
    return pb.SolicitedPerson(person_ref=1, nir=current, former_nirs=list(formers), sex=sex, birth_year=year)


class Matching(unittest.TestCase):
    def test_a_current_nir_takes_precedence_over_a_former_one(self):
        e = extract([(A, "", "M", "1960", "oui", ""), (B, A, "M", "1960", "non", "")])
        self.assertEqual(e.find(person(A))["nir"], A)

    def test_the_persons_former_nirs_are_tried_in_order_after_the_current_one(self):
        e = extract([(B, "", "", "", "", ""), (C, "", "", "", "", "")])
        self.assertEqual(e.find(person(X, [C, B]))["nir"], C)
        self.assertEqual(e.find(person(B, [C]))["nir"], B)

    def test_a_former_nir_claimed_by_two_records_matches_neither(self):
        e = extract([(B, D, "", "", "", ""), (C, D, "", "", "", "")])
        self.assertIsNone(e.find(person(D)))

    def test_an_identity_mismatch_is_not_the_person_and_the_search_goes_on(self):
        e = extract([(A, "", "F", "1960", "", ""), (B, A, "M", "1960", "", "")])
        self.assertEqual(e.find(person(A, sex=pb.SEX_MALE))["nir"], B, "the former-NIR record agrees")
        self.assertIsNone(e.find(person(A, sex=pb.SEX_MALE, year=1961)), "nothing agrees: not found")
        self.assertEqual(e.find(person(A, year=1960))["nir"], A, "an unknown sex agrees")

    def test_a_malformed_nir_matches_nobody(self):
        e = extract([(A, "", "", "", "", "")])
        self.assertIsNone(e.find(person(A[:-2] + "00")))
        self.assertEqual(e.find(person(" ".join([A[:5], A[5:]])))["nir"], A, "spaces do not count")


class Answers(unittest.TestCase):
    def test_declines_say_why_once_each_in_the_order_asked(self):
        rsa, css = wire.NUMBERS["rsa"], wire.NUMBERS["css"]
        answerable, declined = responder.plan([rsa, css, 99, 0, css, 99], {"rsa"})
        self.assertEqual(answerable, {"rsa"})
        self.assertEqual(
            [(d.category, d.reason) for d in declined],
            [(css, pb.DECLINE_REASON_NOT_HELD), (99, pb.DECLINE_REASON_NOT_IN_DECREE),
             (0, pb.DECLINE_REASON_NOT_IN_DECREE)],
        )  # fmt: skip

    def test_one_answer_per_person_in_order_with_only_asked_and_held_values(self):
        e = extract([(A, "", "", "", "oui", "non")])
        s = pb.Solicitation(case_id="c", solicitation_id="s", chunk_index=1, chunk_count=2,
                            wanted=[wire.NUMBERS["rsa"]])  # fmt: skip
        s.persons.add(person_ref=7, nir=X)
        s.persons.add(person_ref=8, nir=A)
        r = responder.respond(s, "msa", e, {"rsa", "housing_aid"})
        self.assertEqual((r.sender, r.case_id, r.solicitation_id, r.chunk_index, r.chunk_count),
                         ("msa", "c", "s", 1, 2))  # fmt: skip
        self.assertEqual((r.schema_version, r.schema_minor), (wire.SCHEMA_VERSION, wire.SCHEMA_MINOR))
        self.assertEqual([(a.person_ref, a.status) for a in r.answers],
                         [(7, pb.PERSON_STATUS_NOT_FOUND), (8, pb.PERSON_STATUS_FOUND)])  # fmt: skip
        self.assertFalse(r.answers[0].HasField("values"))
        self.assertEqual(wire.format_values(r.answers[1].values), {"rsa": "true"}, "housing_aid was not asked")


class Values(unittest.TestCase):
    def test_the_value_syntax_reads_every_spelling_and_writes_the_canonical_one(self):
        v = cat.CategoryValues()
        for code, text in [("family_situation", "Veuve"), ("css", "oui"), ("household_annual_resources", "15230,5"),
                           ("quarters_contributed", "148"), ("pension_start_date", "2019-07-01"),
                           ("hospital_stays_12m", "2025-03-02/5/full|2025-06-10/0/ambulatory"),
                           ("rsa", "")]:  # fmt: skip
            wire.set_value(v, code, text)
        self.assertEqual(wire.format_values(v), {
            "family_situation": "widowed", "css": "true", "household_annual_resources": "15230.50",
            "quarters_contributed": "148", "pension_start_date": "2019-07-01",
            "hospital_stays_12m": "2025-03-02/5/full|2025-06-10/0/ambulatory",
        })  # fmt: skip
        self.assertFalse(v.HasField("rsa"), "an empty cell is unknown")
        none = cat.CategoryValues()
        wire.set_value(none, "hospital_stays_12m", "none")
        self.assertEqual(wire.format_values(none), {"hospital_stays_12m": "none"}, "known: no stay")
        for code, bad in [("css", "peut-être"), ("household_annual_resources", "1 000"), ("family_situation", "x"),
                          ("pension_start_date", "2019-02-30"), ("quarters_contributed", "-1")]:  # fmt: skip
            with self.assertRaises(ValueError, msg=f"{code}={bad}"):
                wire.set_value(cat.CategoryValues(), code, bad)


class Envelope(unittest.TestCase):
    def test_every_property_and_header_is_set_and_copies_the_fields(self):
        r = pb.Response(schema_version=1, schema_minor=wire.SCHEMA_MINOR, case_id="c", chunk_index=2, chunk_count=3)
        props = wire.properties(r, "body-msa", 4_000_000_000, (2, 3))
        self.assertEqual((props.type, props.content_type, props.user_id, props.correlation_id, props.delivery_mode),
                         ("passerelle.v1.Response", wire.CONTENT_TYPE, "body-msa", "c", 2))  # fmt: skip
        self.assertTrue(props.message_id and props.timestamp and int(props.expiration) > 0)
        self.assertEqual(props.headers, {wire.H_VERSION: 1, wire.H_MINOR: 1, wire.H_CHUNK_INDEX: 2,
                                         wire.H_CHUNK_COUNT: 3, wire.H_EXPIRES_AT: 4_000_000_000_000})  # fmt: skip
        self.assertEqual(wire.decode(pb.Response, props, r.SerializeToString()), r)

    def test_a_receiver_refuses_what_disagrees_or_does_not_decode(self):
        r = pb.Response(schema_version=1, schema_minor=1, case_id="c", chunk_count=1)
        good = wire.properties(r, "u", 4_000_000_000, (0, 1))
        cases = {
            "type": pika.BasicProperties(type="passerelle.v1.Result", headers=good.headers),
            "chunk": pika.BasicProperties(type=good.type, headers={**good.headers, wire.H_CHUNK_INDEX: 1}),
            "minor": pika.BasicProperties(type=good.type, headers={**good.headers, wire.H_MINOR: 2}),
            "version": pika.BasicProperties(type=good.type, headers={**good.headers, wire.H_VERSION: 2}),
        }
        for what, props in cases.items():
            with self.assertRaises(wire.Refused, msg=what):
                wire.decode(pb.Response, props, r.SerializeToString())
        with self.assertRaises(wire.Refused):
            wire.decode(pb.Response, good, b"\xff\xff\xff")

    def test_the_login_of_the_url_is_the_user_id(self):
        self.assertEqual(wire.broker_login("amqp://body%2Dmsa:pw@host/%2f"), "body-msa")
        self.assertEqual(wire.broker_login("amqp://host/"), "guest")


class Calls:
    """A channel and a publisher that record what the responder does, in order."""

    def __init__(self):
        self.log = []

    def basic_publish(self, **kwargs):
        self.log.append(("publish", kwargs))

    def basic_ack(self, tag):
        self.log.append(("ack", tag))

    def basic_nack(self, tag, requeue):
        self.log.append(("nack", tag, requeue))


def a_responder(calls, rows=()):
    r = responder.Responder.__new__(responder.Responder)
    r.body, r.user_id, r.publisher, r.holds = "msa", "body-msa", calls, {"rsa"}
    r.args = type("Args", (), {"prefix": "p"})()
    r.extract = extract(rows)
    return r


class Deliveries(unittest.TestCase):
    def test_a_duplicate_or_a_reminder_is_answered_again_in_full_and_acked_after_its_response(self):
        calls = Calls()
        r = a_responder(calls, [(A, "", "", "", "oui", "")])
        s = pb.Solicitation(schema_version=1, sender="obs", case_id="c", body="msa", chunk_count=1,
                            wanted=[wire.NUMBERS["rsa"]])  # fmt: skip
        s.respond_by.FromSeconds(int(time.time()) + 3600)
        s.persons.add(person_ref=1, nir=A)
        props = wire.properties(s, "u", time.time() + 3600, (0, 1))
        r.on_solicitation(calls, type("M", (), {"delivery_tag": 1})(), props, s.SerializeToString())
        s.reminder = True
        r.on_solicitation(calls, type("M", (), {"delivery_tag": 2})(), props, s.SerializeToString())
        self.assertEqual([c[0] if c[0] == "publish" else c for c in calls.log],
                         ["publish", ("ack", 1), "publish", ("ack", 2)])  # fmt: skip
        first, second = (c[1] for c in calls.log if c[0] == "publish")
        self.assertEqual((first["exchange"], first["routing_key"], first["mandatory"]), ("p.responses", "obs", True))
        self.assertEqual(first["body"], second["body"], "the same answer, in full")
        self.assertEqual(wire.decode(pb.Response, second["properties"], second["body"]).answers[0].status,
                         pb.PERSON_STATUS_FOUND)  # fmt: skip

    def test_what_does_not_decode_is_rejected_without_requeue(self):
        calls = Calls()
        r = a_responder(calls)
        s = pb.Solicitation(schema_version=1, case_id="c", chunk_count=1)
        props = wire.properties(s, "u", time.time() + 3600, (0, 1))
        r.on_solicitation(calls, type("M", (), {"delivery_tag": 9})(), props, b"\xff\xff")
        self.assertEqual(calls.log, [("nack", 9, False)])


class Refusals(unittest.TestCase):
    def test_a_refused_solicitation_is_told_to_its_observatory_by_a_notice(self):
        calls = Calls()
        r = a_responder(calls)
        s = pb.Solicitation(schema_version=1, sender="obs", case_id="c", body="cnaf", chunk_count=1)
        props = wire.properties(s, "u", 4_000_000_000, (0, 1))
        r.tell(props, s.SerializeToString(), wire.Refused("addressed to cnaf", pb.NOTICE_REASON_NOT_PERMITTED))
        [(_, sent)] = calls.log
        self.assertEqual((sent["exchange"], sent["routing_key"]), ("p.notices-to-observatories", "obs"))
        notice = wire.decode(pb.Notice, sent["properties"], sent["body"])
        self.assertEqual((notice.sender, notice.recipient, notice.refused_message_id, notice.case_id, notice.reason),
                         ("msa", "obs", props.message_id, "c", pb.NOTICE_REASON_NOT_PERMITTED))  # fmt: skip
        r.tell(props, b"\xff\xff", wire.Refused("undecodable"))
        self.assertEqual(len(calls.log), 1, "a message of unknown origin is answered by nobody")


class Requester(unittest.TestCase):
    def test_nobody_under_55_leaves_to_the_month_of_the_nir(self):
        today = datetime.date(2026, 6, 15)
        self.assertTrue(requester.old_enough("171055", 1971, today), "born May 1971: 55")
        self.assertFalse(requester.old_enough("171065", 1971, today), "born June 1971: 55 only from 30 June")
        self.assertTrue(requester.old_enough("171065", 1971, datetime.date(2026, 6, 30)), "30 June: 55")
        self.assertFalse(requester.old_enough("171995", 1971, datetime.date(2026, 12, 30)), "no month: December")
        self.assertTrue(requester.old_enough("171995", 1971, datetime.date(2026, 12, 31)), "31 December: 55")
        self.assertTrue(requester.old_enough("171355", 1971, today), "35 is May (minus 30)")
        self.assertFalse(requester.old_enough("171365", 1971, today), "36 is June (minus 30)")

    def test_want_takes_codes_and_decree_domains(self):
        self.assertEqual(requester.wanted("5,rsa"), [15, 16, 17, 18])
        self.assertEqual(requester.wanted("2"), [1])


if __name__ == "__main__":
    unittest.main()
