//! The consolidated answer as a person receives it: a synthetic answer (two bodies that hold
//! something — a requester office with its selection row, the values it received and the offer's
//! outcome, and the observatory with a pseudonymised statistics row —, a body that holds nothing
//! and an observatory that stayed silent past the deadline), rendered by `printable::page`,
//! opened in a real headless Chromium and printed to PDF; the printed text read as the person
//! reads it: the sections in order, the bodies by their names, the values in words, the dates,
//! and no code of the wire. With `DOC_SHOTS=DIR`, the page is also saved as
//! `DIR/rights-answer.png` (the README's image).

use passerelle_rights::printable::page;
use passerelle_rights::{ConsolidatedAnswer, HeldValue, Holding, HoldingKind, PartyAnswer, RequestState, RightsKind};
use passerelle_test_support::browser::Browser;
use passerelle_test_support::nir_with_key;

fn value(category: &str, source: &str, value: &str) -> HeldValue {
    HeldValue { category: category.into(), source: source.into(), value: value.into() }
}

fn holding(kind: HoldingKind, since: &str, until: &str, values: Vec<HeldValue>) -> Holding {
    Holding {
        kind,
        case_id: "0190a3b4-0000-7000-8000-000000000042".into(),
        requester: "cnaf.caf-13".into(),
        since: Some(since.into()),
        until: Some(until.into()),
        values,
        outcome: None,
        outcome_date: None,
    }
}

fn party(code: &str, role: &str, answered: Option<&str>, holdings: Vec<Holding>) -> PartyAnswer {
    PartyAnswer {
        party: code.into(),
        role: role.into(),
        asked_at: "2026-11-02T09:00:00Z".into(),
        answered_at: answered.map(str::to_owned),
        late: false,
        holdings,
        rectified: vec![],
    }
}

fn synthetic_answer(nir: &str) -> ConsolidatedAnswer {
    let outcome = Holding {
        outcome: Some("accepted".into()),
        outcome_date: Some("2026-10-20".into()),
        ..holding(HoldingKind::OfferOutcome, "2026-10-20T08:00:00Z", "2028-10-20T08:00:00Z", vec![])
    };
    let caf = vec![
        holding(
            HoldingKind::Selection,
            "2026-09-01T08:00:00Z",
            "2028-09-01T08:00:00Z",
            vec![value("housing_aid", "cnaf.caf-13", "true")],
        ),
        holding(
            HoldingKind::ReceivedValues,
            "2026-09-03T10:00:00Z",
            "2028-09-03T10:00:00Z",
            vec![
                value("family_situation", "cnav", "widowed"),
                value("long_term_condition", "cnam", "true"),
                value("household_annual_resources", "cnaf", "14250.50"),
                value("pension_start_date", "cnav", "2019-07-01"),
            ],
        ),
        outcome,
    ];
    let statistics = vec![holding(HoldingKind::Statistics, "2026-09-03T10:00:00Z", "2031-09-03T10:00:00Z", vec![])];
    ConsolidatedAnswer {
        request_id: "6f1c1d0e-5b8a-4c3e-9d2f-0a1b2c3d4e5f".into(),
        kind: RightsKind::Access,
        state: RequestState::Answered,
        observatory: "carsat-sud-est".into(),
        opened_by: "dr-13-01".into(),
        identity_checked_by: "acc-13-02".into(),
        opened_at: "2026-11-02T09:00:00Z".into(),
        answer_by: "2026-12-02T09:00:00Z".into(),
        nir: nir.into(),
        former_nirs: vec![],
        corrected: vec![],
        parties: vec![
            party("carsat-sud-est", "observatory", Some("2026-11-02T09:05:00Z"), statistics),
            party("carsat-rhone-alpes", "observatory", None, vec![]),
            party("cnaf.caf-13", "requester", Some("2026-11-03T14:00:00Z"), caf),
            party("cnam.cpam-06", "requester", Some("2026-11-04T11:00:00Z"), vec![]),
        ],
    }
}

/// The text with every run of white space as one space (lines of a paragraph joined).
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_printed_rights_answer_says_what_a_person_must_read_in_order() {
    let nir = nir_with_key("2520613055123");
    let answer = synthetic_answer(&nir);
    let html = page(&answer);
    let Some(browser) = Browser::start_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rights-answer.html");
    std::fs::write(&file, &html).unwrap();
    browser.goto(&format!("file://{}", file.display())).unwrap();
    assert_eq!(browser.title().unwrap(), "Réponse à votre demande de droit d'accès");
    let printed = squash(&browser.print_text().unwrap());

    // The sections, in the order the person reads them.
    let sections = [
        "Réponse à votre demande de droit d'accès",
        nir.as_str(),
        "Qui détient des informations vous concernant",
        "Observatoire régional des situations de fragilité (CARSAT Sud-Est)",
        "repérer les personnes de 55 ans et plus en risque de perte d'autonomie",
        "décret n° 2017-334 du 14 mars 2017, articles 1 à 3",
        "Une ligne de statistiques pseudonymisée : sans votre nom, sans votre NIR",
        "conservée 5 ans au plus",
        "jusqu'au 03/09/2031",
        "Caisse d'allocations familiales, bureau caf-13",
        "Votre inscription sur la liste des personnes",
        "Aide au logement Oui",
        "Situation familiale veuf·ve",
        "Affection de longue durée (ALD) Oui",
        "Ressources annuelles du foyer 14 250,50 €",
        "Date de départ en retraite 01/07/2019",
        "vous l'avez acceptée (le 20/10/2026)",
        "Détenu depuis le 20/10/2026, jusqu'au 20/10/2028",
        "Ces organismes ont répondu ne rien détenir vous concernant",
        "Assurance maladie, bureau cpam-06",
        "Organismes qui n'ont pas répondu à temps",
        "Observatoire régional des situations de fragilité (CARSAT Rhône-Alpes), interrogé le 02/11/2026",
        "Les dossiers du service social",
        "caisse primaire d'assurance maladie ou le service social de la CARSAT",
        "Il n'y a pas de droit d'opposition",
        "www.cnil.fr/plaintes",
        "3 place de Fontenoy, TSA 80715, 75334 Paris Cedex 07",
    ];
    let mut from = 0;
    for wanted in sections {
        let wanted = squash(&wanted.replace('\u{a0}', " "));
        let text = printed.replace('\u{a0}', " ");
        let at = text[from..].find(&wanted).unwrap_or_else(|| panic!("`{wanted}` after byte {from} in: {printed}"));
        from += at + wanted.len();
    }
    // No code of the wire, nothing meant for the screen.
    for code in [
        "family_situation",
        "housing_aid",
        "long_term_condition",
        "widowed",
        "received-values",
        "received_values",
        "offer-outcome",
        "accepted",
        "true",
        "14250.50",
        "2019-07-01",
        "T09:00",
        "Page à imprimer",
    ] {
        assert!(!printed.contains(code), "`{code}` is not printed: {printed}");
    }

    if let Some(shots) = std::env::var_os("DOC_SHOTS") {
        let png = browser.full_page_png().unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::create_dir_all(&shots).unwrap();
        std::fs::write(std::path::Path::new(&shots).join("rights-answer.png"), png).unwrap();
    }
}
