//! What `social-service archive` commands print without `--json`: a grant and where it stands,
//! the grants, a page of the archive, an archived file.

use passerelle_social_service::service::archive_views::*;

fn signature(s: &Option<SignatureView>) -> String {
    match s {
        Some(s) => format!("{} on {}", s.agent, s.signed_at),
        None => "(not yet)".to_owned(),
    }
}

/// What a state means for the reader.
fn meaning(state: &str) -> &'static str {
    match state {
        "valid" => "the reader may read the archive",
        "awaiting-director-delegate" => "awaiting a director-delegate's signature",
        "awaiting-medical-officer" => "awaiting a medical-officer's signature",
        "expired" => "expired",
        "revoked" => "revoked",
        _ => "",
    }
}

/// One grant, a few lines.
pub fn grant(g: &GrantView) -> String {
    let mut out = format!(
        "Grant {} for reader {}: {} ({}), until {}\n  director-delegate: {}\n  medical-officer:   {}\n",
        g.grant,
        g.reader,
        g.state,
        meaning(&g.state),
        g.until,
        signature(&g.director_delegate),
        signature(&g.medical_officer)
    );
    if let (Some(at), Some(by)) = (&g.revoked_at, &g.revoked_by) {
        out.push_str(&format!("  revoked on {at} by {by}\n"));
    }
    out
}

/// Every grant, one a line.
pub fn grants(list: &GrantList) -> String {
    let mut out = format!("Archive grants ({})\n", list.grants.len());
    for g in &list.grants {
        out.push_str(&format!(
            "  {}  reader {:<12} {:<28} until {}  director-delegate {}  medical-officer {}\n",
            g.grant,
            g.reader,
            g.state,
            g.until,
            g.director_delegate.as_ref().map(|s| s.agent.as_str()).unwrap_or("-"),
            g.medical_officer.as_ref().map(|s| s.agent.as_str()).unwrap_or("-"),
        ));
    }
    out
}

/// A page of the archive.
pub fn list(list: &ArchiveList) -> String {
    let mut out = format!("Archived files ({} on this page), read for {}\n", list.files.len(), list.purpose.as_str());
    for f in &list.files {
        out.push_str(&format!(
            "  {}  office {}  entered {}  erased by {}\n",
            f.file, f.office, f.entered_at, f.delete_at
        ));
    }
    if let Some(next) = &list.next {
        out.push_str(&format!("More: --after {next}\n"));
    }
    out
}

/// One archived file: its dates, its fields by path, its actions.
pub fn file(v: &ArchivedFileView) -> String {
    let mut out = format!(
        "Archived file {} (office {}), read for {} ({})\n  opened {}, 18 months from {}, archived {}, erased by {}\n",
        v.file,
        v.office,
        v.purpose.as_str(),
        v.purpose.label_fr(),
        v.opened_at,
        v.retention_start,
        v.entered_at,
        v.delete_at
    );
    for (path, value) in &v.fields {
        out.push_str(&format!("  {path} = {value}\n"));
    }
    for a in &v.actions {
        out.push_str(&format!(
            "  action {} ({}) from {} to {}\n",
            a.action,
            a.purpose,
            a.start.as_deref().unwrap_or("?"),
            a.end.as_deref().unwrap_or("(open)")
        ));
        for c in &a.contacts {
            out.push_str(&format!(
                "    contact {} on {} by {}\n",
                c.channel,
                c.date.as_deref().unwrap_or("?"),
                c.agent
            ));
        }
    }
    out
}
