#!/usr/bin/env python3
"""A requester, the reference partner client's version (README.md here says how to run it).

It sends one case to an observatory and waits for its answer:

  this program ──Request chunks──▶ exchange {prefix}.requests, routing key = the observatory
  {results queue} ◀──Refusal / Result chunks── the observatory
  this program ──Receipt──▶ exchange {prefix}.requests (the observatory then purges the case)

The results queue is `{prefix}.body.{body}.results`, or `{prefix}.requester.{body}.{office}.results`
when the deployment gives the body requester offices (`--per-office`); notices (why the
observatory refused one of our messages) arrive on the matching `.notices` queue.

The selection is a CSV file with a header (README, "The selection file"): `nir`, `former_nirs`,
`sex`, `birth_year`, `commune_code`, and optionally one column per category code: the risk factors
already known, sent only for the categories the requester's own branch holds (decree art. 3, "dans
son domaine de compétence"). Names, addresses, e-mails and phones never leave: they are not read.
A person under 55 this month (to the birth month the NIR gives, December when it gives none) is
not sent.

The result is written as JSON lines, one per person: `{"nir", "answers": [{"body", "status",
"values": {code: text}}]}` for a person in the result, `{"nir", "refused": [{"field", "reason"}]}`
for a refused one. Exit 0 once the whole result is stored and the receipt sent; 2 when the case is
refused as a whole; 3 when nothing complete arrived in time; 4 when the observatory refused one of
our messages (a notice).
"""

import argparse
import calendar
import datetime
import json
import os
import sys
import time
import uuid
import zoneinfo

import pika

import wire
from wire import log, pb


def born_month(nir):
    """The birth month positions 4–5 of the NIR give: 01–12, or 31–42 minus 30; else None."""
    month = int(nir[3:5])
    return month if 1 <= month <= 12 else month - 30 if 31 <= month <= 42 else None


def old_enough(nir, birth_year, today):
    """55 or older at `today` by the product's rule: the day of birth is never known, so the
    person is taken as born on the LAST day of the NIR's month (December when the NIR gives no
    month), and a person turning 55 is sent only from that day on."""
    month = born_month(nir) or 12
    year = birth_year + 55
    return today >= datetime.date(year, month, calendar.monthrange(year, month)[1])


def read_selection(path, body, today):
    """The persons to send, and the number of lines left out (each logged by line number)."""
    known = [code for code in wire.DEFAULT_HOLDS[body]]
    persons, left_out = [], 0
    for line, row in enumerate(wire.read_csv(path), start=2):
        try:
            nir = wire.nir(row["nir"])
            formers = [wire.nir(f) for f in (row.get("former_nirs") or "").split("|") if f.strip()]
            year = int(row["birth_year"])
            if nir is None or None in formers:
                raise ValueError("invalid NIR")
            if not old_enough(nir, year, today):
                raise ValueError("under 55")
            person = pb.RequestedPerson(
                nir=nir, former_nirs=formers, sex=wire.sex(row["sex"]), birth_year=year,
                commune_code=row["commune_code"].strip(),
            )  # fmt: skip
            for code in known:
                wire.set_value(person.known_risk_factors, code, row.get(code) or "")
        except (KeyError, ValueError) as e:
            log.warning("selection line %d not sent: %s", line, e)
            left_out += 1
            continue
        persons.append(person)
    return persons, left_out


def wanted(text):
    """`--want`: category codes and decree domains (2 to 7), comma-separated, e.g. `3,4,rsa`."""
    numbers = []
    for item in text.split(","):
        item = item.strip()
        if item.isdigit() and 2 <= int(item) <= 7:
            numbers += [n for n, domain in wire.DOMAIN.items() if domain == int(item)]
        elif item in wire.NUMBERS:
            numbers.append(wire.NUMBERS[item])
        else:
            raise argparse.ArgumentTypeError(f"{item!r} is neither a category code nor a domain 2 to 7")
    return sorted(set(numbers))


class Case:
    def __init__(self, args, persons):
        self.args, self.persons = args, persons
        self.case_id = str(uuid.uuid4())
        self.user_id = wire.broker_login(args.amqp_url)
        party = f"requester.{args.body}.{args.office}" if args.per_office else f"body.{args.body}"
        self.results_queue = f"{args.prefix}.{party}.results"
        self.notices_queue = f"{args.prefix}.{party}.notices"
        self.result_chunks = {}  # chunk_index → Result (deduplicated: delivery is at-least-once)
        self.refused = {}  # NIR → problems
        self.outcome = None  # None while waiting; else an exit code

    def send(self, connection):
        """Publishes every Request chunk, each confirmed by the broker."""
        args = self.args
        channel = wire.confirmed_channel(connection)
        self.sent_at = time.time()
        expires_at = self.sent_at + wire.RETENTION_CAP_S
        size = args.chunk_size
        chunks = [self.persons[i : i + size] for i in range(0, len(self.persons), size)]
        for index, persons in enumerate(chunks):
            request = pb.Request(
                schema_version=wire.SCHEMA_VERSION,
                schema_minor=wire.SCHEMA_MINOR,
                sender=args.body,
                requester_office=args.office,
                case_id=self.case_id,
                observatory=args.observatory,
                purpose=args.purpose,
                service=args.service,
                basis=pb.LEGAL_BASIS_DECREE_2017_334_ART_3,
                wanted=args.want,
                chunk_index=index,
                chunk_count=len(chunks),
                persons=persons,
            )
            request.respond_by.FromSeconds(int(self.sent_at + args.respond_in_days * 86400))
            channel.basic_publish(
                exchange=wire.exchange(args.prefix, "requests"),
                routing_key=args.observatory,
                body=request.SerializeToString(),
                properties=wire.properties(request, self.user_id, expires_at, (index, len(chunks))),
                mandatory=True,
            )
        log.info("case %s sent: %d persons in %d chunks", self.case_id, len(self.persons), len(chunks))

    def on_result(self, channel, method, props, body):
        kind = props.type
        try:
            message = wire.decode(pb.Refusal if kind == "passerelle.v1.Refusal" else pb.Result, props, body)
        except wire.Refused as e:
            log.warning("message %s refused: %s", props.message_id, e)
            channel.basic_nack(method.delivery_tag, requeue=False)
            return
        if message.case_id != self.case_id:
            return  # another case's: left unacknowledged, back on the queue when we close
        if isinstance(message, pb.Refusal):
            if message.whole_case:
                problems = "; ".join(f"{p.field}: {p.reason}" for p in message.case_problems)
                log.warning("case %s refused as a whole: %s", self.case_id, problems)
                self.outcome = 2
            for person in message.persons:
                self.refused[person.nir] = [{"field": p.field, "reason": p.reason} for p in person.problems]
        else:
            self.result_chunks.setdefault(message.chunk_index, message)
            if len(self.result_chunks) == message.chunk_count:
                self.outcome = 0
        channel.basic_ack(method.delivery_tag)

    def on_notice(self, channel, method, props, body):
        wire.log_notice(props, body)
        try:
            if pb.Notice.FromString(body).case_id == self.case_id:
                self.outcome = 4
        except Exception:
            pass
        channel.basic_ack(method.delivery_tag)

    def wait(self, connection):
        channel = connection.channel()
        channel.basic_consume(self.results_queue, self.on_result)
        channel.basic_consume(self.notices_queue, self.on_notice)
        deadline = time.monotonic() + self.args.timeout
        while self.outcome is None and time.monotonic() < deadline:
            connection.process_data_events(time_limit=0.2)
        return 3 if self.outcome is None else self.outcome

    def write(self):
        """The result as JSON lines; returns (persons, found by someone, completeness)."""
        persons = found = 0
        completeness = "-"
        # The result names persons: readable by this account only (0600), as the product's are.
        fd = os.open(self.args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "w", encoding="utf-8") as out:
            for _, chunk in sorted(self.result_chunks.items()):
                completeness = pb.Completeness.Name(chunk.completeness)[len("COMPLETENESS_") :].lower()
                for person in chunk.persons:
                    answers = [
                        {
                            "body": a.body,
                            "status": pb.PersonStatus.Name(a.status)[len("PERSON_STATUS_") :],
                            "values": wire.format_values(a.values),
                        }
                        for a in person.answers
                    ]
                    persons += 1
                    found += any(a["status"] == "FOUND" for a in answers)
                    out.write(json.dumps({"nir": person.nir, "answers": answers}, ensure_ascii=False) + "\n")
            for nir, problems in self.refused.items():
                out.write(json.dumps({"nir": nir, "refused": problems}, ensure_ascii=False) + "\n")
        return persons, found, completeness

    def send_receipt(self, connection):
        """Tells the observatory the whole result is stored: it purges the case (decree art. 5)."""
        chunks = len(self.result_chunks)
        receipt = pb.Receipt(
            schema_version=wire.SCHEMA_VERSION,
            schema_minor=wire.SCHEMA_MINOR,
            sender=self.args.body,
            case_id=self.case_id,
            chunks_received=chunks,
        )
        wire.confirmed_channel(connection).basic_publish(
            exchange=wire.exchange(self.args.prefix, "requests"),
            routing_key=self.args.observatory,
            body=receipt.SerializeToString(),
            properties=wire.properties(receipt, self.user_id, self.sent_at + wire.RETENTION_CAP_S),
            mandatory=True,
        )


def main():
    parser = argparse.ArgumentParser(
        description="Send one case to a Passerelle observatory and write its result "
        "(the reference partner requester: read its source as the wire contract).",
        epilog="Example: requester.py --amqp-url amqp://requester-cnaf:secret@broker:5672/%2f --body cnaf "
        "--office caf-13 --observatory carsat-sud-est --selection selection.csv --want 3,4,7 "
        "--out result.jsonl. Exit 0: result stored and receipt sent; 2: case refused; 3: timeout; "
        "4: a message refused (notice).",
    )
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/%2f",
                        help="the broker, as this requester's own user: its login is the user_id of every message "
                        "(default: %(default)s)")
    parser.add_argument("--prefix", default=wire.DEFAULT_PREFIX,
                        help="the deployment's name prefix of exchanges and queues (default: %(default)s)")
    parser.add_argument("--body", required=True, choices=sorted(wire.DEFAULT_HOLDS), help="the requester's branch")
    parser.add_argument("--office", required=True, help="the requesting office, e.g. caf-13")
    parser.add_argument("--per-office", action="store_true",
                        help="the deployment gives the body requester offices: read the office's own queues")
    parser.add_argument("--observatory", required=True,
                        help="the territorially competent observatory, e.g. carsat-sud-est")
    parser.add_argument("--selection", required=True, metavar="CSV",
                        help="the persons (README, \"The selection file\")")
    parser.add_argument("--want", required=True, type=wanted, metavar="LIST",
                        help="the categories asked: codes and decree domains 2 to 7, e.g. 3,4,7 or rsa,housing_aid")
    parser.add_argument("--out", required=True, metavar="JSONL", help="where to write the result")
    parser.add_argument("--purpose", default="atelier de prévention", help="the service offered, in words")
    parser.add_argument("--service", type=int, default=1, choices=range(8),
                        help="the service offered, as an OfferedService code 0 to 7 (default: %(default)s, "
                        "prevention workshop)")
    parser.add_argument("--respond-in-days", type=int, default=7, help="the deadline asked (default: %(default)s)")
    parser.add_argument("--chunk-size", type=int, default=1000, help="persons per request chunk")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the result")
    args = parser.parse_args()
    wire.setup_logging(f"requester[{args.body}.{args.office}]")

    today = datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Paris")).date()  # the legal time zone
    persons, left_out = read_selection(args.selection, args.body, today)
    if not persons:
        sys.exit(f"{args.selection}: no person to send ({left_out} line(s) left out)")
    case = Case(args, persons)
    connection = pika.BlockingConnection(pika.URLParameters(args.amqp_url))
    try:
        case.send(connection)
        code = case.wait(connection)
        if code == 0:
            persons_out, found, completeness = case.write()
            case.send_receipt(connection)
            print(
                f"case {case.case_id}: {len(persons)} sent, {left_out} left out, {len(case.refused)} refused; "
                f"result {completeness} in {len(case.result_chunks)} chunk(s): {persons_out} persons, {found} found "
                f"by some body; written to {args.out}; receipt sent"
            )
        elif code == 3:
            print(f"case {case.case_id}: no complete result within {args.timeout:g} s", file=sys.stderr)
        else:
            case.write()
            print(f"case {case.case_id}: refused (see the log); refusals written to {args.out}", file=sys.stderr)
        return code
    finally:
        connection.close()


if __name__ == "__main__":
    sys.exit(main())
