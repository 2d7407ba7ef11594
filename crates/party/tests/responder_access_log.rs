//! The responder daemon's access log through its local API, as `responder run` serves it
//! (`Party::build_on_with_api`, on the in-process bus): a call the agent's roles do not allow is
//! recorded `refused` by party's `AccessLogTrail`, a load by a `responder-admin` a `create` by
//! the agent — both in the responder's own `access.db`, one chain that verifies, and no NIR of the
//! extract in its bytes.

use std::path::Path;
use std::sync::Arc;

use passerelle_access_log::{AccessKind, Accesses, LegalCalendar, StoredEntry};
use passerelle_bus::{Bus, InProcessBus};
use passerelle_local_api::Client;
use passerelle_party::{Party, PartyKind, PartySettings};
use passerelle_protocol::nir;
use passerelle_responder::api::{EncodingName, LoadAnswer, LoadOutcome, LoadQuery, ReportName};
use passerelle_selection::{Encoding, ReportFormat, ReportWriter};

/// A synthetic NIR (a man born in 1950 in Paris, made-up commune and order numbers).
fn synthetic_nir(i: u32) -> String {
    nir::with_key(&format!("1500175{:03}{:03}", i / 999 + 1, i % 999 + 1)).unwrap().as_str().to_owned()
}

/// The registry: this process's account as `agent-test` holding `role`.
fn write_registry(path: &Path, role: &str) {
    let account = passerelle_local_api::own_account().unwrap().expect("the test's uid has an account name");
    let text = format!(
        "[[agent]]\naccount = \"{account}\"\nid = \"agent-test\"\nname = \"Agent Test\"\nroles = [\"{role}\"]\n"
    );
    std::fs::write(path, text).unwrap();
}

/// The responder's local API served in this process, as its daemon serves it.
async fn serve(config: &Path) -> Party {
    let settings = PartySettings::load_local(PartyKind::Responder, config).unwrap_or_else(|e| panic!("{e:#}"));
    let bus = InProcessBus::new(settings.broker());
    let connection: Arc<dyn Bus> = Arc::new(bus.connect_as(settings.code()));
    Party::build_on_with_api(settings, connection).await.unwrap_or_else(|e| panic!("{e:#}"))
}

fn entries(accesses: &Accesses) -> Vec<StoredEntry> {
    let log = accesses.log();
    log.years().unwrap().into_iter().flat_map(|year| log.entries(year, 0, 1_000).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_responder_api_records_refusals_and_loads_in_the_responder_s_access_log() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("responder-cnaf");
    let registry = dir.path().join("agents.toml");
    let socket = dir.path().join("run").join("responder-cnaf.sock");
    let config = dir.path().join("responder.toml");
    std::fs::write(
        &config,
        format!(
            "profile = \"development\"\nbody = \"cnaf\"\ndata_dir = {data_dir:?}\n\n[source]\nkind = \"extract\"\n\n\
             [agents]\nregistry = {registry:?}\n\n[api]\nsocket = {socket:?}\n"
        ),
    )
    .unwrap();
    let nirs: Vec<String> = (1..=3).map(synthetic_nir).collect();
    let extract = dir.path().join("extract.csv");
    std::fs::write(&extract, format!("nir,rsa\n{},oui\n{},non\n{},oui\n", nirs[0], nirs[1], nirs[2])).unwrap();
    // The daemon needs a first index to start (as `--without-daemon` writes it).
    let PartySettings::Responder(responder) = PartySettings::load_local(PartyKind::Responder, &config).unwrap() else {
        panic!("a responder's settings")
    };
    passerelle_responder::load_extract(
        &responder,
        &extract,
        Encoding::Utf8,
        &mut ReportWriter::new(ReportFormat::Human, std::io::sink()),
    )
    .unwrap();
    let query = LoadQuery { encoding: EncodingName::Utf8, max_loss: 10, force: false, report: ReportName::Human };

    // An operator may not load: refused, and recorded so.
    write_registry(&registry, "operator");
    let party = serve(&config).await;
    let client = Client::new(&socket).for_daemon("responder run");
    let refused = client.upload::<LoadAnswer>(&query.path(), &extract).await.unwrap_err();
    assert!(refused.is_forbidden(), "{refused:?}");
    party.close().await;

    // A responder-admin loads: a `create` of the new extract by the agent.
    write_registry(&registry, "responder-admin");
    let party = serve(&config).await;
    let answer: LoadAnswer = client.upload(&query.path(), &extract).await.unwrap();
    let LoadOutcome::Loaded(loaded) = answer.outcome else { panic!("not loaded: {:?}", answer.outcome) };
    party.close().await;

    let accesses = Accesses::open_in(&data_dir, LegalCalendar::default()).unwrap();
    let seen: Vec<(String, AccessKind, String)> =
        entries(&accesses).into_iter().map(|e| (e.agent, e.kind, e.object)).collect();
    assert_eq!(
        seen,
        vec![
            ("agent:agent-test".to_owned(), AccessKind::Refused, "api:v1.extract".to_owned()),
            ("agent:agent-test".to_owned(), AccessKind::Create, loaded.index.extract_id.clone()),
        ]
    );
    assert!(accesses.log().verify().unwrap().is_intact());
    let mut bytes = std::fs::read(data_dir.join("access.db")).unwrap();
    bytes.extend(std::fs::read(data_dir.join("access.db-wal")).unwrap_or_default());
    for n in &nirs {
        assert!(!bytes.windows(n.len()).any(|w| w == n.as_bytes()), "no NIR in access.db");
    }
}
