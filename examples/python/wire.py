"""What the responder and the requester share: the wire contract of Passerelle (see
../../proto/passerelle/v1/exchange.proto and ../../docs/PARTNERS.md), written once.

- the generated protobuf modules (stock `grpc_tools.protoc`, see README.md);
- the names of exchanges and queues (`{prefix}.…`);
- the AMQP properties and headers every message carries, and the checks a receiver makes;
- the categories of the decree (art. 2, 2° to 7°) and their value syntax in CSV files.

No NIR is ever logged: logs name cases, chunks and counts only.
"""

import datetime
import logging
import os
import sys
import time
import uuid
from urllib.parse import unquote, urlparse

# The generated modules live outside the source tree (never committed): `target/python-gen` at
# the repository's root, or where PARTNER_PROTO_GEN says.
HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.environ.get("PARTNER_PROTO_GEN") or os.path.join(HERE, "..", "..", "target", "python-gen")
sys.path.insert(0, GEN)
try:
    from passerelle.v1 import categories_pb2 as cat  # noqa: E402
    from passerelle.v1 import exchange_pb2 as pb  # noqa: E402
except ImportError as e:  # pragma: no cover - a set-up mistake, said plainly
    sys.exit(
        f"cannot import the generated protobuf modules from {GEN} ({e}): generate them with\n"
        f"  python -m grpc_tools.protoc -I proto --python_out={GEN} proto/passerelle/v1/*.proto\n"
        "from the repository's root (or set PARTNER_PROTO_GEN to where they are)"
    )

log = logging.getLogger("passerelle-partner")

# ---- names -------------------------------------------------------------------------------------

DEFAULT_PREFIX = "passerelle"  # the product's default `[broker] prefix`
SCHEMA_VERSION = 1  # the major version (enum SchemaVersion); any other is refused
SCHEMA_MINOR = 1  # the minor version this client speaks (field 15 of every message)
CONTENT_TYPE = "application/x-protobuf"
PERSISTENT = 2  # AMQP delivery_mode of every message
RETENTION_CAP_S = 30 * 24 * 3600  # no broker copy of a case outlives 30 days (decree art. 5)

# Headers: copies of fields (a receiver refuses a message whose headers disagree with its fields).
H_VERSION = "x-passerelle-schema-version"
H_MINOR = "x-passerelle-schema-minor"
H_CHUNK_INDEX = "x-passerelle-chunk-index"
H_CHUNK_COUNT = "x-passerelle-chunk-count"
# The end of the message's retention cap, in milliseconds since the epoch.
H_EXPIRES_AT = "x-passerelle-expires-at"


def exchange(prefix, name):
    """`requests`, `solicitations`, `responses`, `results`, `notices-to-observatories`,
    `notices-to-bodies`: direct exchanges, the routing key is the addressee's code."""
    return f"{prefix}.{name}"


def type_name(message):
    """The AMQP `type` property: the full protobuf name, e.g. `passerelle.v1.Response`."""
    return message.DESCRIPTOR.full_name


# ---- publishing --------------------------------------------------------------------------------


def broker_login(amqp_url):
    """The user the URL logs in as (RabbitMQ's `guest` when it names none): the `user_id` property
    must be exactly it, or the broker refuses the message."""
    return unquote(urlparse(amqp_url).username or "guest")


def properties(message, user_id, expires_at, chunk=None):
    """The AMQP properties of `message` (a Request, Response or Receipt), expiring at `expires_at`
    (seconds since the epoch). `chunk` is (index, count) for a chunked message."""
    import pika

    now = time.time()
    headers = {H_VERSION: message.schema_version, H_MINOR: message.schema_minor}
    if chunk is not None:
        headers[H_CHUNK_INDEX], headers[H_CHUNK_COUNT] = chunk
    headers[H_EXPIRES_AT] = int(expires_at * 1000)
    return pika.BasicProperties(
        message_id=str(uuid.uuid4()),  # unique per message; receivers deduplicate on ids in the body
        type=type_name(message),
        content_type=CONTENT_TYPE,
        delivery_mode=PERSISTENT,
        user_id=user_id,
        timestamp=int(now),
        correlation_id=message.case_id or None,  # the case (a notice may name none)
        expiration=str(max(1, int((expires_at - now) * 1000))),  # milliseconds, as text
        headers=headers,
    )


def confirmed_channel(connection):
    """A channel in publisher-confirm mode: `basic_publish(..., mandatory=True)` then returns only
    once the broker took the message, and raises when it was refused or routed nowhere."""
    channel = connection.channel()
    channel.confirm_delivery()
    return channel


# ---- receiving ---------------------------------------------------------------------------------


class Refused(Exception):
    """A delivery that cannot be handled: rejected without requeue (the broker dead-letters it).
    `reason` is the NoticeReason a notice to its sender names."""

    def __init__(self, text, reason=None):
        super().__init__(text)
        self.reason = reason or pb.NOTICE_REASON_MALFORMED


def decode(message_class, props, body):
    """Checks a delivery the way Passerelle's own receivers do, and decodes it. Raises Refused."""
    expected = message_class.DESCRIPTOR.full_name
    if props.type != expected:
        raise Refused(f"type {props.type!r}, expected {expected}", pb.NOTICE_REASON_WRONG_TYPE)
    message = message_class()
    try:
        message.ParseFromString(body)
    except Exception as e:  # protobuf's DecodeError
        raise Refused(f"not a valid {expected}: {e}") from None
    check_headers(message, props)
    return message


def check_headers(message, props):
    """Schema version, minor (when the header is present) and chunk headers equal the fields."""
    headers = props.headers or {}
    if message.schema_version != SCHEMA_VERSION:
        raise Refused(
            f"schema version {message.schema_version}, this client speaks {SCHEMA_VERSION}",
            pb.NOTICE_REASON_UNSUPPORTED_VERSION,
        )
    if headers.get(H_VERSION) != message.schema_version:
        raise Refused(f"header {H_VERSION} {headers.get(H_VERSION)!r} disagrees with the message")
    if H_MINOR in headers and headers[H_MINOR] != message.schema_minor:
        raise Refused(f"header {H_MINOR} {headers[H_MINOR]!r} disagrees with the message")
    if "chunk_count" in message.DESCRIPTOR.fields_by_name:
        chunk = (message.chunk_index, message.chunk_count)
        if (headers.get(H_CHUNK_INDEX), headers.get(H_CHUNK_COUNT)) != chunk:
            raise Refused("chunk headers disagree with the message")
    if props.correlation_id and props.correlation_id != message.case_id:
        raise Refused("correlation_id disagrees with the case id")
    # Versions rule: unknown fields are ignored in a message of a newer minor (a newer partner's
    # additions) and are a violation at our minor or lower (logged here; Passerelle audits it).
    if message.schema_minor <= SCHEMA_MINOR and has_unknown_fields(message):
        log.warning("violation: unknown fields in a %s of minor %d", type_name(message), message.schema_minor)


def has_unknown_fields(message):
    from google.protobuf import unknown_fields

    if len(unknown_fields.UnknownFieldSet(message)):
        return True
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        items = value if field.is_repeated else [value]
        if any(has_unknown_fields(v) for v in items):
            return True
    return False


def log_notice(props, body):
    """A notice: a party refused one of our messages for good, and says why (ids and a code)."""
    try:
        n = decode(pb.Notice, props, body)
    except Refused as e:
        log.warning("unreadable notice: %s", e)
        return
    log.warning(
        "notice from %s: our %s %s (case %s) refused: %s — %s",
        n.sender,
        n.refused_type or "message",
        n.refused_message_id,
        n.case_id or "-",
        pb.NoticeReason.Name(n.reason) if n.reason in pb.NoticeReason.values() else n.reason,
        n.detail,
    )


# ---- categories and values -----------------------------------------------------------------------

# Category codes are the enum names, lower case, without `CATEGORY_`; they are also the field
# names of CategoryValues, and the column names of CSV files.
CODES = {n: cat.Category.Name(n)[len("CATEGORY_") :].lower() for n in cat.Category.values() if n}
NUMBERS = {code: n for n, code in CODES.items()}

# The decree's domain (art. 2, N°) of each category number: `--want 3,4,7` asks for domains.
DOMAIN = {1: 2, **{n: 3 for n in range(2, 10)}, **{n: 4 for n in range(10, 15)},
          **{n: 5 for n in range(15, 19)}, 19: 6, **{n: 7 for n in range(20, 28)}}  # fmt: skip

# Who holds what by default (README, "The categories": the `holds` column): body → category codes.
_HEALTH = {"css", "complementary_cover", "hospital_stays_12m", "work_accident_12m", "sick_pay_over_90d_12m",
           "long_term_condition", "no_reimbursement_12m", "no_declared_gp"}  # fmt: skip
_PENSION = {"work_incapacity", "survivor_pension", "old_age_minimum", "contributory_minimum", "home_return_aid",
            "csg_exemption", "quarters_contributed", "multi_scheme_pensions", "pension_start_date",
            "pension_payment_date"}  # fmt: skip
_FAMILY = {"housing_aid", "disabled_adult_allowance", "rsa", "activity_bonus", "household_annual_resources",
           "resources_per_consumption_unit"}  # fmt: skip
DEFAULT_HOLDS = {
    "cnam": _HEALTH | {"invalidity_pension"},
    "cnav": _PENSION | {"family_situation", "invalidity_pension", "job_seeker_registration"},
    "cnaf": _FAMILY | {"family_situation", "job_seeker_registration"},
    "msa": set(NUMBERS),
}

KIND = {code: "bool" for code in NUMBERS}
KIND.update(family_situation="family", hospital_stays_12m="stays", quarters_contributed="count",
            pension_start_date="date", pension_payment_date="date", household_annual_resources="amount",
            resources_per_consumption_unit="amount")  # fmt: skip

TRUE, FALSE = {"true", "1", "oui", "yes", "vrai"}, {"false", "0", "non", "no", "faux"}
FAMILY = {
    "MARRIED": {"married", "marié", "marie", "mariée", "mariee"},
    "CIVIL_PARTNERSHIP": {"civil_partnership", "pacsé", "pacse", "pacsée", "pacsee", "pacs"},
    "COHABITING": {"cohabiting", "concubin", "concubine", "concubinage"},
    "SEPARATED": {"separated", "séparé", "separe", "séparée", "separee"},
    "DIVORCED": {"divorced", "divorcé", "divorce", "divorcée", "divorcee"},
    "WIDOWED": {"widowed", "veuf", "veuve"},
    "SINGLE": {"single", "célibataire", "celibataire"},
}
MODES = ["full", "partial", "ambulatory", "home", "rehabilitation"]  # TreatmentMode 1 to 5


def _date(text):
    d = datetime.date.fromisoformat(text) if len(text) == 10 else None
    if d is None:
        raise ValueError(f"{text!r} is not a date YYYY-MM-DD")
    return cat.Date(year=d.year, month=d.month, day=d.day)


def set_value(values, code, text):
    """Parses `text` (the value syntax of README, "Value syntax") into `values.<code>`. An empty
    cell is unknown: the field stays absent. Raises ValueError."""
    text = text.strip()
    if not text:
        return
    kind = KIND[code]
    if kind == "bool":
        low = text.lower()
        if low not in TRUE | FALSE:
            raise ValueError(f"{code}: {text!r} is not a boolean")
        setattr(values, code, low in TRUE)
    elif kind == "count":
        if not text.isdigit():
            raise ValueError(f"{code}: {text!r} is not a whole number")
        setattr(values, code, int(text))
    elif kind == "amount":  # euros, `.` or `,`, at most 2 decimals → cents
        sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text)
        euros, _, cents = digits.replace(",", ".").partition(".")
        if not euros.isdigit() or (cents and not cents.isdigit()) or len(cents) > 2 or digits.endswith((".", ",")):
            raise ValueError(f"{code}: {text!r} is not an amount in euros")
        setattr(values, code, sign * (int(euros) * 100 + int((cents + "00")[:2])))
    elif kind == "date":
        getattr(values, code).CopyFrom(_date(text))
    elif kind == "family":
        name = next((n for n, words in FAMILY.items() if text.lower() in words), None)
        if name is None:
            raise ValueError(f"{code}: {text!r} is not a family situation")
        values.family_situation = cat.FamilySituation.Value("FAMILY_SITUATION_" + name)
    else:  # hospital stays: `none`, or `YYYY-MM-DD/DAYS/MODE|…`
        stays = values.hospital_stays_12m
        stays.SetInParent()  # present and empty = "known: no stay"
        if text.lower() in {"none", "aucun", "aucune"}:
            return
        for stay in text.split("|"):
            date, days, mode = stay.strip().split("/")
            if not days.isdigit() or mode.lower() not in MODES:
                raise ValueError(f"{code}: {stay!r} is not DATE/DAYS/MODE")
            stays.stays.add(admission=_date(date), length_days=int(days), mode=MODES.index(mode.lower()) + 1)


def format_values(values):
    """The values present in a CategoryValues, as {code: text in the value syntax}."""
    out = {}
    for field, value in values.ListFields():
        kind = KIND[field.name]
        if kind == "family":
            text = cat.FamilySituation.Name(value)[len("FAMILY_SITUATION_") :].lower()
        elif kind == "date":
            text = f"{value.year:04}-{value.month:02}-{value.day:02}"
        elif kind == "amount":
            text = f"{'-' if value < 0 else ''}{abs(value) // 100}.{abs(value) % 100:02}"
        elif kind == "stays":
            text = "|".join(
                f"{s.admission.year:04}-{s.admission.month:02}-{s.admission.day:02}/{s.length_days}/"
                f"{MODES[s.mode - 1] if 1 <= s.mode <= 5 else 'unspecified'}"
                for s in value.stays
            ) or "none"
        else:
            text = str(value).lower() if kind == "bool" else str(value)
        out[field.name] = text
    return out


# ---- identification data -------------------------------------------------------------------------


def nir(text):
    """A NIR without spaces, or None when it is not 15 characters with a valid key (97 minus the
    13 first digits modulo 97, Corsica's 2A/2B read as 19/18). Invalid NIRs match nobody."""
    t = "".join(text.split()).upper()
    if len(t) != 15 or not t[13:].isdigit():
        return None
    body = t[:13]
    if body[5:7] in ("2A", "2B"):
        body = body[:5] + ("19" if body[6] == "A" else "18") + body[7:]
    if not body.isdigit() or int(t[13:]) != 97 - int(body) % 97:
        return None
    return t


def sex(text):
    """`M`/`H`/`1` → male, `F`/`2` → female (enum Sex), else unspecified."""
    t = text.strip().upper()
    return pb.SEX_MALE if t in ("M", "H", "1") else pb.SEX_FEMALE if t in ("F", "2") else pb.SEX_UNSPECIFIED


def read_csv(path):
    """The rows of a CSV file with a header, as dicts; `,` or `;` as found in the header."""
    import csv

    with open(path, newline="", encoding="utf-8-sig") as f:
        header = f.readline()
        f.seek(0)
        yield from csv.DictReader(f, delimiter=";" if header.count(";") > header.count(",") else ",")


def setup_logging(name):
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s {name} %(levelname)s %(message)s", stream=sys.stderr
    )
    logging.getLogger("pika").setLevel(logging.WARNING)  # its connection chatter
