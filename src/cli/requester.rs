//! `passerelle requester …`: the requesting body's side of the exchange.
//!
//! `requester check` validates a selection file record by record, with the same rules
//! `requester submit` applies before anything leaves the requester.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use passerelle_protocol::calendar::LegalCalendar;
use passerelle_protocol::catalogue::body;
use passerelle_protocol::commune::CommuneTable;
use passerelle_protocol::territory::Territories;
use passerelle_selection::{
    Checked, Encoding, ReportFormat, ReportWriter, SelectionReader, SelectionRules, UnusableFile,
};

use crate::exit::{CliResult, Failure, Outcome};

/// The read buffer of a selection file: large enough that a million-record file is read in a
/// few thousand system calls.
const READ_BUFFER_BYTES: usize = 256 * 1024;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check a selection file: report every rejected record with its line number and reason.
    ///
    /// Every record is checked against the decree's rules; nothing is sent anywhere. Valid
    /// records are counted, rejected ones reported with every problem they have.
    #[command(after_long_help = CHECK_HELP)]
    Check(CheckArgs),
    /// Submit a selection through the requester daemon: one case per competent observatory; wait,
    /// and write the ranked result here.
    #[command(after_long_help = super::requester_cases::SUBMIT_HELP)]
    Submit(super::requester_cases::SubmitArgs),
    /// The daemon: receive results and refusals of earlier cases, write them, purge at 24 months.
    #[command(after_long_help = super::requester_cases::RUN_HELP)]
    Run(super::requester_cases::ConfigArgs),
    /// List the daemon's cases, their state, and the observatory's refusals with their reasons.
    Status(super::requester_cases::StatusArgs),
    /// Get a case's result from the daemon and write it here, mode 0600.
    Fetch(super::requester_cases::FetchArgs),
    /// Look one person up in a case's contact list: their row (names, contact details, rank,
    /// answers), the lookup recorded in the daemon's access log.
    #[command(after_long_help = super::requester_person::PERSON_HELP)]
    Person(super::requester_person::PersonArgs),
    /// Have the daemon purge now every case whose retention (24 months at most) has ended; say
    /// what went.
    Purge(super::requester_cases::PurgeArgs),
}

/// The long help of `requester check`: the file format and the exit codes.
const CHECK_HELP: &str = "\
The selection file:
  CSV with a header row; columns are matched by name, in any order (case and surrounding spaces
  do not matter). The separator, `,` or `;`, is detected from the header line. Quoted fields
  (\"...\") may contain separators, line breaks and doubled quotes (\"\").

  Required, non-empty: nir, family_name, given_names, sex, birth_year, commune_code.
  Optional: usage_name, former_nirs (|-separated), postal_address, email, phone, and one column
  per category you already know, named by its code (e.g. long_term_condition, rsa); an empty
  category cell means unknown. Value syntax: README, \"Value syntax\".

A record is rejected for: a bad NIR (format or key) or former NIR; an age under 55 on the
reference date — today (Europe/Paris), or 31 December of --year — where a person counts as 55
from the last day of the birth month the NIR gives (positions 4-5: 01-12, or 31-42 minus 30) in
birth_year + 55, and from 31 December when the NIR gives no month (fictitious 20-30, 50-99); an
unknown or malformed commune code, or a commune no observatory is competent for; a value of the
wrong type; a hospital_stays_12m stay admitted more than twelve months before the reference
date; with --body, a known risk factor of a category that branch does not hold (decree art. 3:
\"dans son domaine de compétence\"); a missing required value; a NIR already seen on an earlier
valid record; the wrong number of fields; a NUL byte or a byte undefined in Windows-1252.
The whole file is unusable, and the check stops there, for: a header with a missing, unknown or
duplicate column; bytes that are not UTF-8 in a file read as UTF-8 (said once: a French
spreadsheet export is Windows-1252, so run again with --encoding windows-1252); a record not
ended after 64 MiB (a quote left open, binary data, an endless input); 1,000 records in a row
holding nothing but separators, blanks or NUL bytes. More than 10 problems in one record (or in
the header row) are counted in a last line, \"... and N more\".

Report: one line per problem on stderr (`line N, field: reason`), where N is the line on which
the record starts (the header is line 1). With --json, on stdout instead, one JSON object per
problem, {\"line\": N, \"field\": \"nir\" or null, \"reason\": \"...\"}, then last
{\"summary\": {\"lines\": R, \"valid\": V, \"rejected\": X}}, each object with
\"format\": \"passerelle.report/1\" (docs/JSON.md). Reasons never contain a NIR or a name.

Example:
  passerelle requester check selection.csv --body cnaf --year 2027 --encoding windows-1252 --json";

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The selection file: CSV with a header row (`--help` describes the columns).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Check at 31 December of YYYY instead of today (Europe/Paris): who will be 55 by the end
    /// of that year, and hospital stays within the twelve months before that day. `submit` has
    /// no such option: it always checks on the day of submission.
    #[arg(long, value_name = "YYYY", value_parser = clap::value_parser!(u32).range(1900..=2999))]
    pub year: Option<u32>,

    /// The requester's branch (cnam, cnav, cnaf or msa): known risk factors of categories the
    /// branch does not hold are rejected, as `submit` rejects them. Default: not checked.
    #[arg(long, value_name = "BRANCH", value_parser = clap::builder::PossibleValuesParser::new(body::ALL))]
    pub body: Option<String>,

    /// The file's encoding: UTF-8 (with or without a byte-order mark) or Windows-1252 (what
    /// French spreadsheet software writes for "CSV (séparateur : point-virgule)").
    #[arg(long, value_enum, value_name = "ENCODING", default_value_t = EncodingArg::Utf8)]
    pub encoding: EncodingArg,

    /// Write the report as JSON Lines on stdout instead of sentences on stderr.
    #[arg(long)]
    pub json: bool,
}

/// The `--encoding` values, shared by every subcommand that reads a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EncodingArg {
    /// UTF-8, with or without a byte-order mark.
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    /// Windows-1252 (cp1252), the "ANSI" code page of French Windows.
    #[value(name = "windows-1252", alias = "cp1252")]
    Windows1252,
}

impl From<EncodingArg> for Encoding {
    fn from(e: EncodingArg) -> Encoding {
        match e {
            EncodingArg::Utf8 => Encoding::Utf8,
            EncodingArg::Windows1252 => Encoding::Windows1252,
        }
    }
}

pub fn run(command: Command) -> CliResult {
    match command {
        Command::Check(args) => check(&args),
        Command::Submit(args) => super::requester_cases::submit(args),
        Command::Run(args) => super::requester_cases::run(args),
        Command::Status(args) => super::requester_cases::status(args),
        Command::Fetch(args) => super::requester_cases::fetch(args),
        Command::Person(args) => super::requester_person::person(args),
        Command::Purge(args) => super::requester_cases::purge(args),
    }
}

/// `requester check`: reads the whole selection once, reporting each rejected record as it goes
/// (nothing is kept but the set of NIRs seen), then the summary.
pub fn check(args: &CheckArgs) -> CliResult {
    let format = if args.json { ReportFormat::Json } else { ReportFormat::Human };
    let territories = Territories::default();
    let mut rules = match args.year {
        Some(year) => SelectionRules::new(year, CommuneTable::official(), &territories),
        None => SelectionRules::on(today(), CommuneTable::official(), &territories),
    };
    if let Some(branch) = &args.body {
        rules = rules.for_branch(branch);
    }
    let input = open(&args.file)?;
    // JSON goes to stdout for a program; sentences go to stderr, beside other diagnostics.
    let out: Box<dyn Write> = match format {
        ReportFormat::Json => Box::new(BufWriter::new(io::stdout().lock())),
        ReportFormat::Human => Box::new(BufWriter::new(io::stderr().lock())),
    };
    let mut report = ReportWriter::new(format, out);
    let unusable = |report: &mut ReportWriter<_>, unusable: UnusableFile| -> Failure {
        if let UnusableFile::Io(e) = unusable {
            return Failure::Runtime(
                anyhow!(e).context(format!("cannot read the selection file {}", args.file.display())),
            );
        }
        if let Err(e) = report.unusable(&unusable) {
            return Failure::Runtime(anyhow!(e).context("cannot write the report"));
        }
        Failure::Usage(anyhow!(unusable).context(format!("unusable selection file {}", args.file.display())))
    };
    let mut reader = match SelectionReader::new(input, args.encoding.into(), rules) {
        Ok(reader) => reader,
        Err(e) => return Err(unusable(&mut report, e)),
    };
    for verdict in &mut reader {
        match verdict {
            Ok(Checked::Valid(_)) => {}
            Ok(Checked::Rejected(rejection)) => report.rejection(&rejection).context("cannot write the report")?,
            Err(e) => return Err(unusable(&mut report, e)),
        }
    }
    let summary = reader.summary();
    report.summary(&summary).context("cannot write the report")?;
    Ok(if summary.rejected == 0 { Outcome::Success } else { Outcome::Rejections })
}

/// Opens an input file; failing to open it is a usage error (a wrong path, most often).
fn open(path: &Path) -> Result<BufReader<File>, Failure> {
    File::open(path)
        .map(|f| BufReader::with_capacity(READ_BUFFER_BYTES, f))
        .with_context(|| format!("cannot open {}", path.display()))
        .map_err(Failure::Usage)
}

/// Today in the legal time zone of metropolitan France, the default reference date of the age
/// rule (`check` reads no settings; `submit` uses the daemon's `trails.time_zone`).
fn today() -> chrono::NaiveDate {
    LegalCalendar::default().date_of(std::time::SystemTime::now())
}
