//! `requester submit` says what it waits for, as a real process whose stderr is a pipe (not a
//! terminal), a client of a running requester daemon: with the topology declared but no
//! observatory consuming, it says which observatory it waits for; interrupted (SIGINT), it exits
//! 130 after saying that the case stays open and which commands follow it. Under a fresh name
//! prefix on the real broker, deleted at the end. Synthetic data only.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use passerelle_bus::{AmqpBus, BusSettings, Role};
use passerelle_test_support::{amqp_url, broker_reachable_or_skip, eventually_within, nir_with_key};

/// How long the command may take to say whom it waits for, and to stop once interrupted.
const SAY_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_says_whom_it_waits_for_and_an_interrupt_exits_130_saying_how_to_follow() {
    let url = amqp_url();
    if !broker_reachable_or_skip(&url) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("test-submit-waits-{}", &passerelle_requester::Uuid::new_v4().simple().to_string()[..12]);
    let config = super::requester_cli::write_config_for(dir.path(), &prefix, &["carsat-sud-est"]);
    let selection = dir.path().join("selection.csv");
    std::fs::write(
        &selection,
        format!(
            "nir,family_name,given_names,sex,birth_year,commune_code\n{},Zorglub,Ambrosine,F,1950,13055\n",
            nir_with_key("2500313055001")
        ),
    )
    .unwrap();
    let settings = BusSettings {
        urls: vec![url],
        prefix: prefix.clone(),
        observatories: vec!["carsat-sud-est".into()],
        ..BusSettings::default()
    };
    // The topology, declared as an observatory does; then no observatory runs.
    let observatory = AmqpBus::connect(&settings, Role::Observatory("carsat-sud-est".into())).await.unwrap();
    observatory.close().await;
    let daemon = super::requester_cli::RequesterDaemon::start(dir.path(), &config);

    let mut child = Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args(["requester", "submit", "--want", "3", "--service", "home-help", "--purpose", "Atelier mémoire"])
        .arg("--config")
        .arg(&config)
        .arg("--selection")
        .arg(&selection)
        .env_remove("PASSERELLE_LOG_FORMAT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let said = Arc::new(Mutex::new(String::new()));
    let reader = {
        let said = Arc::clone(&said);
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut said = said.lock().unwrap();
                said.push_str(&line);
                said.push('\n');
            }
        })
    };
    let text = || said.lock().unwrap().clone();
    eventually_within("submit says whom it waits for", SAY_TIMEOUT, || {
        text().contains("waiting for the results of 1 case(s) from carsat-sud-est")
    })
    .await;

    let int = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(int.success());
    let status = eventually_within("submit stops after SIGINT", SAY_TIMEOUT, || child.try_wait().unwrap()).await;
    reader.join().unwrap();
    let out = text();
    assert_eq!(status.code(), Some(130), "{out}");
    assert!(out.contains("interrupted: the case(s) stay open"), "{out}");
    assert!(out.contains(&format!("passerelle requester status --config {}", config.display())), "{out}");
    assert!(out.contains(&format!("passerelle requester fetch --config {} CASE", config.display())), "{out}");
    drop(daemon);

    passerelle_bus::amqp::delete_topology(&settings).await.unwrap();
}
