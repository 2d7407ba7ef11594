#!/usr/bin/env python3
"""Writes the seed inputs of Passerelle's fuzz targets into fuzz/seeds/<target>/seed-*.

The seeds are small, synthetic and hand-made: protobuf messages of every kind (valid ones, and
ones one step from valid), and selection/extract files covering the format's corners (separators,
quoting, encodings, byte-order mark, every rejection reason). NIRs are generated with the key
formula; no real person's data. The fuzzer grows the corpus from these; `cargo fuzz cmin` keeps
it small. Run from the repository root:  python3 fuzz/make_seeds.py
"""

import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")


# --- NIRs -------------------------------------------------------------------------------------

def nir(first13):
    """A NIR with its key (Corsica's 2A/2B count as 19/18 in the key formula)."""
    digits = first13.replace("2A", "19").replace("2B", "18")
    return first13 + "%02d" % (97 - int(digits) % 97)


N1 = nir("1500513055123")  # a man born in 1950, Marseille
N2 = nir("2520583070045")  # a woman born in 1952, Toulon
N3 = nir("1450106029007")  # a man born in 1945, Cannes
N4 = nir("148022A004001")  # born in Corsica (2A)


# --- protobuf wire format ----------------------------------------------------------------------

def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(field, n):
    return varint(field << 3) + varint(n)


def f_bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(field << 3 | 2) + varint(len(data)) + data


def msg(*parts):
    return b"".join(parts)


def timestamp(seconds, nanos=0):
    return msg(f_varint(1, seconds), f_varint(2, nanos) if nanos else b"")


def date(y, m, d):
    return msg(f_varint(1, y), f_varint(2, m), f_varint(3, d))


def values(full=True):
    parts = [f_varint(1, 1), f_varint(2, 1), f_varint(15, 0), f_varint(17, 1)]
    if full:
        stay = msg(f_bytes(1, date(2024, 9, 9)), f_varint(2, 3), f_varint(3, 3))
        parts += [
            f_bytes(4, f_bytes(1, stay)),
            f_varint(22, 160),
            f_bytes(24, date(2012, 7, 1)),
            f_bytes(25, date(2025, 1, 9)),
            f_varint(26, 1102383),
            f_varint(27, (-1250) & ((1 << 64) - 1)),
        ]
    return msg(*parts)


CASE = "0196f3a4-1c2d-7e5f-8a9b-0c1d2e3f4a5b"
ARRIVAL = 1_748_736_000  # 2025-06-01, the harness's arrival time


def requested_person(n, sex, year, commune, risk=True, former=()):
    parts = [f_bytes(1, n)] + [f_bytes(2, f) for f in former]
    parts += [f_varint(3, sex), f_varint(4, year), f_bytes(5, commune)]
    if risk:
        parts.append(f_bytes(6, values(full=False)))
    return msg(*parts)


def request(version=1, index=0, count=1, persons=None, wanted=(2, 15, 17), observatory="carsat-sud-est",
            respond_by=ARRIVAL + 5 * 86400, packed=True):
    if persons is None:
        persons = [
            requested_person(N1, 1, 1950, "13055"),
            requested_person(N2, 2, 1952, "83070", former=[N3]),
            requested_person(N4, 1, 1948, "2A004", risk=False),
        ]
    parts = [
        f_varint(1, version),
        f_bytes(2, "cnaf"),
        f_bytes(3, "caf-13"),
        f_bytes(4, CASE),
        f_bytes(5, observatory),
        f_bytes(6, "falls prevention workshop"),
    ]
    if packed:
        parts.append(f_bytes(8, b"".join(varint(w) for w in wanted)))
    else:
        parts += [f_varint(8, w) for w in wanted]
    if respond_by is not None:
        parts.append(f_bytes(9, timestamp(respond_by)))
    parts += [f_varint(10, index), f_varint(11, count)]
    parts += [f_bytes(12, p) for p in persons]
    parts.append(f_varint(13, 1))  # basis: LEGAL_BASIS_DECREE_2017_334_ART_3
    return msg(*parts)


def solicitation(version=1, index=0, count=1):
    persons = [
        msg(f_varint(1, i), f_bytes(2, n), f_varint(4, s), f_varint(5, y))
        for i, (n, s, y) in enumerate([(N1, 1, 1950), (N2, 2, 1952)])
    ]
    return msg(
        f_varint(1, version), f_bytes(2, "carsat-sud-est"), f_bytes(3, CASE), f_bytes(4, CASE),
        f_bytes(5, "cnam"), f_bytes(7, bytes([2, 7, 4])),
        f_bytes(8, timestamp(ARRIVAL + 86400)), f_varint(9, index), f_varint(10, count), f_varint(11, 1),
        *[f_bytes(12, p) for p in persons], f_varint(13, 1),
    )


def response(version=1, index=0, count=1):
    answers = [
        msg(f_varint(1, 0), f_varint(2, 1), f_bytes(3, values())),
        msg(f_varint(1, 1), f_varint(2, 2)),
    ]
    decline = msg(f_varint(1, 4), f_varint(2, 2), f_bytes(3, "not held"))
    return msg(f_varint(1, version), f_bytes(2, "cnam"), f_bytes(3, CASE), f_bytes(4, CASE),
               f_varint(5, index), f_varint(6, count), *[f_bytes(7, a) for a in answers], f_bytes(8, decline))


def result(version=1, index=0, count=1):
    outcome = msg(f_bytes(1, "cnam"), f_bytes(2, bytes([2, 7])), f_varint(3, 1),
                  f_bytes(4, msg(f_varint(1, 7), f_varint(2, 3), f_bytes(3, "timeout"))))
    person = msg(f_bytes(1, N1), f_bytes(2, msg(f_bytes(1, "cnam"), f_varint(2, 1), f_bytes(3, values()))),
                 f_bytes(2, msg(f_bytes(1, "cnav"), f_varint(2, 3))))
    return msg(f_varint(1, version), f_bytes(2, "carsat-sud-est"), f_bytes(3, CASE), f_varint(4, index),
               f_varint(5, count), f_varint(6, 2), f_bytes(7, outcome), f_bytes(8, person))


def receipt(version=1):
    return msg(f_varint(1, version), f_bytes(2, "cnaf"), f_bytes(3, CASE), f_varint(4, 3))


def refusal(version=1):
    problem = msg(f_bytes(1, "birth_year"), f_bytes(2, "the person is under 55"))
    return msg(f_varint(1, version), f_bytes(2, "carsat-sud-est"), f_bytes(3, CASE), f_varint(4, 0),
               f_bytes(5, msg(f_bytes(1, "purpose"), f_bytes(2, "missing"))), f_varint(6, 2),
               f_bytes(7, msg(f_bytes(1, N2), f_bytes(2, problem))))


def notice(version=1):
    return msg(f_varint(1, version), f_bytes(2, "cnam"), f_bytes(3, "carsat-sud-est"), f_bytes(4, CASE),
               f_bytes(5, "passerelle.v1.Solicitation"), f_bytes(6, CASE), f_varint(7, 7),
               f_bytes(8, "no valid respond_by"), f_bytes(9, timestamp(ARRIVAL)))


HEAD = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
SIGNATURE = "ab" * 64
PUBLIC_KEY = "cd" * 32
AT_MS = ARRIVAL * 1000


def signed_checkpoint(kind=1, count=1234):
    return msg(f_bytes(1, "audit"), f_varint(2, 2025), f_varint(3, count), f_bytes(4, HEAD), f_varint(5, AT_MS),
               f_varint(6, kind), f_bytes(7, SIGNATURE), f_bytes(8, PUBLIC_KEY))


def checkpoint(version=1):
    return msg(f_varint(1, version), f_bytes(2, "cnaf"), f_bytes(3, "carsat-sud-est"),
               f_bytes(4, signed_checkpoint()))


def checkpoint_receipt(version=1):
    return msg(f_varint(1, version), f_bytes(2, "carsat-sud-est"), f_bytes(3, "cnaf"), f_bytes(4, "audit"),
               f_varint(5, 2025), f_varint(6, 1234), f_varint(7, 1), f_varint(8, 1), f_varint(10, 17))


def checkpoint_query(version=1):
    return msg(f_varint(1, version), f_bytes(2, "cnaf"), f_bytes(3, "carsat-sud-est"), f_bytes(4, CASE),
               f_bytes(5, "access-log"), f_varint(6, 2025))


def witnessed_checkpoints(version=1):
    held = msg(f_varint(1, 1), f_bytes(2, signed_checkpoint(kind=2)), f_varint(3, AT_MS + 1500), f_bytes(4, HEAD))
    return msg(f_varint(1, version), f_bytes(2, "carsat-sud-est"), f_bytes(3, "cnaf.caf-13"), f_bytes(4, CASE),
               f_bytes(5, "audit"), f_varint(6, 2025), f_bytes(7, held), f_bytes(8, varint(2024) + varint(2025)),
               f_varint(9, 2024))


TRANSFER = "0196f3a4-1c2d-7e5f-8a9b-0c1d2e3f4a5c"


def address(body, office):
    return msg(f_bytes(1, body), f_bytes(2, office))


def transferred_action(purpose, start, end=None, offers=()):
    parts = [f_varint(1, purpose), f_bytes(2, date(*start))]
    if end:
        parts.append(f_bytes(3, date(*end)))
    parts.append(f_bytes(4, msg(f_varint(1, 1), f_bytes(2, date(*start)))))  # a contact: channel, date
    parts += [f_bytes(5, msg(f_varint(1, k), f_varint(2, t))) for k, t in offers]
    return msg(*parts)


def transfer(version=1, index=0, count=1):
    """A chunk of a social-service case file's transfer (transfer.proto): chunk 0 carries the file
    (identity only, synthetic) and what was withheld, every chunk its actions."""
    identity = msg(f_bytes(1, N1), f_varint(2, 1), f_bytes(4, "Martin"), f_bytes(6, "Jean"), f_varint(7, 1),
                   f_bytes(8, date(1950, 5, 1)))
    parts = [
        f_varint(1, version), f_bytes(2, "carsat-sud-est.ss-13"), f_bytes(3, TRANSFER),
        f_bytes(4, address("carsat-sud-est", "ss-13")), f_bytes(5, address("cramif", "ss-75")),
        f_varint(6, 2),  # basis: LEGAL_BASIS_NORM_43_A3
        f_bytes(7, timestamp(ARRIVAL)), f_varint(8, index), f_varint(9, count),
    ]
    if index == 0:
        parts += [f_bytes(10, f_bytes(1, identity)), f_bytes(11, varint(1) + varint(2)), f_varint(12, 1),
                  f_bytes(13, date(2023, 3, 14))]
    parts += [f_bytes(14, transferred_action(1, (2023, 3, 14), (2023, 9, 1), offers=[(1, 2)])),
              f_bytes(14, transferred_action(2, (2024, 1, 8)))]
    return msg(*parts)


def transfer_receipt(version=1):
    return msg(f_varint(1, version), f_bytes(2, "cramif.ss-75"), f_bytes(3, TRANSFER), f_varint(4, 0),
               f_varint(6, 3), f_bytes(7, timestamp(ARRIVAL + 3600)))


def transfer_amendment(version=1):
    rectified = f_bytes(1, msg(f_bytes(4, "Martin-Durand")))
    return msg(f_varint(1, version), f_bytes(2, "carsat-sud-est.ss-13"), f_bytes(3, TRANSFER), f_varint(4, 1),
               f_varint(5, 1), f_bytes(6, "identity.family_name"), f_bytes(7, rectified),
               f_bytes(8, timestamp(ARRIVAL + 86400)))


RIGHTS = "0193a6f0-7c1e-4b8a-9d2e-5f4a3b2c1d0e"


def rights_request(version=1):
    """A rectification request (rights.proto): the competent observatory to a requester office."""
    corrected = msg(f_varint(1, 2))  # family_situation: the second value of the enum
    return msg(f_varint(1, version), f_bytes(2, "carsat-sud-est"), f_bytes(3, RIGHTS), f_bytes(4, "cnaf.caf-13"),
               f_varint(5, 2), f_bytes(6, N1), f_bytes(7, N3), f_bytes(8, corrected),
               f_bytes(9, timestamp(ARRIVAL)), f_bytes(10, timestamp(ARRIVAL + 30 * 86400)), f_varint(11, 1))


def rights_answer(version=1):
    """An observatory's answer: a statistics row and the requester office to ask."""
    values = f_bytes(6, msg(f_bytes(1, "cnav"), f_bytes(2, msg(f_varint(1, 1)))))
    holding = msg(f_varint(1, 5), f_bytes(2, "0193a6f0-0000-4000-8000-000000000001"), f_bytes(3, "cnaf.caf-13"),
                  f_bytes(4, timestamp(ARRIVAL - 86400)), f_bytes(5, timestamp(ARRIVAL + 5 * 365 * 86400)), values)
    return msg(f_varint(1, version), f_bytes(2, "cnav-idf"), f_bytes(3, RIGHTS), f_bytes(4, "carsat-sud-est"),
               f_varint(5, 1), f_bytes(6, holding), f_bytes(7, "cnaf.caf-13"), f_bytes(9, timestamp(ARRIVAL + 60)))


def variants(make, chunked=True):
    out = {"valid": make(), "schema-0": make(version=0), "schema-2": make(version=2)}
    if chunked:
        out["chunk-beyond"] = make(index=3, count=3)
        out["chunk-count-0"] = make(index=0, count=0)
        out["chunk-last"] = make(index=4, count=5)
    valid = out["valid"]
    out["truncated"] = valid[: len(valid) // 2]
    out["random-bytes"] = bytes((i * 151 + 7) % 256 for i in range(64))
    out["empty"] = b""
    return out


def bus_seeds():
    seeds = {
        "bus_request": variants(request),
        "bus_solicitation": variants(solicitation),
        "bus_response": variants(response),
        "bus_result": variants(result),
        "bus_receipt": variants(receipt, chunked=False),
        "bus_refusal": variants(refusal, chunked=False),
        "bus_notice": variants(notice, chunked=False),
        "bus_checkpoint": variants(checkpoint, chunked=False),
        "bus_checkpointreceipt": variants(checkpoint_receipt, chunked=False),
        "bus_checkpointquery": variants(checkpoint_query, chunked=False),
        "bus_witnessedcheckpoints": variants(witnessed_checkpoints, chunked=False),
        "bus_transfer": variants(transfer),
        "bus_transferreceipt": variants(transfer_receipt, chunked=False),
        "bus_transferamendment": variants(transfer_amendment, chunked=False),
        "bus_rightsrequest": variants(rights_request, chunked=False),
        "bus_rightsanswer": variants(rights_answer, chunked=False),
    }
    seeds["bus_notice"]["unknown-reason"] = msg(notice(), f_varint(7, 99))
    seeds["bus_checkpoint"]["unknown-kind"] = msg(checkpoint(), f_bytes(4, signed_checkpoint(kind=99)))
    seeds["bus_checkpointreceipt"]["refused"] = msg(checkpoint_receipt(), f_varint(8, 0), f_bytes(9, "a gap in the count"))
    seeds["bus_witnessedcheckpoints"]["years-unpacked"] = msg(witnessed_checkpoints(), f_varint(8, 2023), f_varint(9, 2023))
    seeds["bus_transfer"]["withheld-unpacked-unknown"] = msg(transfer(), f_varint(11, 1), f_varint(11, 99))
    seeds["bus_transferreceipt"]["accepted"] = msg(transfer_receipt(), f_varint(5, 1), f_varint(6, 0))
    seeds["bus_transferamendment"]["objection-upheld"] = msg(transfer_amendment(), f_varint(5, 2))
    seeds["bus_request"]["unpacked-wanted"] = request(packed=False)
    seeds["bus_request"]["timestamp-extreme"] = msg(request(respond_by=None), f_bytes(9, timestamp(-(1 << 63), 999_999_999)))
    return seeds


def observatory_seeds():
    persons = [
        requested_person(N1, 1, 1950, "13055"),
        requested_person(N2, 2, 1980, "83070"),  # under 55
        requested_person(N3, 0, 1945, "75056"),  # no sex, Paris: another observatory
        requested_person("123", 1, 1950, "99999", former=["x"]),
        requested_person(N4, 1, 0x80000000, "2A004"),  # a birth year beyond i32
        requested_person(N1, 2, 1890, "97611"),  # implausible, Mayotte
    ]
    return {
        "valid": request(),
        "every-person-rule": request(persons=persons),
        "no-deadline": request(respond_by=None),
        "deadline-passed": request(respond_by=ARRIVAL - 1),
        "deadline-beyond-cap": request(respond_by=ARRIVAL + 90 * 86400),
        "deadline-extreme": msg(request(respond_by=None), f_bytes(9, timestamp((1 << 63) - 1, 999_999_999))),
        "wrong-observatory": request(observatory="cnav-idf", wanted=(99, 0)),
        "nothing-wanted": request(wanted=()),
    }


# --- CSV files ---------------------------------------------------------------------------------

SEL_HEADER = ("nir,former_nirs,family_name,usage_name,given_names,sex,birth_year,commune_code,postal_address,"
              "email,phone,family_situation,housing_aid,rsa,household_annual_resources,hospital_stays_12m,"
              "pension_start_date,quarters_contributed")


def sel_row(n, family, given, sex, year, commune, former="", situation="", housing="", rsa="", resources="",
            stays="", start="", quarters=""):
    return ",".join([n, former, family, "", given, sex, str(year), commune, "1 rue de l'Exemple", "", "",
                     situation, housing, rsa, resources, stays, start, quarters])


def selection_seeds():
    good = "\n".join([
        SEL_HEADER,
        sel_row(N1, "Martin", "Jean", "M", 1950, "13055", situation="married", housing="true", rsa="non",
                resources="11023,83", stays="2024-09-09/3/full|2025-01-02/0/ambulatory", start="2012-07-01",
                quarters="160"),
        sel_row(N2, "Bernard", "Marie Anne", "F", 1952, "83070", former=N3, situation="veuf", resources="-12.5"),
        sel_row(N4, "Santoni", "Paul", "1", 1948, "2A004"),
    ]) + "\n"
    semicolon = good.replace(",", ";").replace("11023;83", "11023,83").replace("\n", "\r\n")
    quoted = (SEL_HEADER + "\n" + '"%s","","Martin ""dit"" Jean","","Jean,\nPierre","M","1950","13055","a;b","","",'
              '"","","","","","",""\n' % N1)
    bad = "\n".join([
        SEL_HEADER,
        sel_row(N1[:-2] + "00", "Martin", "Jean", "M", 1950, "13055"),  # bad key
        sel_row(N2, "Bernard", "Marie", "F", 1980, "83070"),  # under 55
        sel_row(N3, "Petit", "Luc", "X", 19, "99999"),  # sex, year, commune
        sel_row(N1, "", "", "M", 1950, "75056", rsa="maybe", quarters="-3"),  # missing, other observatory
        sel_row(N1, "Martin", "Jean", "M", 1950, "13055"),
        sel_row(N1, "Martin", "Jean", "M", 1950, "13055"),  # duplicate
        "only,three,fields",
        '"%s"x,' % N2 + ",".join([""] * 17),  # text after a quote
        sel_row(N3, "=HYPERLINK(\"x\")", "+cmd", "M", 1950, "13055", former="12|" + N1),
        '"never closed,' + N2,
    ]) + "\n"
    return {
        "valid-comma": good.encode(),
        "valid-semicolon-crlf": semicolon.encode(),
        "bom": b"\xef\xbb\xbf" + good.encode(),
        "windows-1252": good.replace("Marie Anne", "H\u00e9l\u00e8ne").replace("Jean", "\u00c7a").encode("cp1252"),
        "quoted": quoted.encode(),
        "every-rejection": bad.encode(),
        "nul-and-invalid": (SEL_HEADER + "\n").encode() + sel_row(N1, "Ma\0rtin", "J", "M", 1950, "13055").encode()
        + b"\n" + sel_row(N2, "B\xe9\x81rnard", "M", "F", 1952, "83070").encode("latin-1") + b"\n",
        "header-missing-duplicate-unknown": b"nir,nir,sex,favourite_colour,,\n1,2,3,4,5,6\n",
        "utf16": "nir,sex\n".encode("utf-16"),
        "blank-first-line": b"\n" + good.encode(),
        "header-only": (SEL_HEADER + "\r\n").encode(),
        "mixed-separators": (SEL_HEADER + "\n" + sel_row(N1, "Martin", "Jean", "M", 1950, "13055").replace(",", ";", 5)
                             + "\n").encode(),
        **void_seeds(SEL_HEADER, good),
    }


def void_seeds(header, good):
    """Records without data (issue 20): separator-only and NUL-only records, a line of commas past
    the record limit (64 KiB, separators counted), a header of commas, a header of empty names
    (its problems are capped), and a run of empty rows long enough to make the file unusable."""
    fields = header.count(",")
    return {
        "separators-only": (header + "\n" + ("," * fields + "\n") * 3 + ";;;\n" + ",\n").encode() + good.encode()[len(header) + 1:],
        "nul-only": (header + "\n").encode() + b"\0\n" + (b"\0," * fields) + b"\0\n" + b"\0" * 300 + b"\r\n"
        + good.encode()[len(header) + 1:],
        "comma-line": (header + "\n").encode() + b"," * 70_000 + b"\n" + good.encode()[len(header) + 1:],
        "comma-header": b"," * 70_000 + b"\n" + good.encode()[len(header) + 1:],
        "empty-names-header": b"," * 100 + b"\n,,\n",
        "empty-rows-forever": (header + "\n" + ("," * fields + "\n") * 1_000 + "\0\n" * 10).encode(),
    }


def extract_seeds():
    header = ("nir,former_nirs,birth_year,sex,css,complementary_cover,hospital_stays_12m,long_term_condition,"
              "family_situation,household_annual_resources,pension_payment_date")
    good = "\n".join([
        header,
        f"{N1},,1950,M,false,true,2024-09-09/0/ambulatory,true,married,1234.5,2025-01-09",
        f"{N2},{N3}|{N4},,,oui,non,none,,single,,",
        f"{N4},,,F,1,0,,,,,",
    ]) + "\n"
    bad = "\n".join([
        header,
        f"{N1},,2031,Z,perhaps,2,2024-13-01/x/full,,,1.234,2025-02-30",
        f"{N1},,1950,M,,,,,,,",
        f"{N1},,1950,M,,,,,,,",
        "a,b",
        f"{N2},12345,,,,,,,,,",
    ]) + "\n"
    return {
        "valid": good.encode(),
        "semicolon-crlf": good.replace(",", ";").replace("\n", "\r\n").encode(),
        "every-rejection": bad.encode(),
        "names-refused": b"nir,family_name,commune_code\n" + N1.encode() + b",Martin,13055\n",
        "windows-1252": (header + "\n").encode("cp1252") + f"{N1},,1950,M,,,,,mari\u00e9,,\n".encode("cp1252"),
        "nir-only": ("nir\n" + N1 + "\n" + N2 + "\r\n\r\n" + N3).encode(),
        **void_seeds(header, good),
    }


def write(target, seeds):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(folder, "seed-" + name), "wb") as f:
            f.write(data)


def main():
    for target, seeds in bus_seeds().items():
        write(target, seeds)
    write("observatory_request", observatory_seeds())
    write("selection_csv", selection_seeds())
    write("extract_csv", extract_seeds())


if __name__ == "__main__":
    main()
