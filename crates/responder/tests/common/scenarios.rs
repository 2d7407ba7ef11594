//! The responder's behaviour over a bus, the same scenarios on the in-process bus and on
//! RabbitMQ: each takes a running [`Stack`] whose extract is [`population`].

use passerelle_protocol::v1::{self, Category, CategoryValues, DeclineReason, PersonStatus, Sex};

use super::*;

/// The extract every scenario starts from.
pub fn population() -> Vec<Line> {
    vec![
        Line::new(&nir(1)).identity("M", 1950).rsa("oui").housing("non").resources("12000,50"),
        Line::new(&nir(2)).former(&[&nir(20)]).identity("F", 1948).rsa("false"),
        Line::new(&nir(3)).identity("2", 1955).rsa("1"),
        // Neither sex nor birth year known: any identity agrees.
        Line::new(&nir(4)).housing("true"),
    ]
}

fn answer(r: &v1::Response, person_ref: u64) -> &v1::PersonAnswer {
    r.answers.iter().find(|a| a.person_ref == person_ref).expect("every person is answered")
}

fn found(r: &v1::Response, person_ref: u64) -> CategoryValues {
    let a = answer(r, person_ref);
    assert_eq!(a.status, PersonStatus::Found as i32, "person {person_ref} should be found");
    a.values.clone().unwrap_or_default()
}

fn not_found(r: &v1::Response, person_ref: u64) {
    let a = answer(r, person_ref);
    assert_eq!(a.status, PersonStatus::NotFound as i32, "person {person_ref} should not be found");
    assert_eq!(a.values, None, "a person not found carries no value");
}

/// Found by NIR, by the body's former NIR, by the solicitation's former NIR; not found when the
/// birth year or sex disagrees or the NIR is unknown. Only asked ∩ held values come back.
pub async fn matching(stack: &mut Stack) {
    let persons = vec![
        person(1, &nir(1), &[], Some(Sex::Male), 1950),
        person(2, &nir(20), &[], Some(Sex::Female), 1948),
        person(3, &nir(30), &[&nir(3)], Some(Sex::Female), 1955),
        person(4, &nir(3), &[], Some(Sex::Female), 1956),
        person(5, &nir(1), &[], Some(Sex::Female), 1950),
        person(6, &nir(999), &[], None, 0),
        person(7, &nir(4), &[], Some(Sex::Male), 1960),
    ];
    stack.solicit(solicitation("case-matching", &wanted(&[Category::Rsa, Category::HousingAid]), persons)).await;
    let r = stack.response().await;
    assert_eq!((r.sender.as_str(), r.case_id.as_str()), (BODY, "case-matching"));
    assert_eq!((r.solicitation_id.as_str(), r.chunk_index, r.chunk_count), ("case-matching/cnaf", 0, 1));
    assert_eq!(r.answers.len(), 7);
    let v = |rsa, housing_aid| CategoryValues { rsa, housing_aid, ..Default::default() };
    // Household resources are held and known for person 1, but not asked: not sent.
    assert_eq!(found(&r, 1), v(Some(true), Some(false)));
    assert_eq!(found(&r, 2), v(Some(false), None), "by the body's former NIR");
    assert_eq!(found(&r, 3), v(Some(true), None), "by the solicitation's former NIR");
    not_found(&r, 4); // birth year disagrees
    not_found(&r, 5); // sex disagrees
    not_found(&r, 6); // unknown NIR
    assert_eq!(found(&r, 7), v(None, Some(true)), "the body knows no identity to disagree with");
    assert!(r.declined.is_empty(), "{:?}", r.declined);
}

/// A category the body does not hold, and one outside the decree: declined with their reasons;
/// the rest answered.
pub async fn not_held_is_declined(stack: &mut Stack) {
    let asked = vec![Category::LongTermCondition as i32, Category::Rsa as i32, 99];
    stack.solicit(solicitation("case-declined", &asked, vec![person(1, &nir(1), &[], None, 0)])).await;
    let r = stack.response().await;
    assert_eq!(found(&r, 1), CategoryValues { rsa: Some(true), ..Default::default() });
    let declined: Vec<(i32, i32)> = r.declined.iter().map(|d| (d.category, d.reason)).collect();
    assert_eq!(
        declined,
        vec![
            (Category::LongTermCondition as i32, DeclineReason::NotHeld as i32),
            (99, DeclineReason::NotInDecree as i32),
        ]
    );
    assert!(r.declined.iter().all(|d| !d.detail.is_empty()));
}

/// A chunk sent again (a reminder) is answered again, the same.
pub async fn reminders_are_answered_again(stack: &mut Stack) {
    let persons = vec![person(1, &nir(1), &[], None, 0), person(2, &nir(404), &[], None, 0)];
    let mut s = solicitation("case-reminder", &wanted(&[Category::Rsa, Category::LongTermCondition]), persons);
    stack.solicit(s.clone()).await;
    let first = stack.response().await;
    s.reminder = true;
    stack.solicit(s.clone()).await;
    let second = stack.response().await;
    stack.solicit(s).await;
    let third = stack.response().await;
    assert_eq!(first, second);
    assert_eq!(second, third);
    assert_eq!(first.answers.len(), 2);
}

/// The values of a reload scenario's extract: every person has `rsa = generation`.
pub fn generation(persons: u32, rsa: bool) -> Vec<Line> {
    (0..persons).map(|i| Line::new(&nir(1000 + i)).rsa(if rsa { "true" } else { "false" })).collect()
}

/// Reloads while chunks are being answered: every response comes wholly from one extract.
pub async fn reload_mid_stream(stack: &mut Stack) {
    const PERSONS: u32 = 300;
    const CHUNKS: u32 = 24;
    stack.reload(&generation(PERSONS, true));
    let chunk = |case: &str, index: u32| {
        let persons = (0..PERSONS).map(|i| person(u64::from(i), &nir(1000 + i), &[], None, 0)).collect();
        let mut s = solicitation(case, &wanted(&[Category::Rsa]), persons);
        (s.chunk_index, s.chunk_count) = (index, CHUNKS);
        s
    };
    // Before any reload: the first extract.
    stack.solicit(chunk("case-before", 0)).await;
    assert_eq!(rsa_of(&stack.response().await), Some(true));

    // Reloads alternate while the chunks stream.
    let settings = stack.settings.clone();
    let dir = stack.dir.path().to_owned();
    let reloads = tokio::task::spawn_blocking(move || {
        for round in 0..8 {
            let path = dir.join(format!("reload-{round}.csv"));
            write_extract(&path, &generation(PERSONS, round % 2 == 1));
            load(&settings, &path);
        }
    });
    for index in 0..CHUNKS {
        stack.solicit(chunk("case-stream", index)).await;
    }
    let mut seen = Vec::new();
    for _ in 0..CHUNKS {
        let r = stack.response().await;
        assert_eq!(r.answers.len(), PERSONS as usize);
        seen.push(rsa_of(&r).expect("every response wholly from one extract"));
    }
    reloads.await.unwrap();
    // The last reload loaded `rsa = true` (round 7): the next chunk reads it.
    stack.solicit(chunk("case-after", 0)).await;
    assert_eq!(rsa_of(&stack.response().await), Some(true));
    assert_eq!(seen.len(), CHUNKS as usize);
}

/// The one `rsa` value of every person of a response, or `None` if they differ (a mix).
fn rsa_of(r: &v1::Response) -> Option<bool> {
    let values: Vec<Option<bool>> = r
        .answers
        .iter()
        .map(|a| {
            assert_eq!(a.status, PersonStatus::Found as i32);
            a.values.as_ref().and_then(|v| v.rsa)
        })
        .collect();
    let first = values.first().copied().flatten()?;
    values.iter().all(|v| *v == Some(first)).then_some(first)
}
