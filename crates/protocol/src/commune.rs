//! The official commune list (INSEE COG) and the shape of commune codes (art. 2, 1° e: "code
//! INSEE de la commune de résidence").
//!
//! A residence commune code is accepted when it is well formed (`domain-facts.md` §4, rule 2) and
//! listed in the commune list, whatever its kind: current communes, municipal arrondissements
//! (Paris, Lyon, Marseille), and delegated or associated communes, whose old codes are still in
//! the bodies' files. The list records each commune's département, which is what territorial
//! competence reads (see [`crate::territory`]): it is not always the code's prefix.
//!
//! The list ships in the crate (`data/communes.csv`, its source and year in `data/README.md`)
//! and is parsed once, on first use. [`CommuneTable::from_csv`] loads a newer list from a file.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The shipped list: `code,departement,type,population`, derived by `data/refresh-communes.sh`.
const OFFICIAL_CSV: &str = include_str!("../data/communes.csv");

/// Where the shipped list comes from (see `data/README.md`).
pub const OFFICIAL_SOURCE: &str = "INSEE Code officiel géographique 2026, as shipped by npm \
    @etalab/decoupage-administratif 6.0.0 (Licence Ouverte 2.0)";

/// The source named by a table loaded with [`CommuneTable::from_csv`] until
/// [`CommuneTable::with_source`] says better.
const CUSTOM_SOURCE: &str = "commune list loaded from a file";

/// How many characters of a rejected code an error repeats: enough to recognise it, not enough
/// to carry a whole line of something else into a report.
const SHOWN_CODE_MAX: usize = 12;

/// The kind of an entry of the commune list. Every kind is accepted as a residence commune.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommuneKind {
    /// A commune in force (`commune-actuelle`).
    Current,
    /// A municipal arrondissement of Paris, Lyon or Marseille (`arrondissement-municipal`).
    MunicipalArrondissement,
    /// A delegated commune of a *commune nouvelle* (`commune-deleguee`).
    Delegated,
    /// An associated commune of an older merger (`commune-associee`).
    Associated,
}

impl CommuneKind {
    /// The `type` value of the COG files for this kind.
    pub fn cog_type(self) -> &'static str {
        match self {
            CommuneKind::Current => "commune-actuelle",
            CommuneKind::MunicipalArrondissement => "arrondissement-municipal",
            CommuneKind::Delegated => "commune-deleguee",
            CommuneKind::Associated => "commune-associee",
        }
    }

    /// The kind of a COG `type` value, `None` if unknown.
    pub fn from_cog_type(text: &str) -> Option<CommuneKind> {
        [CommuneKind::Current, CommuneKind::MunicipalArrondissement, CommuneKind::Delegated, CommuneKind::Associated]
            .into_iter()
            .find(|kind| kind.cog_type() == text)
    }

    /// Which entry wins when two share a code (a commune nouvelle and its delegated commune):
    /// the lower rank.
    fn rank(self) -> u8 {
        match self {
            CommuneKind::Current => 0,
            CommuneKind::MunicipalArrondissement => 1,
            CommuneKind::Delegated => 2,
            CommuneKind::Associated => 3,
        }
    }
}

/// One entry of the commune list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commune {
    /// The INSEE code, 5 characters (`01001`, `2A004`, `97411`).
    pub code: String,
    /// The département the list records, which decides territorial competence. It usually is
    /// the code's prefix, but not always (a few associated communes belong to another one).
    pub departement: String,
    /// Current commune, municipal arrondissement, delegated or associated commune.
    pub kind: CommuneKind,
    /// The legal population, 0 where the list gives none (delegated and associated communes):
    /// used to weight synthetic populations.
    pub population: u32,
}

/// The commune list, indexed by code.
#[derive(Debug)]
pub struct CommuneTable {
    /// One entry per code, in the file's order (so iteration is deterministic).
    communes: Vec<Commune>,
    /// Code (packed by [`code_key`]) → index in `communes`.
    by_code: HashMap<u64, usize>,
    /// Where the list comes from, for reports and `--version`-like output.
    source: String,
}

impl CommuneTable {
    /// The list shipped in the crate, parsed on first use.
    pub fn official() -> &'static CommuneTable {
        static OFFICIAL: OnceLock<CommuneTable> = OnceLock::new();
        OFFICIAL.get_or_init(|| {
            CommuneTable::from_csv(OFFICIAL_CSV)
                .expect("the shipped commune list is valid (tested)")
                .with_source(OFFICIAL_SOURCE)
        })
    }

    /// Loads a commune list: CSV with a header row naming at least `code`, `departement` and
    /// `type`, and optionally `population`, in any order; other columns (`name`, `region`…) are
    /// ignored. This reads both the shipped format and the flattened reference format. The first
    /// bad row stops the load: a half-loaded list would wrongly reject residents.
    ///
    /// When a code appears twice, the current commune wins over a municipal arrondissement,
    /// which wins over a delegated commune, then an associated one; two entries of the same kind
    /// keep the first.
    pub fn from_csv(text: &str) -> Result<CommuneTable, CommuneTableError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // Without quotes, every comma separates fields: a plain split is several times faster
        // than a CSV reader, which keeps loading the shipped list well under its budget.
        if text.contains('"') {
            from_quoted_csv(text)
        } else {
            from_plain_csv(text)
        }
    }

    /// Names the table's source (a file path, a COG year), as [`CommuneTable::source`] reports.
    pub fn with_source(mut self, source: impl Into<String>) -> CommuneTable {
        self.source = source.into();
        self
    }

    /// Checks a residence commune code: [`CommuneError::Malformed`] if it cannot be a commune
    /// code, [`CommuneError::Unknown`] if it is well formed but not in the list. Surrounding
    /// whitespace is ignored and a lower-case `2a`/`2b` accepted.
    pub fn lookup(&self, code: &str) -> Result<&Commune, CommuneError> {
        let code = code.trim();
        if let Some(commune) = self.get(code) {
            return Ok(commune);
        }
        check_shape(code)?;
        let canonical = canonical(code);
        self.get(&canonical).ok_or(CommuneError::Unknown { code: canonical })
    }

    /// The entry of an exact code, without diagnosis.
    pub fn get(&self, code: &str) -> Option<&Commune> {
        self.by_code.get(&code_key(code)?).map(|&at| &self.communes[at])
    }

    /// Every entry, one per code, in the file's order (deterministic).
    pub fn iter(&self) -> impl Iterator<Item = &Commune> {
        self.communes.iter()
    }

    /// Where the list comes from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The number of codes.
    pub fn len(&self) -> usize {
        self.communes.len()
    }

    /// Whether the table has no code (never true for a loaded table).
    pub fn is_empty(&self) -> bool {
        self.communes.is_empty()
    }
}

/// Loads a list without any quote character, splitting lines on commas.
fn from_plain_csv(text: &str) -> Result<CommuneTable, CommuneTableError> {
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines.next().map(|(_, line)| line.split(',').collect()).unwrap_or_default();
    let mut builder = TableBuilder::new(&header, text.len())?;
    let mut fields: Vec<&str> = Vec::with_capacity(header.len());
    for (index, line) in lines {
        let line_number = index as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        fields.clear();
        fields.extend(line.split(','));
        if fields.len() != header.len() {
            return Err(CommuneTableError::Csv {
                line: line_number,
                message: format!("found {} fields, the header has {}", fields.len(), header.len()),
            });
        }
        builder.add(line_number, &fields)?;
    }
    builder.finish()
}

/// Loads a list that quotes some fields (names with commas), with a CSV reader.
fn from_quoted_csv(text: &str) -> Result<CommuneTable, CommuneTableError> {
    let csv_error =
        |e: csv::Error| CommuneTableError::Csv { line: e.position().map_or(1, |p| p.line()), message: e.to_string() };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let header = reader.headers().map_err(csv_error)?.clone();
    let header: Vec<&str> = header.iter().collect();
    let mut builder = TableBuilder::new(&header, text.len())?;
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, |p| p.line());
        let fields: Vec<&str> = record.iter().collect();
        builder.add(line, &fields)?;
    }
    builder.finish()
}

/// Accumulates the rows of a commune list.
struct TableBuilder {
    /// Column index of `code`, `departement`, `type` and (optional) `population`.
    code_at: usize,
    departement_at: usize,
    type_at: usize,
    population_at: Option<usize>,
    communes: Vec<Commune>,
    by_code: HashMap<u64, usize>,
}

impl TableBuilder {
    /// Finds the columns; `text_len` sizes the table (about 30 bytes a row).
    fn new(header: &[&str], text_len: usize) -> Result<TableBuilder, CommuneTableError> {
        let column = |name: &'static str| header.iter().position(|h| h.trim() == name);
        let required = |name: &'static str| column(name).ok_or(CommuneTableError::MissingColumn { column: name });
        Ok(TableBuilder {
            code_at: required("code")?,
            departement_at: required("departement")?,
            type_at: required("type")?,
            population_at: column("population"),
            communes: Vec::with_capacity(text_len / 30),
            by_code: HashMap::with_capacity(text_len / 30),
        })
    }

    /// Checks and adds one row; `line` is its physical line, for errors.
    fn add(&mut self, line: u64, fields: &[&str]) -> Result<(), CommuneTableError> {
        let row_error = |reason: String| CommuneTableError::Row { line, reason };
        let field = |at: usize| fields.get(at).copied().unwrap_or("").trim();

        let code = field(self.code_at);
        check_shape(code).map_err(|e| row_error(e.to_string()))?;
        let departement = field(self.departement_at);
        if departement.is_empty() {
            return Err(row_error(format!("commune {code} has no département")));
        }
        let kind = CommuneKind::from_cog_type(field(self.type_at)).ok_or_else(|| {
            row_error(format!(
                "unknown commune type `{}` (commune-actuelle, arrondissement-municipal, commune-deleguee or \
                 commune-associee)",
                shorten(field(self.type_at))
            ))
        })?;
        let population = match self.population_at.map(field) {
            None | Some("") => 0,
            Some(text) => text
                .parse::<u32>()
                .map_err(|_| row_error(format!("population `{}` is not a whole number", shorten(text))))?,
        };
        let key = code_key(code).expect("a well-formed code has 5 bytes");
        let commune = Commune { code: code.to_owned(), departement: departement.to_owned(), kind, population };
        match self.by_code.get(&key) {
            Some(&at) if self.communes[at].kind.rank() <= kind.rank() => {}
            Some(&at) => self.communes[at] = commune,
            None => {
                self.by_code.insert(key, self.communes.len());
                self.communes.push(commune);
            }
        }
        Ok(())
    }

    /// The table, or [`CommuneTableError::Empty`].
    fn finish(self) -> Result<CommuneTable, CommuneTableError> {
        if self.communes.is_empty() {
            return Err(CommuneTableError::Empty);
        }
        Ok(CommuneTable { communes: self.communes, by_code: self.by_code, source: CUSTOM_SOURCE.to_owned() })
    }
}

/// Checks the shape of a commune code, without looking it up (`domain-facts.md` §4, rule 2):
/// `(0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5])[0-9]{3}`, `97[1-8][0-9]{2}` (DOM, and the
/// collectivities 975, 977, 978) or `98[0-9]{3}` (other collectivities). `20xxx` is not a commune
/// code since Corsica was split in 1976. A lower-case `2a`/`2b` is accepted.
pub fn check_shape(code: &str) -> Result<(), CommuneError> {
    let malformed = |reason: String| CommuneError::Malformed { code: shorten(code), reason };
    let count = code.chars().count();
    if count != 5 {
        let hint = if count == 4 && code.bytes().all(|b| b.is_ascii_digit()) {
            " (a leading zero lost in a spreadsheet?)"
        } else {
            ""
        };
        return Err(malformed(format!("a commune code has 5 characters, found {count}{hint}")));
    }
    let b = code.as_bytes();
    let corsica = b[0] == b'2' && matches!(b[1], b'A' | b'B' | b'a' | b'b');
    if !corsica && !b[..2].iter().all(u8::is_ascii_digit) {
        return Err(malformed("the département part is neither digits nor 2A/2B".into()));
    }
    if !b[2..].iter().all(u8::is_ascii_digit) {
        return Err(malformed("the last three characters must be digits".into()));
    }
    match &code[..2] {
        "00" => Err(malformed("00 is not a département".into())),
        "20" => Err(malformed("20 is no longer a département since 1976 (Corsica is 2A or 2B)".into())),
        "96" => Err(malformed("96 is not a département".into())),
        "97" if matches!(b[2], b'0' | b'9') => {
            Err(malformed(format!("97{} is not a département (971-978)", b[2] as char)))
        }
        _ => Ok(()),
    }
}

/// A 5-byte code packed into an integer: the index key, so that loading allocates no key and
/// hashing is cheap. `None` for any other length (no commune has it).
fn code_key(code: &str) -> Option<u64> {
    match code.as_bytes() {
        &[a, b, c, d, e] => Some(u64::from_be_bytes([0, 0, 0, a, b, c, d, e])),
        _ => None,
    }
}

/// A well-formed code with `2a`/`2b` in upper case.
fn canonical(code: &str) -> String {
    code.to_ascii_uppercase()
}

/// At most [`SHOWN_CODE_MAX`] characters of a text, with `…` when cut.
fn shorten(text: &str) -> String {
    let mut shown: String = text.chars().take(SHOWN_CODE_MAX).collect();
    if text.chars().count() > SHOWN_CODE_MAX {
        shown.push('…');
    }
    shown
}

/// Why a residence commune code is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommuneError {
    /// The text cannot be a commune code (length, characters, département part).
    #[error("malformed commune code `{code}`: {reason}")]
    Malformed {
        /// The code as given (shortened).
        code: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A well-formed code that is not in the commune list (of any kind).
    #[error("the commune code {code} is not in the official commune list (COG)")]
    Unknown {
        /// The code.
        code: String,
    },
}

/// Why a commune list cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommuneTableError {
    /// The CSV itself is broken (e.g. an unterminated quote or a wrong number of fields).
    #[error("commune list, line {line}: {message}")]
    Csv {
        /// The physical line (1 is the header).
        line: u64,
        /// The CSV reader's message.
        message: String,
    },
    /// The header lacks a required column.
    #[error("the commune list has no `{column}` column (code, departement and type are required)")]
    MissingColumn {
        /// The missing column.
        column: &'static str,
    },
    /// A row with a bad value.
    #[error("commune list, line {line}: {reason}")]
    Row {
        /// The physical line (1 is the header).
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A header and no commune.
    #[error("the commune list has no commune")]
    Empty,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_list_loads_every_kind() {
        let table = CommuneTable::official();
        // 37,590 rows, of which 584 codes are both a current and a delegated commune.
        assert_eq!(table.len(), 37_590 - 584);
        assert!(table.source().contains("6.0.0"));
        let count = |kind| table.iter().filter(|c| c.kind == kind).count();
        assert_eq!(count(CommuneKind::Current), 34_969);
        assert_eq!(count(CommuneKind::MunicipalArrondissement), 45);
        assert_eq!(count(CommuneKind::Delegated), 2_105 - 584);
        assert_eq!(count(CommuneKind::Associated), 471);

        let ambronay = table.lookup("01007").unwrap();
        assert_eq!((ambronay.departement.as_str(), ambronay.kind), ("01", CommuneKind::Current));
        assert!(ambronay.population > 0);
        assert_eq!(table.lookup("75056").unwrap().kind, CommuneKind::Current);
        assert_eq!(table.lookup("75112").unwrap().kind, CommuneKind::MunicipalArrondissement);
        assert_eq!(table.lookup("69385").unwrap().kind, CommuneKind::MunicipalArrondissement);
        assert_eq!(table.lookup("13216").unwrap().kind, CommuneKind::MunicipalArrondissement);
        assert_eq!(table.lookup("01039").unwrap().kind, CommuneKind::Delegated);
        assert_eq!(table.lookup("02285").unwrap().kind, CommuneKind::Associated);
        assert_eq!(table.lookup("2A004").unwrap().departement, "2A");
        assert_eq!(table.lookup("2a004").unwrap().code, "2A004");
        assert_eq!(table.lookup("97411").unwrap().departement, "974");
        assert_eq!(table.lookup("97608").unwrap().departement, "976");
        assert_eq!(table.lookup(" 01007 ").unwrap().code, "01007");
    }

    #[test]
    fn shared_code_keeps_the_current_commune() {
        // 01015 is Arboys en Bugey (current) and its delegated commune Arbignieu.
        let text = "code,departement,type,population\n01015,01,commune-deleguee,\n01015,01,commune-actuelle,650\n";
        let table = CommuneTable::from_csv(text).unwrap();
        assert_eq!(table.len(), 1);
        let commune = table.get("01015").unwrap();
        assert_eq!((commune.kind, commune.population), (CommuneKind::Current, 650));
        assert_eq!(CommuneTable::official().get("01015").unwrap().kind, CommuneKind::Current);
    }

    #[test]
    fn recorded_departement_is_kept_even_when_the_prefix_differs() {
        let commune = CommuneTable::official().lookup("79224").unwrap();
        assert_eq!((commune.departement.as_str(), commune.kind), ("49", CommuneKind::Associated));
    }

    #[test]
    fn malformed_and_unknown_codes_differ() {
        let table = CommuneTable::official();
        assert_eq!(table.lookup("01999"), Err(CommuneError::Unknown { code: "01999".into() }));
        assert!(matches!(table.lookup("2A999"), Err(CommuneError::Unknown { .. })));
        for code in
            ["1001", "010011", "", "20004", "00123", "96001", "97012", "97901", "2C004", "0A001", "01X01", "ABCDE"]
        {
            assert!(matches!(table.lookup(code), Err(CommuneError::Malformed { .. })), "{code}");
        }
        let message = table.lookup("1001").unwrap_err().to_string();
        assert!(message.contains("found 4") && message.contains("leading zero"), "{message}");
        let message = table.lookup("20004").unwrap_err().to_string();
        assert!(message.contains("2A or 2B"), "{message}");
        let long = table.lookup("0123456789012345678").unwrap_err().to_string();
        assert!(!long.contains("0123456789012345678"), "{long}");
        assert!(check_shape("97501").is_ok() && check_shape("98735").is_ok() && check_shape("2B033").is_ok());
    }

    #[test]
    fn reference_format_with_names_and_quotes_loads() {
        let text = "\u{feff}code,name,departement,region,type,population\n\
                    01001,L'Abergement-Clémenciat,01,84,commune-actuelle,860\n\
                    79224,\"Puy-Saint-Bonnet, Le\",49,52,commune-associee,\n";
        let table = CommuneTable::from_csv(text).unwrap().with_source("test list");
        assert_eq!(table.len(), 2);
        assert_eq!(table.source(), "test list");
        assert_eq!(table.get("79224").unwrap().departement, "49");
        assert_eq!(table.get("79224").unwrap().population, 0);
        assert_eq!(table.iter().map(|c| c.code.as_str()).collect::<Vec<_>>(), ["01001", "79224"]);
    }

    #[test]
    fn bad_lists_are_refused_with_their_line() {
        assert_eq!(
            CommuneTable::from_csv("code,type\n01001,commune-actuelle\n").unwrap_err(),
            CommuneTableError::MissingColumn { column: "departement" }
        );
        assert_eq!(CommuneTable::from_csv("code,departement,type\n").unwrap_err(), CommuneTableError::Empty);
        let error = CommuneTable::from_csv("code,departement,type\n01001,01,commune-actuelle\n01002,01\n");
        assert!(matches!(error, Err(CommuneTableError::Csv { line: 3, .. })), "{error:?}");
        let error =
            CommuneTable::from_csv("code,name,departement,type\n01001,\"A, B\",01,commune-actuelle\n01002,01\n");
        assert!(matches!(error, Err(CommuneTableError::Csv { line: 3, .. })), "{error:?}");
        let crlf = CommuneTable::from_csv("code,departement,type\r\n01001,01,commune-actuelle\r\n\r\n").unwrap();
        assert_eq!(crlf.get("01001").map(|c| c.departement.as_str()), Some("01"));
        let error = CommuneTable::from_csv("code,departement,type\n01001,01,commune-actuelle\n01002,01,village\n");
        assert!(matches!(error, Err(CommuneTableError::Row { line: 3, .. })), "{error:?}");
        let error = CommuneTable::from_csv("code,departement,type,population\n1001,01,commune-actuelle,3\n");
        assert!(matches!(error, Err(CommuneTableError::Row { line: 2, .. })), "{error:?}");
        let error = CommuneTable::from_csv("code,departement,type,population\n01001,01,commune-actuelle,many\n");
        assert!(matches!(error, Err(CommuneTableError::Row { line: 2, .. })), "{error:?}");
    }

    #[test]
    fn kinds_round_trip() {
        for kind in [
            CommuneKind::Current,
            CommuneKind::MunicipalArrondissement,
            CommuneKind::Delegated,
            CommuneKind::Associated,
        ] {
            assert_eq!(CommuneKind::from_cog_type(kind.cog_type()), Some(kind));
        }
        assert_eq!(CommuneKind::from_cog_type("canton"), None);
    }

    #[test]
    fn the_official_list_loads_whole() {
        // Speed is measured by a benchmark, never asserted in a test (load time is in the
        // protocol section of BENCHMARKS.md); here only the content counts.
        let table = CommuneTable::from_csv(OFFICIAL_CSV).unwrap();
        assert_eq!(table.len(), 37_006);
    }
}
