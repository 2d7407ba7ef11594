//! Streams the population into the selection file and the extracts, one person at a time, then
//! writes the manifest.
//!
//! Values use the syntax of [`passerelle_protocol::value`] (its canonical form, as result files
//! write it): `true`/`false`, euros with two decimals, `YYYY-MM-DD`, family-situation codes, stays
//! as `YYYY-MM-DD/DAYS/MODE|…` and `none` for a known empty list. An empty cell means unknown.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use passerelle_protocol::catalogue::{self, body};
use passerelle_protocol::v1::{self, FamilySituation, TreatmentMode};
use passerelle_protocol::value::{self, Value};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::manifest::{BodyCounts, Manifest};
use crate::model::{self, KeyForm, Model};
use crate::residence::Residences;
use crate::{identity, SynthError, SynthOptions, MANIFEST_FILE, PROGRESS_STEP, SELECTION_FILE};

/// Output buffer per file: large enough that writes reach the kernel in big blocks.
const WRITE_BUFFER: usize = 256 * 1024;

/// The identity columns every extract starts with: the match keys and the checks of art. 3.
const EXTRACT_IDENTITY: [&str; 4] = ["nir", "former_nirs", "birth_year", "sex"];

/// The extract file of a body: `extract-<body>.csv`.
pub fn extract_file_name(body_code: &str) -> String {
    format!("extract-{body_code}.csv")
}

/// The selection's header: the identification fields of art. 2, 1°, then the categories the
/// requester holds by default, in catalogue order.
pub fn selection_columns(requester: &str) -> Vec<&'static str> {
    let identity = catalogue::IDENTITY_FIELDS.iter().map(|f| f.code);
    identity.chain(held_categories(requester).map(|i| i.code)).collect()
}

/// An extract's header: `nir, former_nirs, birth_year, sex`, then the categories the body holds
/// by default, in catalogue order.
pub fn extract_columns(body_code: &str) -> Vec<&'static str> {
    EXTRACT_IDENTITY.into_iter().chain(held_categories(body_code).map(|i| i.code)).collect()
}

fn held_categories(body_code: &str) -> impl Iterator<Item = &'static catalogue::CategoryInfo> + '_ {
    catalogue::CATEGORIES.iter().filter(move |i| i.default_holders.contains(&body_code))
}

/// A CSV file written row by row: RFC 4180 quoting (only fields with a separator, a quote or a
/// line break are quoted), `\n` line ends, through one reused row buffer. Simpler and about twice
/// as fast here as a general CSV writer, which matters at a million persons.
struct CsvFile {
    path: PathBuf,
    out: BufWriter<File>,
    row: String,
    fields: usize,
}

impl CsvFile {
    fn create(path: PathBuf, header: &[&str]) -> Result<Self, SynthError> {
        let file = File::create(&path).map_err(|source| SynthError::Write { path: path.clone(), source })?;
        let out = BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut file = CsvFile { path, out, row: String::with_capacity(512), fields: 0 };
        for column in header {
            file.field(column);
        }
        file.end()?;
        Ok(file)
    }

    fn separate(&mut self) {
        if self.fields > 0 {
            self.row.push(',');
        }
        self.fields += 1;
    }

    fn field(&mut self, text: &str) {
        self.separate();
        if text.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
            self.row.push('"');
            for c in text.chars() {
                if c == '"' {
                    self.row.push('"');
                }
                self.row.push(c);
            }
            self.row.push('"');
        } else {
            self.row.push_str(text);
        }
    }

    fn number(&mut self, n: impl std::fmt::Display) {
        self.separate();
        write!(self.row, "{n}").expect("writing to a String");
    }

    /// A category value in its canonical text form (never needs quoting), empty when unknown.
    fn value(&mut self, value: Option<&Value>) {
        self.separate();
        if let Some(v) = value {
            push_value(&mut self.row, v);
        }
    }

    fn end(&mut self) -> Result<(), SynthError> {
        self.row.push('\n');
        let written = self.out.write_all(self.row.as_bytes());
        self.row.clear();
        self.fields = 0;
        written.map_err(|source| SynthError::Write { path: self.path.clone(), source })
    }

    fn finish(mut self) -> Result<(), SynthError> {
        self.out.flush().map_err(|source| SynthError::Write { path: self.path.clone(), source })
    }
}

/// Appends the canonical form of a value, as [`value::format`] writes it (a test checks they
/// agree), without allocating; an empty list of stays is `none`, since an empty cell would read
/// as *unknown*.
fn push_value(row: &mut String, v: &Value) {
    let date = |row: &mut String, d: &v1::Date| {
        write!(row, "{:04}-{:02}-{:02}", d.year, d.month, d.day).expect("writing to a String");
    };
    match v {
        Value::Bool(b) => row.push_str(if *b { "true" } else { "false" }),
        Value::Count(n) => write!(row, "{n}").expect("writing to a String"),
        Value::Date(d) => date(row, d),
        Value::Amount(cents) => {
            let sign = if *cents < 0 { "-" } else { "" };
            let abs = cents.unsigned_abs();
            write!(row, "{sign}{}.{:02}", abs / 100, abs % 100).expect("writing to a String");
        }
        Value::FamilySituation(s) => row.push_str(value::family_situation_code(*s)),
        Value::HospitalStays(stays) if stays.is_empty() => row.push_str("none"),
        Value::HospitalStays(stays) => {
            for (i, stay) in stays.iter().enumerate() {
                if i > 0 {
                    row.push('|');
                }
                if let Some(d) = &stay.admission {
                    date(row, d);
                }
                let mode = TreatmentMode::try_from(stay.mode).map_or("unspecified", value::treatment_mode_code);
                write!(row, "/{}/{mode}", stay.length_days).expect("writing to a String");
            }
        }
    }
}

pub(crate) fn write_population(
    options: &SynthOptions,
    requester: &'static str,
    residences: &Residences,
    out: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<Manifest, SynthError> {
    std::fs::create_dir_all(out).map_err(|source| SynthError::Write { path: out.to_owned(), source })?;
    // A manifest left by an earlier run must not vouch for files this run may not finish.
    let manifest_path = out.join(MANIFEST_FILE);
    match std::fs::remove_file(&manifest_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(SynthError::Write { path: manifest_path, source: e });
        }
        _ => {}
    }

    let selection_categories: Vec<_> = held_categories(requester).collect();
    let mut records: Vec<Vec<Option<Value>>> = body::ALL.iter().map(|_| Vec::new()).collect();
    let mut selection = CsvFile::create(out.join(SELECTION_FILE), &selection_columns(requester))?;
    let body_categories: Vec<Vec<_>> = body::ALL.iter().map(|b| held_categories(b).collect()).collect();
    let mut extracts = body::ALL
        .iter()
        .map(|b| CsvFile::create(out.join(extract_file_name(b)), &extract_columns(b)))
        .collect::<Result<Vec<_>, _>>()?;
    let requester_index = body::ALL.iter().position(|b| *b == requester).expect("a checked body");

    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut model = match options.as_of {
        Some(day) => Model::as_of_day(options.reference_year, day, &mut rng),
        None => Model::new(options.reference_year, &mut rng),
    };
    let mut counts: Vec<BodyCounts> =
        body::ALL.iter().map(|b| BodyCounts { file: extract_file_name(b), ..BodyCounts::default() }).collect();
    let mut per_observatory = vec![0u64; residences.observatories.len()];
    let (mut with_former, mut provisional, mut nobody) = (0, 0, 0);

    for done in 0..options.persons {
        let person = model.person(&mut rng, residences)?;
        for (b, record) in records.iter_mut().enumerate() {
            record.clear();
            if person.known[b].is_some() {
                model::body_record(&mut rng, &person, body::ALL[b], &body_categories[b], record);
            }
        }
        let situation = person.facts.family_situation.and_then(|s| FamilySituation::try_from(s).ok());
        let id = identity::draw(&mut rng, person.sex, situation);
        let residence = &residences.communes[person.residence];
        per_observatory[residence.observatory] += 1;
        with_former += u64::from(person.former_nir.is_some());
        provisional += u64::from(matches!(person.nir.as_bytes()[0], b'7' | b'8'));
        nobody += u64::from(person.known.iter().all(Option::is_none));

        // The selection: every person, with what the requester knows in its own domain.
        let s = &mut selection;
        s.field(&person.nir);
        s.field(person.former_nir.as_deref().unwrap_or(""));
        s.field(id.family_name);
        s.field(id.usage_name);
        s.field(&id.given_names);
        s.field(value::sex_code(person.sex));
        s.number(person.birth_year);
        s.field(&residence.code);
        s.field(&id.postal_address);
        s.field(&id.email);
        s.field(&id.phone);
        // The requester's own record, when it knows the person; empty cells otherwise.
        let own = &records[requester_index];
        for i in 0..selection_categories.len() {
            s.value(own.get(i).and_then(Option::as_ref));
        }
        s.end()?;

        // One row per body that knows the person.
        for (b, (file, count)) in extracts.iter_mut().zip(&mut counts).enumerate() {
            let Some(known) = person.known[b] else { continue };
            let (nir, former) = match (known.key, person.former_nir.as_deref()) {
                (KeyForm::FormerOnly, Some(former)) => (former, ""),
                (KeyForm::CurrentAndFormer, Some(former)) => (person.nir.as_str(), former),
                _ => (person.nir.as_str(), ""),
            };
            count.persons_known += 1;
            count.known_by_former_nir_only += u64::from(nir != person.nir);
            count.birth_year_mismatches += u64::from(known.birth_year.is_some_and(|y| y != person.birth_year));
            count.without_birth_year += u64::from(known.birth_year.is_none());
            count.without_sex += u64::from(known.sex.is_none());
            file.field(nir);
            file.field(former);
            match known.birth_year {
                Some(year) => file.number(year),
                None => file.field(""),
            }
            file.field(known.sex.map_or("", value::sex_code));
            for value in &records[b] {
                file.value(value.as_ref());
            }
            file.end()?;
        }

        if (done + 1) % PROGRESS_STEP == 0 {
            progress(done + 1);
        }
    }

    selection.finish()?;
    for file in extracts {
        file.finish()?;
    }
    progress(options.persons);

    let mut files = std::collections::BTreeMap::new();
    files.insert(SELECTION_FILE.to_owned(), options.persons);
    for count in &counts {
        files.insert(count.file.clone(), count.persons_known);
    }
    let manifest = Manifest {
        seed: options.seed,
        persons: options.persons,
        territory: options.territory.to_string(),
        reference_year: options.reference_year,
        as_of: model.as_of().format("%Y-%m-%d").to_string(),
        requester: requester.to_owned(),
        files,
        bodies: body::ALL.iter().map(|b| b.to_string()).zip(counts).collect(),
        observatories: residences.observatories.iter().cloned().zip(per_observatory).filter(|(_, n)| *n > 0).collect(),
        persons_with_former_nir: with_former,
        provisional_nirs: provisional,
        known_to_nobody: nobody,
    };
    manifest.write(out)?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use passerelle_protocol::catalogue::ValueType;
    use passerelle_protocol::v1::HospitalStay;

    #[test]
    fn values_are_written_as_the_value_module_formats_them() {
        let date = v1::Date { year: 2024, month: 3, day: 9 };
        let stay =
            |days, mode: TreatmentMode| HospitalStay { admission: Some(date), length_days: days, mode: mode as i32 };
        let samples = [
            (ValueType::Bool, Value::Bool(true)),
            (ValueType::Bool, Value::Bool(false)),
            (ValueType::Count, Value::Count(172)),
            (ValueType::Date, Value::Date(date)),
            (ValueType::Amount, Value::Amount(1_234_507)),
            (ValueType::Amount, Value::Amount(-7)),
            (ValueType::Amount, Value::Amount(0)),
            (ValueType::FamilySituation, Value::FamilySituation(FamilySituation::CivilPartnership)),
            (ValueType::HospitalStays, Value::HospitalStays(vec![stay(0, TreatmentMode::Ambulatory)])),
            (
                ValueType::HospitalStays,
                Value::HospitalStays(vec![stay(12, TreatmentMode::Full), stay(30, TreatmentMode::Rehabilitation)]),
            ),
        ];
        for (value_type, v) in samples {
            let mut row = String::new();
            push_value(&mut row, &v);
            assert_eq!(row, value::format(&v));
            assert_eq!(value::parse(value_type, &row).unwrap(), Some(v));
        }
        let mut row = String::new();
        push_value(&mut row, &Value::HospitalStays(vec![]));
        assert_eq!(row, "none");
        assert_eq!(value::parse(ValueType::HospitalStays, &row).unwrap(), Some(Value::HospitalStays(vec![])));
    }

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let mut file = CsvFile::create(path.clone(), &["a", "b", "c"]).unwrap();
        file.field("12 rue de l'Exemple");
        file.field("Résidence, bât. A");
        file.field("dit \"le grand\"");
        file.end().unwrap();
        file.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "a,b,c\n12 rue de l'Exemple,\"Résidence, bât. A\",\"dit \"\"le grand\"\"\"\n");
        let mut reader = csv::Reader::from_path(&path).unwrap();
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!(&record[2], "dit \"le grand\"");
    }
}
