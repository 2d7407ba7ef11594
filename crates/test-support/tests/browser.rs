//! The headless-browser harness checked on a static page: French text with accents, a table and
//! a print stylesheet hiding a `.no-print` element; rendered, printed to PDF, its text read
//! back; and nothing left running once the browser is dropped.
#![cfg(feature = "browser")]

use std::time::Instant;

use passerelle_test_support::browser::{processes_naming, Browser};

const PAGE: &str = r#"<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Dossier social — accès</title>
<style>@media print { .no-print { display: none; } }</style></head>
<body>
<h1>Droit d'accès : dossier n° synth-0001</h1>
<p class="no-print">Bouton Imprimer (écran seulement)</p>
<table>
<tr><th>Catégorie</th><th>Valeur</th></tr>
<tr><td>Situation familiale</td><td>Mariée</td></tr>
<tr><td>Niveau GIR</td><td>4</td></tr>
<tr><td>Prestations</td><td>Allocation de solidarité aux personnes âgées</td></tr>
</table>
<p id="note">Évaluation sociale : isolement marqué, démarches d'accès aux droits engagées.</p>
</body></html>"#;

/// Whether a process whose command line names `needle` is running (a Chromium of the session).
fn process_naming(needle: &str) -> bool {
    !processes_naming(needle).is_empty()
}

#[test]
fn a_french_page_is_rendered_printed_to_pdf_and_its_text_read_back() {
    let started = Instant::now();
    let Some(browser) = Browser::start_or_skip() else { return };
    let session = started.elapsed();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("acces.html");
    std::fs::write(&page, PAGE).unwrap();
    browser.goto(&format!("file://{}", page.display())).unwrap();

    assert_eq!(browser.title().unwrap(), "Dossier social — accès");
    let screen = browser.page_text().unwrap();
    assert!(screen.contains("Bouton Imprimer"), "the screen shows the .no-print element: {screen}");
    assert_eq!(browser.texts("td").unwrap()[..2], ["Situation familiale", "Mariée"]);
    assert_eq!(browser.texts("#note").unwrap().len(), 1);

    let pdf = browser.print_pdf().unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    let printed = passerelle_test_support::browser::pdf_text(&pdf).unwrap();
    for expected in
        ["Droit d'accès", "Mariée", "Niveau GIR", "Évaluation sociale : isolement marqué", "personnes âgées"]
    {
        assert!(printed.contains(expected), "{expected:?} missing from the printed text: {printed}");
    }
    assert!(!printed.contains("Bouton Imprimer"), "the print stylesheet hides .no-print: {printed}");
    // -layout keeps a table's row on one line.
    assert!(printed.lines().any(|l| l.contains("Situation familiale") && l.contains("Mariée")), "{printed}");
    assert_eq!(browser.print_text().unwrap(), printed);

    let (driver, profile) = (browser.driver_pid(), browser.profile_dir().display().to_string());
    assert!(process_naming(&profile), "Chromium runs with the session's profile");
    drop(browser);
    eprintln!("browser session: started in {session:?}, whole test {:?}", started.elapsed());
    assert!(!std::path::Path::new(&format!("/proc/{driver}")).exists(), "chromedriver is gone");
    assert!(!process_naming(&profile), "no Chromium of the session is left");
    assert!(!std::path::Path::new(&profile).exists(), "the profile folder is removed");
}
