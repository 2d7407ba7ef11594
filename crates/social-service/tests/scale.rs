//! The office's list at scale (ignored by default; `cargo test -p passerelle-social-service
//! --release --test scale -- --ignored --nocapture` prints the figures): 100,000 files of 10
//! offices, one office's 10,000 listed page by page through the service (each listed file a
//! `read` in the access log), the time per page and in all.

use std::sync::Arc;
use std::time::Instant;

use passerelle_protocol::rules::SystemClock;
use passerelle_social_file::v1::{self, SocialFile};
use passerelle_social_service::{SocialService, SocialServiceSettings};
use passerelle_sqlite::rusqlite::{params, Connection};
use prost::Message;

#[test]
#[ignore = "a measurement: run it with --ignored --nocapture"]
fn an_office_s_10k_files_among_100k_are_listed_in_well_under_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let settings = SocialServiceSettings::for_dir("carsat-sud-est", "ss-0", dir.path(), dir.path(), "cpam-13");
    let data_dir = settings.data_dir.clone();
    let service = SocialService::build(settings.clone(), Arc::new(SystemClock)).unwrap();
    drop(service);
    let started = Instant::now();
    let mut conn = Connection::open(data_dir.join("social-service.db")).unwrap();
    let tx = conn.transaction().unwrap();
    for n in 0..100_000u32 {
        let mut file = SocialFile::default();
        let identity = file.identity.get_or_insert_with(Default::default);
        identity.nir = Some(
            passerelle_protocol::nir::with_key(&format!("1840575{:03}{:03}", 1 + n / 999, 1 + n % 999))
                .unwrap()
                .as_str()
                .to_owned(),
        );
        identity.family_name = Some(format!("Testard{n}"));
        identity.given_names = Some("Alix".into());
        file.care.get_or_insert_with(Default::default).gir_level = Some(4);
        file.family.get_or_insert_with(Default::default).situation = Some(v1::FamilySituation::Widowed as i32);
        let mut person = [0u8; 32];
        person[..4].copy_from_slice(&n.to_be_bytes());
        tx.execute(
            "INSERT INTO files (id, office, state, opened_at, opened_by, last_activity_at, file, person) \
             VALUES (?1, ?2, 'open', 0, 'sw-1', 0, ?3, ?4)",
            params![format!("{n:08}"), format!("ss-{}", n % 10), file.encode_to_vec(), person.as_slice()],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    drop(conn);
    eprintln!("100,000 files written in {:.1} s", started.elapsed().as_secs_f64());

    let service = SocialService::build(settings, Arc::new(SystemClock)).unwrap();
    let started = Instant::now();
    let (mut after, mut listed, mut pages, mut slowest) = (None::<String>, 0, 0, 0.0f64);
    loop {
        let page_started = Instant::now();
        let page = service.list("sw-1", None, after.as_deref(), Some(1000)).unwrap();
        slowest = slowest.max(page_started.elapsed().as_secs_f64());
        listed += page.files.len();
        pages += 1;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let total = started.elapsed().as_secs_f64();
    eprintln!(
        "office ss-0: {listed} files in {pages} pages of 1,000: {total:.3} s in all, slowest page {slowest:.3} s"
    );
    assert_eq!(listed, 10_000);
    assert!(slowest < 1.0, "a page of 1,000 well under a second: {slowest:.3} s");
    let started = Instant::now();
    let first = service.list("sw-1", None, None, Some(100)).unwrap();
    eprintln!("first page of 100: {:.4} s", started.elapsed().as_secs_f64());
    assert_eq!(first.files.len(), 100);
}
