//! The result files: the ranked contact list (CSV and JSON Lines), joined back locally with the
//! names and contact details the selection gave, and a case-level summary (`*.summary.json`).
//!
//! **CSV columns**, in this order (same separator and encoding as the selection):
//!
//! 1. the selection's own columns, in file order, values in canonical form (NIR without spaces,
//!    sex `M`/`F`, values as in README "Value syntax") — except a column named like a requested
//!    category, which moves to 2.;
//! 2. for each requested category, in catalogue order: `<category>` (the consolidated value,
//!    empty when unknown) and `<category>__source` (see [`crate::consolidate`]: the bodies it came
//!    from, `|`-separated; `!` then the bodies that disagreed; `selection` when only the
//!    selection knew it);
//! 3. for each solicited body (of any case of the submission): `status__<body>` — `found`,
//!    `not_found`, `missing` (the body's response left the person out: « réponse incomplète de
//!    l'organisme », a violation by the body, not "not found") or `no_answer` (no answer before
//!    the deadline);
//! 4. `score` and `rank` (see [`crate::ranking`]). Rows are in rank order.
//!
//! Persons the observatory refused are not in the list: the summary names their selection line
//! and the reasons. So are the categories each body declined, with the reason, and each case's
//! completeness.
//!
//! **JSON Lines**: one object per person, in rank order:
//! `{"rank":1,"score":5,"line":12,"case_id":"…","observatory":"…","selection":{column: text…},
//! "categories":{code:{"value":…,"sources":[…],"dissent":[{"body":…,"value":…}]}},
//! "status":{body: status}}`. Booleans and counts are JSON booleans and numbers, other values
//! their canonical text.
//!
//! **Spreadsheet safety**: a CSV cell that a spreadsheet would execute — one starting with `=`,
//! `+`, `-`, `@`, a tab or a carriage return — is prefixed with a single quote (OWASP's advice),
//! including phone numbers such as `+33 …` and negative amounts. JSON Lines is not neutralised.
//!
//! **The summary** holds no NIR, name or contact: refused persons are named by their selection
//! line.
//!
//! **Whole or absent**: every file is written as `<name>.partial`, synced, and renamed to its
//! name only once all of them are whole, the summary last ([`staged`]): the summary's presence
//! says the lists beside it are complete.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use passerelle_protocol::catalogue::body;
use passerelle_protocol::v1::{self, Category};
use passerelle_protocol::value::{self, Value};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use uuid::Uuid;

mod person;
mod staged;
mod summary;
mod worklist;

pub use person::{person_in_case, PersonLookup};
pub use worklist::{case_ranking, cell, consolidated_values, ListedPerson};

pub use staged::partial_path;
use staged::Staged;

pub use summary::{
    render_case, render_summary, rfc3339, BodySummary, CaseSummary, DeclineSummary, RefusedPerson, SelectionCounts,
    Summary,
};

use crate::consolidate::{self, Merged};
use crate::ranking::{self, format_score, Ranked, Scorer};
use crate::store::{CaseRecord, CaseState, PersonRow, Store, StoreError, SubmissionRecord};

/// A failure writing result files.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the selection's encoding `{0}` is unknown")]
    Encoding(String),
}

/// Which files to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputPaths {
    pub csv: Option<PathBuf>,
    pub jsonl: Option<PathBuf>,
    pub summary: PathBuf,
}

impl OutputPaths {
    /// From `--out FILE`: `.csv` writes CSV only, `.jsonl` (or `.ndjson`) JSON Lines only, any
    /// other name both (`FILE.csv` and `FILE.jsonl`). The summary is `<stem>.summary.json` beside.
    pub fn for_out(out: &Path) -> OutputPaths {
        let ext = out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let (csv, jsonl, stem) = match ext.as_deref() {
            Some("csv") => (Some(out.to_owned()), None, out.with_extension("")),
            Some("jsonl") | Some("ndjson") => (None, Some(out.to_owned()), out.with_extension("")),
            _ => (Some(append_ext(out, "csv")), Some(append_ext(out, "jsonl")), out.to_owned()),
        };
        OutputPaths { csv, jsonl, summary: append_ext(&stem, "summary.json") }
    }

    /// The default: `<out_dir>/<name>.csv`, `.jsonl` and `.summary.json`.
    pub fn in_dir(dir: &Path, name: &str) -> OutputPaths {
        OutputPaths::for_out(&dir.join(name))
    }

    /// Every file, in a stable order.
    pub fn files(&self) -> Vec<PathBuf> {
        self.csv.iter().chain(self.jsonl.iter()).cloned().chain([self.summary.clone()]).collect()
    }
}

fn append_ext(path: &Path, ext: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Prefixes a cell a spreadsheet would execute with a single quote.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// The column plan of a submission's result.
#[derive(Debug, Clone)]
struct Plan {
    /// Indexes of the selection's cells kept in the head block, with their names.
    head: Vec<(usize, String)>,
    wanted: Vec<Category>,
    /// Solicited bodies, in the catalogue's body order then alphabetical.
    bodies: Vec<String>,
}

impl Plan {
    fn new(submission: &SubmissionRecord, cases: &[CaseRecord]) -> Plan {
        let wanted_codes: Vec<&str> = submission.wanted.iter().map(|c| c.code()).collect();
        let head = submission
            .columns
            .iter()
            .enumerate()
            .filter(|(_, name)| !wanted_codes.contains(&name.as_str()))
            .map(|(i, name)| (i, name.clone()))
            .collect();
        let mut bodies: Vec<String> = cases.iter().flat_map(|c| c.bodies.iter().map(|b| b.body.clone())).collect();
        bodies.sort_by_key(|b| (body::ALL.iter().position(|x| x == b).unwrap_or(usize::MAX), b.clone()));
        bodies.dedup();
        Plan { head, wanted: submission.wanted.clone(), bodies }
    }

    fn header(&self) -> Vec<String> {
        let mut h: Vec<String> = self.head.iter().map(|(_, n)| n.clone()).collect();
        for c in &self.wanted {
            h.push(c.code().to_owned());
            h.push(format!("{}__source", c.code()));
        }
        for b in &self.bodies {
            h.push(format!("status__{b}"));
        }
        h.push("score".into());
        h.push("rank".into());
        h
    }
}

/// One person's consolidated row.
struct Row {
    merged: Vec<Merged>,
    statuses: Vec<&'static str>,
}

fn consolidate_person(plan: &Plan, person: &PersonRow, case_bodies: &[String]) -> Row {
    let answers: &[v1::BodyAnswer] = person.answers.as_ref().map_or(&[], |a| a.answers.as_slice());
    let merged = plan.wanted.iter().map(|&c| consolidate::merge(c, answers, Some(&person.known))).collect();
    let statuses = plan
        .bodies
        .iter()
        .map(|b| if case_bodies.contains(b) { consolidate::status_text(answers, b) } else { "" })
        .collect();
    Row { merged, statuses }
}

/// The value of every category for scoring: the consolidated one when requested, else the
/// selection's own.
fn score_of(scorer: &Scorer, row: &Row, known: &v1::CategoryValues) -> f64 {
    scorer.score(|c| match row.merged.iter().find(|m| m.category == c) {
        Some(m) => m.value.clone(),
        None => known.get(c),
    })
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub files: Vec<PathBuf>,
    /// Persons in the contact list.
    pub persons: u64,
    /// Persons the observatory refused (not in the list; in the summary).
    pub refused: u64,
}

/// Writes the consolidated, ranked result of `cases` (all of one submission) and its summary.
pub fn write_result(
    store: &Store,
    scorer: &Scorer,
    submission: &SubmissionRecord,
    cases: &[CaseRecord],
    paths: &OutputPaths,
) -> Result<Written, ExportError> {
    let plan = Plan::new(submission, cases);
    let case_ids: Vec<Uuid> = cases.iter().map(|c| c.id).collect();
    let case_bodies = |id: Uuid| -> Vec<String> {
        cases.iter().find(|c| c.id == id).map(|c| c.bodies.iter().map(|b| b.body.clone()).collect()).unwrap_or_default()
    };
    // Persons of a case refused as a whole are not in the list either.
    let refused_cases: Vec<Uuid> = cases.iter().filter(|c| c.state == CaseState::Refused).map(|c| c.id).collect();
    // Pass 1: score everyone (no cells in memory), then rank.
    let mut people = Vec::new();
    let mut refused = 0u64;
    store.for_each_person(&case_ids, |p| {
        if p.refusal.is_some() || refused_cases.contains(&p.case_id) {
            refused += 1;
            return Ok(());
        }
        let row = consolidate_person(&plan, &p, &case_bodies(p.case_id));
        let score = score_of(scorer, &row, &p.known);
        people.push(Ranked { score, tie_key: ranking::tie_key(&p.nir), item: p.id });
        Ok(())
    })?;
    let ranked = ranking::rank(people);

    let encoding = encoding_of(&submission.encoding)?;
    // Every file under its temporary name first; renamed only once all are whole, the summary
    // last: a crash leaves no partial file under a final name ([`staged`]).
    let mut csv_out = match &paths.csv {
        Some(path) => {
            let (file, w) = Staged::create(path)?;
            Some((CsvOut::new(w, submission.separator, encoding), file))
        }
        None => None,
    };
    let mut jsonl_out = match &paths.jsonl {
        Some(path) => {
            let (file, w) = Staged::create(path)?;
            Some((w, file))
        }
        None => None,
    };
    let staged: Vec<PathBuf> =
        csv_out.iter().map(|(_, f)| f.work.clone()).chain(jsonl_out.iter().map(|(_, f)| f.work.clone())).collect();
    let abandon = |e: ExportError| {
        for work in &staged {
            let _ = std::fs::remove_file(work);
        }
        e
    };
    if let Some((w, file)) = &mut csv_out {
        w.record(&plan.header()).map_err(|source| abandon(io_err(&file.work, source)))?;
    }
    let observatory = |id: Uuid| cases.iter().find(|c| c.id == id).map_or("", |c| c.observatory.as_str());
    let mut persons = 0u64;
    for (i, r) in ranked.iter().enumerate() {
        let p = store.person(r.item).map_err(|e| abandon(e.into()))?;
        persons += 1;
        let rank = i as u64 + 1;
        let row = consolidate_person(&plan, &p, &case_bodies(p.case_id));
        if let Some((w, file)) = &mut csv_out {
            let cells = csv_cells(&plan, &p, &row, r.score, rank);
            w.record(&cells).map_err(|source| abandon(io_err(&file.work, source)))?;
        }
        if let Some((w, file)) = &mut jsonl_out {
            let line = JsonPerson {
                plan: &plan,
                person: &p,
                row: &row,
                score: r.score,
                rank,
                observatory: observatory(p.case_id),
            };
            serde_json::to_writer(&mut *w, &line).map_err(|e| abandon(io_err(&file.work, e.into())))?;
            w.write_all(b"\n").map_err(|source| abandon(io_err(&file.work, source)))?;
        }
        if i == 0 {
            passerelle_hooks::fault_point("requester.while_writing_results");
        }
    }
    let mut whole = Vec::new();
    if let Some((w, file)) = csv_out {
        file.sync(w.file).map_err(abandon)?;
        whole.push(file);
    }
    if let Some((w, file)) = jsonl_out {
        file.sync(w).map_err(abandon)?;
        whole.push(file);
    }
    let summary = Summary::build(store, submission, cases, persons, paths).map_err(|e| abandon(e.into()))?;
    let (summary_file, mut w) = Staged::create(&paths.summary).map_err(abandon)?;
    let summary_written = serde_json::to_writer_pretty(&mut w, &summary)
        .map_err(io::Error::from)
        .and_then(|()| w.write_all(b"\n"))
        .map_err(|source| io_err(&summary_file.work, source))
        .and_then(|()| summary_file.sync(w));
    if let Err(e) = summary_written {
        summary_file.abandon();
        return Err(abandon(e));
    }
    for file in whole {
        file.install()?;
    }
    summary_file.install()?;
    Ok(Written { files: paths.files(), persons, refused })
}

fn io_err(path: &Path, source: io::Error) -> ExportError {
    ExportError::Io { path: path.to_owned(), source }
}

fn encoding_of(name: &str) -> Result<&'static encoding_rs::Encoding, ExportError> {
    name.parse::<passerelle_selection::Encoding>()
        .map(|e| e.encoding_rs())
        .map_err(|_| ExportError::Encoding(name.to_owned()))
}

fn csv_cells(plan: &Plan, p: &PersonRow, row: &Row, score: f64, rank: u64) -> Vec<String> {
    let mut cells = Vec::with_capacity(plan.head.len() + 2 * row.merged.len() + row.statuses.len() + 2);
    for (i, _) in &plan.head {
        cells.push(neutralise(p.cells.get(*i).map_or("", String::as_str)).into_owned());
    }
    for m in &row.merged {
        cells.push(neutralise(&m.value.as_ref().map(value::format).unwrap_or_default()).into_owned());
        cells.push(m.source_text());
    }
    for s in &row.statuses {
        cells.push((*s).to_owned());
    }
    cells.push(format_score(score));
    cells.push(rank.to_string());
    cells
}

/// A CSV file in the selection's separator and encoding.
struct CsvOut {
    builder: csv::WriterBuilder,
    file: BufWriter<File>,
    encoding: &'static encoding_rs::Encoding,
}

impl CsvOut {
    fn new(file: BufWriter<File>, separator: u8, encoding: &'static encoding_rs::Encoding) -> CsvOut {
        let mut builder = csv::WriterBuilder::new();
        builder.delimiter(separator).terminator(csv::Terminator::CRLF);
        CsvOut { builder, file, encoding }
    }

    /// Writes one record, re-encoded when the selection was not UTF-8 (a character
    /// Windows-1252 lacks becomes a numeric character reference, `&#287;`).
    fn record(&mut self, cells: &[String]) -> io::Result<()> {
        let mut csv = self.builder.from_writer(Vec::new());
        csv.write_record(cells).map_err(io::Error::other)?;
        let bytes = csv.into_inner().map_err(|e| io::Error::other(e.to_string()))?;
        if self.encoding == encoding_rs::UTF_8 {
            self.file.write_all(&bytes)
        } else {
            let text = String::from_utf8(bytes).map_err(io::Error::other)?;
            let (encoded, _, _) = self.encoding.encode(&text);
            self.file.write_all(&encoded)
        }
    }
}

/// A value as JSON: booleans and counts typed, the rest canonical text.
fn json_value(v: &Value) -> serde_json::Value {
    match v {
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Count(n) => serde_json::Value::from(*n),
        other => serde_json::Value::String(value::format(other)),
    }
}

struct JsonPerson<'a> {
    plan: &'a Plan,
    person: &'a PersonRow,
    row: &'a Row,
    score: f64,
    rank: u64,
    observatory: &'a str,
}

impl Serialize for JsonPerson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(8))?;
        m.serialize_entry("rank", &self.rank)?;
        m.serialize_entry(
            "score",
            &serde_json::Number::from_f64(self.score).map_or(serde_json::Value::Null, Into::into),
        )?;
        m.serialize_entry("line", &self.person.line)?;
        m.serialize_entry("case_id", &self.person.case_id.to_string())?;
        m.serialize_entry("observatory", self.observatory)?;
        m.serialize_entry(
            "selection",
            &Ordered(
                self.plan
                    .head
                    .iter()
                    .map(|(i, name)| (name.as_str(), self.person.cells.get(*i).map_or("", String::as_str)))
                    .collect(),
            ),
        )?;
        let categories: Vec<(&str, serde_json::Value)> = self
            .row
            .merged
            .iter()
            .map(|mg| {
                let dissent: Vec<serde_json::Value> =
                    mg.dissent.iter().map(|(b, v)| serde_json::json!({"body": b, "value": json_value(v)})).collect();
                (
                    mg.category.code(),
                    serde_json::json!({
                        "value": mg.value.as_ref().map_or(serde_json::Value::Null, json_value),
                        "sources": mg.sources,
                        "dissent": dissent,
                    }),
                )
            })
            .collect();
        m.serialize_entry("categories", &Ordered(categories))?;
        m.serialize_entry(
            "status",
            &Ordered(
                self.plan
                    .bodies
                    .iter()
                    .zip(&self.row.statuses)
                    .filter(|(_, s)| !s.is_empty())
                    .map(|(b, s)| (b.as_str(), *s))
                    .collect(),
            ),
        )?;
        m.end()
    }
}

/// A JSON object whose keys keep the given order.
struct Ordered<K, V>(Vec<(K, V)>);

impl<K: Serialize, V: Serialize> Serialize for Ordered<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_extension_picks_the_formats() {
        let p = OutputPaths::for_out(Path::new("/r/list.csv"));
        assert_eq!((p.csv.as_deref(), p.jsonl.as_deref()), (Some(Path::new("/r/list.csv")), None));
        assert_eq!(p.summary, Path::new("/r/list.summary.json"));
        let p = OutputPaths::for_out(Path::new("/r/list.jsonl"));
        assert_eq!((p.csv, p.jsonl.as_deref()), (None, Some(Path::new("/r/list.jsonl"))));
        let p = OutputPaths::for_out(Path::new("/r/list"));
        assert_eq!(
            p.files(),
            vec![PathBuf::from("/r/list.csv"), "/r/list.jsonl".into(), "/r/list.summary.json".into()]
        );
    }

    #[test]
    fn formula_cells_are_neutralised() {
        for bad in ["=1+1", "+33 6 12", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(neutralise(bad).starts_with('\''), "{bad:?}");
        }
        for ok in ["Dupont", "", "1984", "'quoted"] {
            assert_eq!(neutralise(ok), ok);
        }
    }
}
