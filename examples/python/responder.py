#!/usr/bin/env python3
"""A body's responder, the reference partner client's version (README.md here says how to run it).

It answers the observatory's solicitations for one body from a small CSV extract:

  {prefix}.body.{body}.solicitations ──Solicitation──▶ this program
  this program ──Response──▶ exchange {prefix}.responses, routing key = the observatory's code
  {prefix}.body.{body}.notices ──Notice──▶ this program (logged: why a response was refused)

For each solicitation chunk:
1. a delivery that is not a Solicitation for this body, cannot be decoded, has headers that
   disagree with its fields or no `respond_by` is rejected without requeue (the broker
   dead-letters it), and the observatory it names is told why by a Notice (exchange
   {prefix}.notices-to-observatories, routing key the observatory's code);
2. each asked category is answered when held, else declined: a number outside art. 2, 2° to 7°
   → NOT_IN_DECREE, a category of the decree the body does not hold → NOT_HELD (the same
   declines on every chunk);
3. each person is matched (see `Extract.find`) and answered FOUND, with the values of the asked
   and held categories, or NOT_FOUND: one answer per person of the chunk, in order;
4. the Response is published with publisher confirms, and only then is the solicitation acked.
Nothing is remembered between deliveries: a reminder or a duplicate is answered again, in full.

The broker queues are declared by the observatory: a body only reads its own two queues and
publishes responses (no configure right needed).
"""

import argparse
import signal
import sys
import time

import pika

import wire
from wire import cat, log, pb

RESPONSE_GRACE_S = 24 * 3600  # a response stays deliverable a day past the solicitation's deadline
NOTICE_LIFETIME_S = 7 * 24 * 3600  # a notice waits a week for its recipient at most


class Extract:
    """The body's persons, from a CSV extract with a header: `nir`, `former_nirs` (`|`-separated),
    `sex` (M/F/1/2), `birth_year`, and one column per category code (values in the value syntax;
    an empty cell is unknown). Only the held categories are kept; a bad line is skipped, logged
    by line number (never by NIR)."""

    def __init__(self, path, holds):
        self.current = {}  # NIR → person
        self.former = {}  # former NIR → person, or None when two persons claim it (matches neither)
        for line, row in enumerate(wire.read_csv(path), start=2):
            try:
                person = self._person(row, holds)
            except (ValueError, KeyError) as e:
                log.warning("extract line %d skipped: %s", line, e)
                continue
            self.current[person["nir"]] = person
            for former in person["former_nirs"]:
                self.former[former] = None if former in self.former else person
        log.info("extract %s: %d persons, %d former NIRs", path, len(self.current), len(self.former))

    @staticmethod
    def _person(row, holds):
        current = wire.nir(row["nir"])
        if current is None:
            raise ValueError("invalid nir")
        formers = [wire.nir(f) for f in (row.get("former_nirs") or "").split("|") if f.strip()]
        if None in formers:
            raise ValueError("invalid former_nirs")
        year = (row.get("birth_year") or "").strip()
        values = cat.CategoryValues()
        for code in holds:
            wire.set_value(values, code, row.get(code) or "")
        return {
            "nir": current,
            "former_nirs": [f for f in dict.fromkeys(formers) if f != current],
            "sex": wire.sex(row.get("sex") or ""),
            "birth_year": int(year) if year else 0,
            "values": values,
        }

    def find(self, solicited):
        """The matching rule (README, "What a responder answers, exactly"): for each of the
        person's NIRs in order (the current one, then each former NIR as given), a record whose
        current NIR it is, else whose former NIR it is; the first such record whose identity
        agrees is the person. It agrees when no known field disagrees: sex when both know it,
        birth year when both know it. A record found by NIR that disagrees is *not* the person
        (answering another person's data would be a breach): the search goes on, and ends in
        NOT_FOUND when nothing agrees. Malformed NIRs match nobody."""
        candidates = []
        for text in [solicited.nir, *solicited.former_nirs]:
            n = wire.nir(text)
            if n is not None and n not in candidates:
                candidates.append(n)
        for n in candidates:
            for record in (self.current.get(n), self.former.get(n)):
                if record is not None and agrees(record, solicited):
                    return record
        return None


def agrees(record, solicited):
    sex_ok = not (record["sex"] and solicited.sex in (pb.SEX_MALE, pb.SEX_FEMALE)) or record["sex"] == solicited.sex
    year_ok = not (record["birth_year"] and solicited.birth_year) or record["birth_year"] == solicited.birth_year
    return sex_ok and year_ok


def plan(asked, holds):
    """Splits the asked category numbers (as on the wire: maybe outside the enum) into the held
    ones to answer and the declines, each category declined once, in the order asked."""
    answerable, declined = set(), []
    for number in asked:
        code = wire.CODES.get(number)
        if code in holds:
            answerable.add(code)
            continue
        if any(d.category == number for d in declined):
            continue
        if code is None:
            reason, detail = pb.DECLINE_REASON_NOT_IN_DECREE, f"category number {number} is not one of art. 2, 2° to 7°"
        else:
            reason, detail = pb.DECLINE_REASON_NOT_HELD, f"{code} is not held by this body"
        declined.append(pb.Decline(category=number, reason=reason, detail=detail))
    return answerable, declined


def respond(solicitation, body, extract, holds):
    """The Response to one solicitation chunk (pure: no IO)."""
    answerable, declined = plan(solicitation.wanted, holds)
    response = pb.Response(
        schema_version=wire.SCHEMA_VERSION,
        schema_minor=wire.SCHEMA_MINOR,
        sender=body,
        case_id=solicitation.case_id,
        solicitation_id=solicitation.solicitation_id,
        chunk_index=solicitation.chunk_index,
        chunk_count=solicitation.chunk_count,
        declined=declined,
    )
    for person in solicitation.persons:
        answer = response.answers.add(person_ref=person.person_ref, status=pb.PERSON_STATUS_NOT_FOUND)
        record = extract.find(person)
        if record is not None:
            answer.status = pb.PERSON_STATUS_FOUND
            answer.values.SetInParent()  # found: values present, maybe empty
            for field, value in record["values"].ListFields():
                if field.name in answerable:  # only asked ∩ held: never more
                    if field.message_type:
                        getattr(answer.values, field.name).CopyFrom(value)
                    else:
                        setattr(answer.values, field.name, value)
    return response


class Responder:
    def __init__(self, args):
        self.args, self.body = args, args.body
        listed = {c.strip() for c in (args.holds or "").split(",") if c.strip()}
        self.holds = listed or wire.DEFAULT_HOLDS[args.body]
        unknown = self.holds - set(wire.NUMBERS)
        if unknown:
            sys.exit(f"--holds: {', '.join(sorted(unknown))} not a category code of the decree")
        self.extract = Extract(args.extract, self.holds)
        self.user_id = wire.broker_login(args.amqp_url)

    def run(self):
        connection = pika.BlockingConnection(pika.URLParameters(self.args.amqp_url))
        self.publisher = wire.confirmed_channel(connection)  # responses, with confirms
        channel = connection.channel()
        channel.basic_qos(prefetch_count=self.args.prefetch)
        prefix = self.args.prefix
        solicitations = f"{prefix}.body.{self.body}.solicitations"
        channel.basic_consume(solicitations, self.on_solicitation)
        channel.basic_consume(f"{prefix}.body.{self.body}.notices", self.on_notice)
        log.info("responder %s: consuming %s (holds %d categories)", self.body, solicitations, len(self.holds))
        try:
            channel.start_consuming()
        finally:
            if connection.is_open:
                connection.close()  # unacked deliveries go back to the queue

    def on_notice(self, channel, method, props, body):
        wire.log_notice(props, body)
        channel.basic_ack(method.delivery_tag)

    def tell(self, props, body, refused):
        """A notice to the observatory whose solicitation is refused: which message, why (a
        code, a short text without personal data). Only when the message decodes and names its
        sender: a message of unknown origin is answered by nobody."""
        try:
            sender = pb.Solicitation.FromString(body)
        except Exception:
            return
        if not sender.sender:
            return
        notice = pb.Notice(
            schema_version=wire.SCHEMA_VERSION,
            schema_minor=wire.SCHEMA_MINOR,
            sender=self.body,
            recipient=sender.sender,
            refused_message_id=(props.message_id or "")[:100],
            refused_type=props.type if props.type == wire.type_name(sender) else "",
            case_id=sender.case_id,
            reason=refused.reason,
            detail=str(refused)[:200],
        )
        notice.refused_at.GetCurrentTime()
        try:
            self.publisher.basic_publish(
                exchange=wire.exchange(self.args.prefix, "notices-to-observatories"),
                routing_key=sender.sender,
                body=notice.SerializeToString(),
                properties=wire.properties(notice, self.user_id, time.time() + NOTICE_LIFETIME_S),
                mandatory=True,
            )
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as e:
            log.warning("notice to %s not taken by the broker: %s", sender.sender, e)

    def on_solicitation(self, channel, method, props, body):
        try:
            solicitation = wire.decode(pb.Solicitation, props, body)
            if solicitation.body != self.body:
                raise wire.Refused(
                    f"addressed to body {solicitation.body!r}, this responder is {self.body!r}",
                    pb.NOTICE_REASON_NOT_PERMITTED,
                )
            if not solicitation.HasField("respond_by"):
                raise wire.Refused("no respond_by", pb.NOTICE_REASON_INVALID)
        except wire.Refused as e:
            log.warning("solicitation %s refused: %s", props.message_id, e)
            self.tell(props, body, e)
            channel.basic_nack(method.delivery_tag, requeue=False)  # → dead-letter queue
            return
        chunk = f"case {solicitation.case_id} chunk {solicitation.chunk_index + 1}/{solicitation.chunk_count}"
        response = respond(solicitation, self.body, self.extract, self.holds)
        # The copy expires a day after the deadline, and never after the 30-day cap.
        now = time.time()
        expires_at = min(solicitation.respond_by.seconds + RESPONSE_GRACE_S, now + wire.RETENTION_CAP_S)
        if expires_at <= now:
            log.warning("%s: deadline long passed, not answered", chunk)
            channel.basic_ack(method.delivery_tag)
            return
        try:
            self.publisher.basic_publish(
                exchange=wire.exchange(self.args.prefix, "responses"),
                routing_key=solicitation.sender,  # the observatory that asked
                body=response.SerializeToString(),
                properties=wire.properties(
                    response, self.user_id, expires_at, (response.chunk_index, response.chunk_count)
                ),
                mandatory=True,
            )
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as e:
            log.warning("%s: the broker did not take the response (%s): retried", chunk, e)
            time.sleep(1)  # a pause before the broker delivers the chunk again
            channel.basic_nack(method.delivery_tag, requeue=True)
            return
        found = sum(a.status == pb.PERSON_STATUS_FOUND for a in response.answers)
        log.info(
            "%s answered%s: %d persons, %d found, %d declined",
            chunk,
            " (reminder)" if solicitation.reminder else "",
            len(response.answers),
            found,
            len(response.declined),
        )
        channel.basic_ack(method.delivery_tag)  # only once the broker confirmed the response


def main():
    parser = argparse.ArgumentParser(
        description="Answer Passerelle's solicitations for one body from a CSV extract "
        "(the reference partner responder: read its source as the wire contract).",
        epilog="Example: responder.py --amqp-url amqp://body-msa:secret@broker:5672/%2f --body msa "
        "--extract extract-msa.csv. Logs go to stderr and never contain a NIR. "
        "Stop with Ctrl-C or SIGTERM: a chunk not yet acknowledged is delivered again.",
    )
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/%2f",
                        help="the broker, as this body's own user: its login is the user_id of every response "
                        "(default: %(default)s)")
    parser.add_argument("--prefix", default=wire.DEFAULT_PREFIX,
                        help="the deployment's name prefix of exchanges and queues (default: %(default)s)")
    parser.add_argument("--body", required=True, choices=sorted(wire.DEFAULT_HOLDS),
                        help="the body this responder answers for")
    parser.add_argument("--extract", required=True, metavar="CSV",
                        help="the body's persons: nir, former_nirs (|-separated), sex, birth_year and one "
                        "column per category code, values in the value syntax of README.md")
    parser.add_argument("--holds", metavar="CODE,…",
                        help="the categories this body answers (default: the body's defaults, README's "
                        "`holds` column); every other asked category is declined NOT_HELD")
    parser.add_argument("--prefetch", type=int, default=4, help="chunks delivered ahead (default: %(default)s)")
    args = parser.parse_args()
    wire.setup_logging(f"responder[{args.body}]")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        Responder(args).run()
    except KeyboardInterrupt:
        pass
    except pika.exceptions.AMQPError as e:
        sys.exit(f"responder {args.body}: broker error: {e!r} (are the queues declared by the observatory?)")


if __name__ == "__main__":
    main()
