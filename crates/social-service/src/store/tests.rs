//! The store's paging: an office's page is read on its index whatever the store's size.

use std::time::SystemTime;

use passerelle_social_file::v1::SocialFile;

use super::*;

fn new_file<'a>(id: &'a str, office: &'a str, file: &'a SocialFile, n: u32) -> NewFile<'a> {
    let mut person = [0u8; 32];
    person[..4].copy_from_slice(&n.to_be_bytes());
    NewFile { id, office, at: SystemTime::now(), agent: "sw-1", file, source_case: None, source_line: None, person }
}

#[test]
fn an_office_s_list_is_paged_on_its_index_and_never_shows_another_office() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let file = SocialFile::default();
    for n in 0..300u32 {
        let id = format!("{n:08}");
        let office = if n % 3 == 0 { "ss-13" } else { "ss-84" };
        assert!(store.insert_file(&new_file(&id, office, &file, n)).unwrap());
    }
    assert!(!store.insert_file(&new_file("again", "ss-13", &file, 0)).unwrap(), "one file a person");
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list("ss-13", Some(FileState::Open), after.as_deref(), 40).unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.iter().all(|r| r.office == "ss-13"));
        after = page.last().map(|r| r.id.clone());
        seen.extend(page.into_iter().map(|r| r.id));
    }
    assert_eq!(seen.len(), 100);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in id order, no file twice");

    for (sql, state) in [
        ("office = ?1 AND state = ?2 AND id > ?3 ORDER BY id LIMIT ?4", true),
        ("office = ?1 AND id > ?2 ORDER BY id LIMIT ?3", false),
    ] {
        let plan: Vec<String> = store
            .db
            .read(|tx| {
                let mut stmt = tx.prepare(&format!("EXPLAIN QUERY PLAN SELECT {FILE_COLUMNS} WHERE {sql}"))?;
                let rows = if state {
                    stmt.query_map(params!["ss-13", "open", "", 10], |r| r.get::<_, String>(3))?
                        .collect::<Result<Vec<_>, _>>()
                } else {
                    stmt.query_map(params!["ss-13", "", 10], |r| r.get::<_, String>(3))?.collect::<Result<Vec<_>, _>>()
                };
                Ok::<_, StoreError>(rows?)
            })
            .unwrap();
        assert!(plan.iter().any(|p| p.contains("USING INDEX files_by_office")), "{plan:?}");
        assert!(!plan.iter().any(|p| p.contains("TEMP B-TREE")), "no sort of the whole office: {plan:?}");
    }
}
