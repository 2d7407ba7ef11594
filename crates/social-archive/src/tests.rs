//! The archive's rules on a real store in a temporary folder: the co-signature, reads refused
//! without a valid grant and recorded with their purpose when allowed, and erasure that leaves
//! no byte of the person on disk.

use std::time::{Duration, SystemTime};

use passerelle_social_file::v1;

use crate::*;

const DAY: Duration = Duration::from_secs(24 * 3600);

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_798_761_600) // 2027-01-01
}

fn director(agent: &str) -> Signer {
    Signer { agent: agent.into(), role: SignerRole::DirectorDelegate }
}

fn medical(agent: &str) -> Signer {
    Signer { agent: agent.into(), role: SignerRole::MedicalOfficer }
}

/// A synthetic file: an obviously fictitious NIR and family name, one action with an offer.
fn file(id: &str, nir: &str, family_name: &str) -> ArchivedFile {
    let identity = v1::SocialIdentity {
        nir: Some(nir.into()),
        family_name: Some(family_name.into()),
        given_names: Some("Alix".into()),
        ..Default::default()
    };
    let action = v1::Action {
        action_id: format!("{id}-a1"),
        file_id: id.into(),
        purpose: v1::ActionPurpose::RelationshipAndOffers as i32,
        start: Some(v1::Date { year: 2024, month: 3, day: 1 }),
        end: Some(v1::Date { year: 2025, month: 6, day: 30 }),
        contacts: vec![v1::Contact {
            channel: v1::ContactChannel::Visit as i32,
            date: Some(v1::Date { year: 2024, month: 3, day: 2 }),
            agent_id: "sw-1".into(),
        }],
        offer_ids: vec!["0190a3b4-0000-7000-8000-00000000off1".into()],
    };
    ArchivedFile {
        id: id.into(),
        office: "ss-13".into(),
        opened_at: t0() - 900 * DAY,
        retention_start: v1::Date { year: 2025, month: 6, day: 30 },
        file: v1::SocialFile { identity: Some(identity), ..Default::default() },
        actions: vec![action],
        person: [7; 32],
    }
}

fn open() -> (tempfile::TempDir, Archive) {
    let dir = tempfile::tempdir().unwrap();
    let archive = Archive::open(&dir.path().join("archive")).unwrap();
    (dir, archive)
}

/// A grant for `reader` signed by a director's delegate and a médecin-conseil.
fn valid_grant(archive: &Archive, reader: &str) -> Grant {
    let g = archive.propose_grant(reader, &director("dir-1"), t0(), t0() + 300 * DAY).unwrap();
    archive.sign_grant(&g.id, &medical("med-1"), t0() + DAY).unwrap()
}

fn signature_refusal(r: Result<Grant>) -> String {
    match r {
        Err(ArchiveError::Signature(why)) => why,
        other => panic!("not a signature refusal: {other:?}"),
    }
}

fn no_grant<T: std::fmt::Debug>(r: Result<T>) -> String {
    match r {
        Err(ArchiveError::NoGrant(why)) => why,
        other => panic!("not a grant refusal: {other:?}"),
    }
}

#[test]
fn the_same_agent_signing_twice_gives_no_valid_grant() {
    let (_d, archive) = open();
    let g = archive.propose_grant("reader-1", &director("both-1"), t0(), t0() + 30 * DAY).unwrap();
    let why = signature_refusal(archive.sign_grant(&g.id, &medical("both-1"), t0()));
    assert!(why.contains("agent both-1 signed grant") && why.contains("another agent's"), "{why}");
    let why = no_grant(archive.valid_grant("reader-1", t0()));
    assert!(why.contains("awaits the medical-officer signature"), "{why}");
}

#[test]
fn one_role_signing_twice_gives_no_valid_grant() {
    let (_d, archive) = open();
    let g = archive.propose_grant("reader-1", &director("dir-1"), t0(), t0() + 30 * DAY).unwrap();
    let why = signature_refusal(archive.sign_grant(&g.id, &director("dir-2"), t0()));
    assert!(why.contains("has its director-delegate signature already") && why.contains("medical-officer"), "{why}");
    assert!(no_grant(archive.valid_grant("reader-1", t0())).contains("awaits the medical-officer"));
}

#[test]
fn both_roles_by_two_agents_make_a_valid_grant_and_a_third_signature_is_refused() {
    let (_d, archive) = open();
    let g = archive.propose_grant("reader-1", &medical("med-1"), t0(), t0() + 30 * DAY).unwrap();
    assert_eq!(g.state(t0()), GrantState::Awaiting(SignerRole::DirectorDelegate));
    let signed = archive.sign_grant(&g.id, &director("dir-1"), t0() + DAY).unwrap();
    assert!(signed.valid_at(t0() + DAY));
    assert_eq!(signed.director.as_ref().map(|s| s.0.as_str()), Some("dir-1"));
    assert_eq!(signed.medical, Some(("med-1".to_owned(), t0())), "each signature named and dated");
    assert_eq!(archive.valid_grant("reader-1", t0() + DAY).unwrap(), signed);
    assert_eq!(archive.grants().unwrap(), std::slice::from_ref(&signed), "as stored");
    let why = signature_refusal(archive.sign_grant(&g.id, &director("dir-2"), t0() + DAY));
    assert!(why.contains("signed by both already"), "{why}");
    assert!(no_grant(archive.valid_grant("reader-2", t0())).contains("holds no archive grant"), "another reader");
}

#[test]
fn a_reader_does_not_sign_their_own_grant_and_a_grant_lasts_twelve_months_at_most() {
    let (_d, archive) = open();
    let why = signature_refusal(archive.propose_grant("dir-1", &director("dir-1"), t0(), t0() + DAY));
    assert!(why.contains("does not sign their own grant"), "{why}");
    let why = signature_refusal(archive.propose_grant("reader-1", &director("dir-1"), t0(), t0() + 400 * DAY));
    assert!(why.contains("12 months at most") && why.contains("2028-01-01"), "{why}");
    let why = signature_refusal(archive.propose_grant("reader-1", &director("dir-1"), t0(), t0()));
    assert!(why.contains("not after"), "{why}");
    assert!(archive.grants().unwrap().is_empty(), "nothing stored");
    assert!(archive.propose_grant("reader-1", &director("dir-1"), t0(), t0() + 365 * DAY).is_ok(), "12 months");
}

#[test]
fn an_expired_grant_is_no_grant() {
    let (_d, archive) = open();
    let g = valid_grant(&archive, "reader-1");
    assert!(archive.valid_grant("reader-1", g.until - DAY).is_ok());
    let why = no_grant(archive.valid_grant("reader-1", g.until));
    assert!(why.contains("expired at"), "{why}");
    let why = signature_refusal(
        archive
            .propose_grant("reader-1", &director("dir-1"), t0(), t0() + DAY)
            .and_then(|late| archive.sign_grant(&late.id, &medical("med-1"), t0() + 2 * DAY)),
    );
    assert!(why.contains("expired"), "a grant is not signed after its end: {why}");
}

#[test]
fn a_revoked_grant_is_no_grant_and_is_not_signed_again() {
    let (_d, archive) = open();
    let g = valid_grant(&archive, "reader-1");
    let revoked = archive.revoke_grant(&g.id, &medical("med-2"), t0() + 2 * DAY).unwrap();
    assert_eq!((revoked.revoked_at, revoked.revoked_by.as_deref()), (Some(t0() + 2 * DAY), Some("med-2")));
    let why = no_grant(archive.valid_grant("reader-1", t0() + 3 * DAY));
    assert!(why.contains("was revoked at"), "{why}");
    assert!(archive.valid_grant("reader-1", t0() + DAY).is_err(), "revoked is revoked, whatever the time asked");
    let why = signature_refusal(archive.sign_grant(&g.id, &director("dir-9"), t0() + 3 * DAY));
    assert!(why.contains("revoked"), "{why}");
    let why = signature_refusal(archive.revoke_grant(&g.id, &director("dir-1"), t0() + 3 * DAY));
    assert!(why.contains("revoked already"), "{why}");
    assert!(matches!(archive.sign_grant("no-such", &director("d"), t0()), Err(ArchiveError::NoSuchGrant(_))));
}

#[test]
fn reads_without_a_grant_are_refused_and_nothing_is_recorded() {
    let (_d, archive) = open();
    let f = file("0190a3b4-0000-7000-8000-0000000000f1", "184057512345699", "Archivista");
    assert!(archive.admit(&f, t0(), t0() + 1000 * DAY).unwrap());
    assert!(no_grant(archive.list("reader-1", Purpose::Steering, None, 10, t0())).contains("holds no archive grant"));
    let g = archive.propose_grant("reader-1", &director("dir-1"), t0(), t0() + 30 * DAY).unwrap();
    let why = no_grant(archive.read("reader-1", &f.id, Purpose::Fraud, t0()));
    assert!(why.contains(&format!("grant {} awaits the medical-officer signature", g.id)), "{why}");
    assert!(archive.reads().unwrap().is_empty(), "a refused read is not a read");
}

#[test]
fn an_allowed_read_is_recorded_with_its_purpose_and_the_offers_stay_behind() {
    let (_d, archive) = open();
    let f = file("0190a3b4-0000-7000-8000-0000000000f1", "184057512345699", "Archivista");
    assert!(archive.admit(&f, t0(), t0() + 1000 * DAY).unwrap());
    assert!(!archive.admit(&f, t0() + DAY, t0() + 1000 * DAY).unwrap(), "admitted once");
    assert!(archive.contains(&f.id).unwrap());
    assert_eq!(archive.count().unwrap(), 1);
    let g = valid_grant(&archive, "reader-1");
    let now = t0() + 2 * DAY;
    let page = archive.list("reader-1", Purpose::Steering, None, 10, now).unwrap();
    assert_eq!(
        page,
        [ArchivedSummary { id: f.id.clone(), office: "ss-13".into(), entered_at: t0(), delete_at: t0() + 1000 * DAY }]
    );
    assert!(archive.list("reader-1", Purpose::Steering, Some(&f.id), 10, now).unwrap().is_empty(), "after the last");
    let record = archive.read("reader-1", &f.id, Purpose::Litigation, now).unwrap();
    assert_eq!(record.archived.file, f.file);
    assert_eq!(record.archived.retention_start, f.retention_start);
    assert_eq!((record.archived.person, record.archived.opened_at), (f.person, f.opened_at));
    assert_eq!(record.archived.actions.len(), 1);
    assert!(record.archived.actions[0].offer_ids.is_empty(), "the offers' ids name other persons' files");
    assert_eq!(record.archived.actions[0].contacts, f.actions[0].contacts);
    let reads: Vec<(Option<String>, String, String)> =
        archive.reads().unwrap().into_iter().map(|r| (r.file, r.purpose, r.grant)).collect();
    assert_eq!(
        reads,
        [
            (None, "steering".to_owned(), g.id.clone()),
            (None, "steering".to_owned(), g.id.clone()),
            (Some(f.id.clone()), "litigation".to_owned(), g.id.clone())
        ]
    );
    assert!(matches!(
        archive.read("reader-1", "0190a3b4-0000-7000-8000-0000000000f9", Purpose::Fraud, now),
        Err(ArchiveError::NoFile(_))
    ));
    assert_eq!(archive.reads().unwrap().len(), 3, "no file, no read recorded");
}

/// Every byte of every file in the archive's folder.
fn folder_bytes(archive: &Archive) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(archive.dir()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(!bytes.is_empty());
    bytes
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn an_erased_file_leaves_no_byte_of_the_person_in_the_archive_s_folder() {
    let (_d, archive) = open();
    let gone = file("0190a3b4-0000-7000-8000-0000000000e1", "284057512345611", "Effacetta");
    let due = file("0190a3b4-0000-7000-8000-0000000000e2", "184057512345622", "Echeancia");
    let kept = file("0190a3b4-0000-7000-8000-0000000000e3", "284057512345633", "Gardenia");
    for (f, delete_at) in [(&gone, 900), (&due, 800), (&kept, 1000)] {
        assert!(archive.admit(f, t0(), t0() + delete_at * DAY).unwrap());
    }
    let bytes = folder_bytes(&archive);
    for f in [&gone, &due, &kept] {
        let identity = f.file.identity.as_ref().unwrap();
        assert!(holds(&bytes, identity.nir.as_deref().unwrap()), "the scan sees what is there (encoded, not ciphered)");
        assert!(holds(&bytes, identity.family_name.as_deref().unwrap()));
    }

    assert_eq!(archive.erase(&gone.id).unwrap(), Some(gone.person));
    assert_eq!(archive.erase(&gone.id).unwrap(), None, "erased once");
    let bytes = folder_bytes(&archive);
    assert!(!holds(&bytes, "284057512345611") && !holds(&bytes, "Effacetta"), "the erased file is unreadable on disk");
    assert!(holds(&bytes, "Echeancia") && holds(&bytes, "Gardenia"));

    assert!(archive.erase_due(t0() + 799 * DAY).unwrap().is_empty(), "not yet due");
    // The entries are written before the commit: when they cannot be, nothing is erased.
    let refused = archive.erase_due_recorded(t0() + 800 * DAY, |_| {
        Err(crate::ArchiveError::Corrupt("the access log is unwritable".into()))
    });
    assert!(refused.is_err());
    assert!(archive.contains(&due.id).unwrap(), "no erasure without its entry");
    let recorded = std::cell::RefCell::new(Vec::new());
    let erased = archive
        .erase_due_recorded(t0() + 800 * DAY, |ids| {
            recorded.borrow_mut().extend_from_slice(ids);
            Ok::<_, crate::ArchiveError>(())
        })
        .unwrap();
    assert_eq!(erased, std::slice::from_ref(&due.id));
    assert_eq!(recorded.into_inner(), erased, "called with the ids it erased");
    let bytes = folder_bytes(&archive);
    assert!(!holds(&bytes, "184057512345622") && !holds(&bytes, "Echeancia"), "the due file is unreadable on disk");
    assert!(holds(&bytes, "284057512345633") && holds(&bytes, "Gardenia"), "the kept file is still there");
    assert_eq!(archive.count().unwrap(), 1);
    assert!(!archive.contains(&due.id).unwrap());
}

#[test]
fn a_file_past_its_delete_at_is_not_read_nor_listed_even_before_the_pass_erases_it() {
    let (_d, archive) = open();
    let due = file("0190a3b4-0000-7000-8000-0000000000d1", "184057512345644", "Perimetta");
    let kept = file("0190a3b4-0000-7000-8000-0000000000d2", "284057512345655", "Restanta");
    assert!(archive.admit(&due, t0(), t0() + 10 * DAY).unwrap());
    assert!(archive.admit(&kept, t0(), t0() + 1000 * DAY).unwrap());
    valid_grant(&archive, "reader-1");
    let before = t0() + 10 * DAY - Duration::from_millis(1);
    assert!(archive.read("reader-1", &due.id, Purpose::Steering, before).is_ok(), "readable until its end");
    let at = t0() + 10 * DAY;
    assert!(
        matches!(archive.read("reader-1", &due.id, Purpose::Steering, at), Err(ArchiveError::NoFile(_))),
        "kept at most 3 years: past its delete_at a file is not read, whether or not the pass has run"
    );
    let listed: Vec<String> =
        archive.list("reader-1", Purpose::Steering, None, 10, at).unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(listed, std::slice::from_ref(&kept.id), "nor listed");
    assert_eq!(archive.reads().unwrap().len(), 2, "the read before its end and the list; not the refused read");
}

/// An instant given as RFC 3339 text.
fn at(text: &str) -> SystemTime {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().into()
}

#[test]
fn a_refusal_names_the_grant_s_end_and_revocation_as_instants_not_as_utc_days() {
    // In Cayenne (UTC−3) a grant whose last day is 30 June 2027 ends at 1 July, 03:00 UTC, and a
    // revocation at 22:30 there on 30 June is at 01:30 UTC on 1 July: a UTC day is the wrong day.
    let (_d, archive) = open();
    let start = at("2027-01-10T12:00:00Z");
    let g = archive.propose_grant("reader-1", &director("dir-1"), start, at("2027-07-01T03:00:00Z")).unwrap();
    archive.sign_grant(&g.id, &medical("med-1"), start).unwrap();
    let why = no_grant(archive.valid_grant("reader-1", at("2027-07-02T12:00:00Z")));
    assert!(why.contains("expired at 2027-07-01T03:00:00Z") && !why.contains("on 2027-07-01"), "{why}");
    let h = archive.propose_grant("reader-2", &director("dir-1"), start, at("2027-07-01T03:00:00Z")).unwrap();
    archive.revoke_grant(&h.id, &medical("med-1"), at("2027-07-01T01:30:00Z")).unwrap();
    let why = no_grant(archive.valid_grant("reader-2", at("2027-07-01T02:00:00Z")));
    assert!(why.contains("was revoked at 2027-07-01T01:30:00Z"), "{why}");
}
