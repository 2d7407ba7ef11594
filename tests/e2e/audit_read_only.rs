//! `audit verify` through the observatory's local API is read-only (issue 22): the audit trail
//! it checks is as long after as before, and the read is one `read` entry of the access log,
//! recorded with the agent's id.

use crate::contracts::{observatory_file, started_trail};
use crate::support::{access_entries, passerelle, serve_observatory};

#[test]
fn audit_verify_appends_nothing_to_the_trail_and_one_read_to_the_access_log() {
    let dir = tempfile::tempdir().unwrap();
    let config = observatory_file(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    started_trail(&data);
    let _api = serve_observatory(&config);
    let show = || {
        let o = passerelle().args(["audit", "show", "--json", "--config"]).arg(&config).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().lines().count()
    };
    let reads = || access_entries(&data).into_iter().filter(|e| e.kind.as_str() == "read").collect::<Vec<_>>();

    let trail_before = show();
    assert_eq!(trail_before, 1, "the start entry");
    let reads_before = reads().len();
    let o = passerelle().args(["audit", "verify", "--config"]).arg(&config).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("audit trail intact: 1 "), "{:?}", o);
    let after = reads();
    assert_eq!(after.len(), reads_before + 1, "one access-log entry for the verification: {after:#?}");
    let verified = after.last().unwrap();
    assert_eq!((verified.agent.as_str(), verified.object.as_str()), ("agent:agent-test", "audit"));
    assert_eq!(show(), trail_before, "`audit verify` wrote nothing to the trail it checks");
}
