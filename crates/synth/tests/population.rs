//! The generated population, read back from its files: determinism, valid and unique NIRs, the
//! territory, the extracts' columns and contents, the manifest, and the rough prevalences.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use passerelle_protocol::catalogue::{self, body};
use passerelle_protocol::commune::{CommuneKind, CommuneTable};
use passerelle_protocol::nir::Nir;
use passerelle_protocol::territory::Territories;
use passerelle_protocol::value;
use passerelle_synth::{
    extract_columns, extract_file_name, generate, selection_columns, Manifest, SynthError, SynthOptions,
    TerritoryChoice, MANIFEST_FILE, SELECTION_FILE,
};

const YEAR: i32 = 2025;

/// One CSV file as a header and rows of strings.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn read(path: &Path) -> Table {
        let mut reader = csv::Reader::from_path(path).unwrap();
        let header = reader.headers().unwrap().iter().map(str::to_owned).collect();
        let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
        Table { header, rows }
    }

    fn column(&self, name: &str) -> usize {
        self.header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"))
    }

    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let i = self.column(name);
        self.rows.iter().map(move |r| r[i].as_str())
    }

    /// Share of rows whose column is `true`, among the rows where it is not empty.
    fn share_true(&self, name: &str) -> f64 {
        let known: Vec<&str> = self.values(name).filter(|v| !v.is_empty()).collect();
        known.iter().filter(|v| **v == "true").count() as f64 / known.len() as f64
    }
}

fn options(persons: u64) -> SynthOptions {
    SynthOptions::new(persons, YEAR)
}

fn make(options: &SynthOptions) -> (tempfile::TempDir, Manifest) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = generate(options, dir.path()).unwrap();
    (dir, manifest)
}

fn file_names() -> Vec<String> {
    std::iter::once(SELECTION_FILE.to_owned())
        .chain(body::ALL.iter().map(|b| extract_file_name(b)))
        .chain(std::iter::once(MANIFEST_FILE.to_owned()))
        .collect()
}

#[test]
fn the_same_seed_gives_byte_identical_files_and_another_seed_does_not() {
    let (a, _) = make(&options(3000));
    let (b, _) = make(&options(3000));
    let (c, _) = make(&SynthOptions { seed: 99, ..options(3000) });
    for name in file_names() {
        let (fa, fb) = (std::fs::read(a.path().join(&name)).unwrap(), std::fs::read(b.path().join(&name)).unwrap());
        assert!(fa == fb, "{name} differs between two runs with the same seed");
    }
    let selection = |d: &tempfile::TempDir| std::fs::read(d.path().join(SELECTION_FILE)).unwrap();
    assert_ne!(selection(&a), selection(&c), "another seed gives another population");
}

#[test]
fn a_cpam_requester_selects_the_same_persons_with_its_own_categories_and_the_extracts_are_the_same() {
    let (caf, _) = make(&options(500));
    let (cpam, manifest) = make(&SynthOptions { requester: body::CNAM.to_owned(), ..options(500) });
    assert_eq!(manifest.requester, "cnam");
    // The bodies' extracts (the CNAF's among them, for a CPAM's demo) do not depend on who
    // requests: the population is the same, only the selection's categories change.
    for b in body::ALL {
        let name = extract_file_name(b);
        let (fa, fb) =
            (std::fs::read(caf.path().join(&name)).unwrap(), std::fs::read(cpam.path().join(&name)).unwrap());
        assert!(fa == fb, "{name} depends on the requester");
    }
    assert!(manifest.bodies["cnaf"].persons_known > 0, "the CNAF knows somebody");
    let (a, b) = (Table::read(&caf.path().join(SELECTION_FILE)), Table::read(&cpam.path().join(SELECTION_FILE)));
    assert_eq!(a.values("nir").collect::<Vec<_>>(), b.values("nir").collect::<Vec<_>>(), "the same persons");
    assert_eq!(b.header, selection_columns("cnam"));
    for column in b.header.iter().skip(catalogue::IDENTITY_FIELDS.len()) {
        let info = catalogue::by_code(column).unwrap();
        assert!(info.default_holders.contains(&"cnam"), "{column} is not the health branch's");
    }
    assert!(b.values("long_term_condition").any(|v| !v.is_empty()), "the CPAM knows its insured");
}

#[test]
fn every_nir_is_valid_unique_and_consistent_with_sex_and_birth_year() {
    let (dir, manifest) = make(&options(20_000));
    let selection = Table::read(&dir.path().join(SELECTION_FILE));
    assert_eq!(selection.header, selection_columns("cnaf"));
    assert_eq!(selection.rows.len(), 20_000);
    let mut seen = HashSet::new();
    let (nir, former, sex, year) = (
        selection.column("nir"),
        selection.column("former_nirs"),
        selection.column("sex"),
        selection.column("birth_year"),
    );
    let mut provisional = 0;
    for row in &selection.rows {
        let parsed = Nir::parse(&row[nir]).unwrap_or_else(|e| panic!("invalid NIR: {e}"));
        assert!(seen.insert(row[nir].clone()), "duplicate NIR");
        let birth_year: i32 = row[year].parse().unwrap();
        assert!((55..=100).contains(&(YEAR - birth_year)), "age {}", YEAR - birth_year);
        assert_eq!(u32::from(parsed.year_digits()), (birth_year % 100) as u32);
        assert_eq!(value::parse_sex(&row[sex]), Some(parsed.sex()));
        provisional += usize::from(parsed.is_provisional());
        for old in row[former].split('|').filter(|s| !s.is_empty()) {
            Nir::parse(old).unwrap_or_else(|e| panic!("invalid former NIR: {e}"));
            assert!(seen.insert(old.to_owned()), "a former NIR is someone's NIR");
        }
    }
    assert_eq!(provisional as u64, manifest.provisional_nirs);
    assert!((100..=800).contains(&provisional), "about 2 % provisional numbers, got {provisional}");
    let with_former = selection.values("former_nirs").filter(|v| !v.is_empty()).count() as u64;
    assert_eq!(with_former, manifest.persons_with_former_nir);
    assert!(with_former > 100, "a few persons have a former NIR");
    // Some optional fields are empty, some not.
    for column in ["usage_name", "postal_address", "email", "phone"] {
        let empty = selection.values(column).filter(|v| v.is_empty()).count();
        assert!(empty > 0 && empty < 20_000, "{column}: {empty} empty");
    }
    assert!(selection.values("email").all(|e| e.is_empty() || e.ends_with("@example.org")));
    assert!(selection.values("phone").all(|p| p.is_empty() || p.starts_with("01 99 00 ")));
}

#[test]
fn residence_communes_route_to_the_chosen_observatory() {
    let territories = Territories::default();
    let table = CommuneTable::official();
    for observatory in ["carsat-sud-est", "cnav-idf", "cgss-reunion"] {
        let (dir, manifest) =
            make(&SynthOptions { territory: TerritoryChoice::Observatory(observatory.to_owned()), ..options(2000) });
        assert_eq!(manifest.territory, observatory);
        assert_eq!(manifest.observatories.keys().collect::<Vec<_>>(), vec![observatory]);
        let selection = Table::read(&dir.path().join(SELECTION_FILE));
        let mut communes = HashSet::new();
        for code in selection.values("commune_code") {
            assert_eq!(territories.observatory_of_commune(table, code).unwrap(), observatory, "{code}");
            let kind = table.get(code).unwrap().kind;
            assert!(matches!(kind, CommuneKind::Current | CommuneKind::MunicipalArrondissement), "{code}");
            assert!(!["75056", "13055", "69123"].contains(&code), "arrondissements, not the whole city");
            communes.insert(code.to_owned());
        }
        // La Réunion has 24 communes; the mainland territories have thousands.
        let expected = if observatory == "cgss-reunion" { 15 } else { 100 };
        assert!(communes.len() > expected, "{observatory}: many communes, got {}", communes.len());
    }
}

#[test]
fn all_covers_several_observatories_weighted_by_population() {
    let (_dir, manifest) = make(&SynthOptions { territory: TerritoryChoice::All, ..options(5000) });
    assert_eq!(manifest.territory, "all");
    assert!(manifest.observatories.len() >= 15, "{:?}", manifest.observatories);
    assert_eq!(manifest.observatories.values().sum::<u64>(), 5000);
    // Île-de-France is the most populous territory.
    let idf = manifest.observatories["cnav-idf"];
    assert!(manifest.observatories.values().all(|&n| n <= idf), "{:?}", manifest.observatories);
}

#[test]
fn each_extract_has_the_columns_of_its_body_and_values_of_the_right_type() {
    let (dir, manifest) = make(&options(10_000));
    let selection = Table::read(&dir.path().join(SELECTION_FILE));
    let people: HashMap<&str, (&str, &str)> = selection
        .rows
        .iter()
        .map(|r| {
            (
                r[selection.column("nir")].as_str(),
                (r[selection.column("birth_year")].as_str(), r[selection.column("former_nirs")].as_str()),
            )
        })
        .collect();
    let former_to_current: HashMap<&str, &str> =
        people.iter().filter(|(_, (_, f))| !f.is_empty()).map(|(n, (_, f))| (*f, *n)).collect();

    for b in body::ALL {
        let extract = Table::read(&dir.path().join(extract_file_name(b)));
        assert_eq!(extract.header, extract_columns(b));
        for category in &catalogue::CATEGORIES {
            let has_column = extract.header.iter().any(|h| h == category.code);
            assert_eq!(has_column, category.default_holders.contains(&b), "{b}: {}", category.code);
        }
        let counts = &manifest.bodies[b];
        assert_eq!(extract.rows.len() as u64, counts.persons_known);
        assert_eq!(manifest.files[&extract_file_name(b)], counts.persons_known);

        let (mut by_former, mut mismatches, mut unique) = (0, 0, HashSet::new());
        for row in &extract.rows {
            let nir = row[0].as_str();
            assert!(unique.insert(nir), "{b}: one row per person");
            let current = match people.get(nir) {
                Some(_) => nir,
                None => {
                    by_former += 1;
                    former_to_current.get(nir).unwrap_or_else(|| panic!("{b}: a NIR nobody selected"))
                }
            };
            let (birth_year, former) = people[current];
            assert!(row[1].is_empty() || row[1] == former, "{b}: former NIRs are the selection's");
            if !row[2].is_empty() && row[2] != birth_year {
                mismatches += 1;
            }
            assert!(row[3].is_empty() || row[3] == "M" || row[3] == "F");
            for (i, column) in extract.header.iter().enumerate().skip(4) {
                let info = catalogue::by_code(column).unwrap();
                value::parse(info.value_type, &row[i]).unwrap_or_else(|e| panic!("{b}.{column}: {e}"));
            }
        }
        assert_eq!(by_former, counts.known_by_former_nir_only, "{b}");
        assert_eq!(mismatches, counts.birth_year_mismatches, "{b}");
    }

    // The selection's category cells are valid too, and only the requester's categories.
    for (i, column) in selection.header.iter().enumerate().skip(catalogue::IDENTITY_FIELDS.len()) {
        let info = catalogue::by_code(column).unwrap();
        assert!(info.default_holders.contains(&"cnaf"), "{column}");
        for row in &selection.rows {
            value::parse(info.value_type, &row[i]).unwrap_or_else(|e| panic!("selection.{column}: {e}"));
        }
    }
}

#[test]
fn each_body_knows_a_realistic_part_of_the_population() {
    let persons = 20_000;
    let (dir, manifest) = make(&options(persons));
    let share = |b: &str| manifest.bodies[b].persons_known as f64 / persons as f64;
    assert!((0.85..0.95).contains(&share("cnam")), "cnam {}", share("cnam"));
    assert!((0.85..0.95).contains(&share("cnav")), "cnav {}", share("cnav"));
    assert!((0.28..0.42).contains(&share("cnaf")), "cnaf {}", share("cnaf"));
    assert!((0.04..0.10).contains(&share("msa")), "msa {}", share("msa"));
    assert!((100..=800).contains(&manifest.known_to_nobody), "{}", manifest.known_to_nobody);
    for (b, counts) in &manifest.bodies {
        if b != "msa" {
            assert!(counts.known_by_former_nir_only > 0, "{b}: some known by a former NIR only");
            assert!(counts.birth_year_mismatches > 0, "{b}: some birth-year mismatches");
        }
        assert!(counts.birth_year_mismatches * 100 < counts.persons_known, "{b}: mismatches stay rare");
        assert!(counts.without_birth_year > 0 && counts.without_sex > 0, "{b}");
    }

    // Illustrative prevalences, with wide margins.
    let cnam = Table::read(&dir.path().join(extract_file_name("cnam")));
    let ald = cnam.share_true("long_term_condition");
    assert!((0.28..0.42).contains(&ald), "ALD {ald}");
    let css = cnam.share_true("css");
    assert!((0.07..0.13).contains(&css), "CSS {css}");
    let stays: Vec<&str> = cnam.values("hospital_stays_12m").filter(|v| !v.is_empty()).collect();
    let with_stay = stays.iter().filter(|v| **v != "none").count() as f64 / stays.len() as f64;
    assert!((0.15..0.26).contains(&with_stay), "hospital stays {with_stay}");
    assert!(stays.iter().all(|s| *s == "none" || (1..=3).contains(&s.split('|').count())));

    let cnav = Table::read(&dir.path().join(extract_file_name("cnav")));
    for q in cnav.values("quarters_contributed").filter(|v| !v.is_empty()) {
        assert!((100..=172).contains(&q.parse::<u32>().unwrap()), "{q}");
    }
    let minimum = cnav.share_true("old_age_minimum");
    assert!((0.02..0.07).contains(&minimum), "old-age minimum {minimum}");
    for date in cnav.values("pension_start_date").filter(|v| !v.is_empty()) {
        assert!(date.ends_with("-01") && date < "2025-01-02", "{date}");
    }

    let cnaf = Table::read(&dir.path().join(extract_file_name("cnaf")));
    let housing_overall = cnaf.values("housing_aid").filter(|v| *v == "true").count() as f64 / persons as f64;
    assert!((0.06..0.13).contains(&housing_overall), "housing aid {housing_overall}");
}

#[test]
fn the_manifest_reads_back() {
    let (dir, manifest) = make(&options(500));
    assert_eq!(Manifest::read(dir.path()).unwrap(), manifest);
    assert_eq!(manifest.persons, 500);
    assert_eq!(manifest.reference_year, YEAR);
    assert_eq!(manifest.as_of, "2025-01-01");
    assert_eq!(manifest.files[SELECTION_FILE], 500);
    assert_eq!(manifest.files.len(), 5);
    assert!(matches!(Manifest::read(Path::new("/nonexistent")), Err(SynthError::Read { .. })));
}

#[test]
fn bad_options_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = SynthOptions { territory: TerritoryChoice::Observatory("carsat-atlantide".into()), ..options(10) };
    let err = generate(&unknown, dir.path()).unwrap_err();
    assert!(err.is_usage());
    assert!(err.to_string().contains("carsat-sud-est"), "{err}");
    let too_many = options(passerelle_synth::MAX_PERSONS + 1);
    assert!(generate(&too_many, dir.path()).unwrap_err().is_usage());
    let year = SynthOptions { reference_year: 1990, ..options(10) };
    assert!(generate(&year, dir.path()).unwrap_err().is_usage());
    assert!(!dir.path().join(MANIFEST_FILE).exists());
}
