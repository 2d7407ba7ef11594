//! A party's daemon as a separate process of the binary, for the benchmark and the tests' stack:
//! `<binary> <party> run --config <settings file>`, its stderr appended to a log file (each start
//! after a `==== start #n of <name> ====` line), its `/health` served on the settings'
//! `metrics_addr`. A [`SpawnedParty`] is started, waited on until `/health` answers, stopped with
//! SIGTERM (the graceful path a service manager takes, SIGKILL after a grace period), killed
//! (`kill -9`), started again on the same settings, store and port, and waited on until it exits
//! by itself (a development fault point exits 70). Every wait polls a condition until a
//! deadline; none sleeps for a guessed time.
//!
//! Dropping a handle whose process still runs stops it (SIGTERM, [`DROP_GRACE`], SIGKILL), so
//! no daemon outlives its caller, whether it returns an error or panics.
//!
//! Everything here is synchronous: an async caller runs the waits in
//! `tokio::task::block_in_place`.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

use crate::{PartyKind, PartySettings};

/// How often a wait looks again at a starting or stopping process.
const POLL: Duration = Duration::from_millis(20);

/// How long a process still running when its handle is dropped (an error path) has to exit
/// after SIGTERM before it is killed: it finishes the chunks in flight.
pub const DROP_GRACE: Duration = Duration::from_secs(30);

/// Lines of the log quoted in an error.
pub const LOG_TAIL_LINES: usize = 30;

/// How long the `/health` probe waits for a connection, then for the answer.
const PROBE_CONNECT: Duration = Duration::from_millis(500);
const PROBE_READ: Duration = Duration::from_secs(5);

/// A party's daemon: how to start it, and its process while it runs.
#[derive(Debug)]
pub struct SpawnedParty {
    /// `observatory`, `responder-cnam`, `cnam`…: what errors and the log's markers call it.
    name: String,
    binary: PathBuf,
    kind: PartyKind,
    config: PathBuf,
    health: SocketAddr,
    log: PathBuf,
    /// Variables set (`Some`) or removed (`None`) in the process's environment.
    env: Vec<(OsString, Option<OsString>)>,
    child: Option<Child>,
    /// How the last process ended, once reaped.
    exited: Option<ExitStatus>,
    /// Processes started so far.
    starts: u32,
}

impl SpawnedParty {
    /// A daemon of `binary` running the party of `settings`, as written in `config`; its
    /// `/health` is the settings' `metrics_addr`, its stderr appended to `log`. Not started.
    pub fn new(
        name: impl Into<String>,
        binary: impl Into<PathBuf>,
        settings: &PartySettings,
        config: impl Into<PathBuf>,
        log: impl Into<PathBuf>,
    ) -> anyhow::Result<SpawnedParty> {
        let name = name.into();
        let health = settings
            .metrics_addr()
            .ok_or_else(|| anyhow!("the {name} has no `metrics_addr`: its /health is how its start is seen"))?;
        let health = health.parse().with_context(|| format!("the {name}'s `metrics_addr` `{health}`"))?;
        Ok(SpawnedParty {
            name,
            binary: binary.into(),
            kind: settings.kind(),
            config: config.into(),
            health,
            log: log.into(),
            env: Vec::new(),
            child: None,
            exited: None,
            starts: 0,
        })
    }

    /// Sets an environment variable of the processes started from now on.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> SpawnedParty {
        self.env.push((key.into(), Some(value.into())));
        self
    }

    /// Removes an environment variable (inherited from the caller) from the processes.
    pub fn env_remove(mut self, key: impl Into<OsString>) -> SpawnedParty {
        self.env.push((key.into(), None));
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its settings file.
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// Where its `/health` and `/metrics` are served.
    pub fn health(&self) -> SocketAddr {
        self.health
    }

    /// Its log file (every process appended).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Its whole log, empty when there is none yet.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Processes started so far.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How the last process ended, once seen ([`SpawnedParty::is_running`], a wait, a stop).
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.exited
    }

    /// Starts a process: `<binary> <party> run --config <config>`; fails if one is running.
    pub fn spawn(&mut self) -> anyhow::Result<()> {
        if self.is_running() {
            bail!("the {} process is already running", self.name);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        self.starts += 1;
        let mut marker = log.try_clone().with_context(|| format!("cannot write to {}", self.log.display()))?;
        writeln!(marker, "==== start #{} of {} ====", self.starts, self.name)
            .with_context(|| format!("cannot write to {}", self.log.display()))?;
        let mut command = Command::new(&self.binary);
        command.args([self.kind.command(), "run", "--config"]).arg(&self.config);
        for (key, value) in &self.env {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start the {} process ({})", self.name, self.binary.display()))?;
        self.child = Some(child);
        self.exited = None;
        Ok(())
    }

    /// Whether its process is alive; one that exited by itself is reaped (its status kept).
    pub fn is_running(&mut self) -> bool {
        self.reap();
        self.child.is_some()
    }

    /// Fails, with the log's tail, unless its process is alive.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if self.is_running() {
            return Ok(());
        }
        match self.exited {
            Some(status) => bail!("the {} process exited ({status}){}", self.name, self.log_tail()),
            None => bail!("the {} process is not running", self.name),
        }
    }

    /// Waits until `/health` answers 200; fails, with the log's tail, if the process exits or
    /// `deadline` passes first.
    pub fn wait_healthy(&mut self, deadline: Instant) -> anyhow::Result<()> {
        let waiting = Instant::now();
        loop {
            if http_get(self.health, "/health").is_some_and(|(status, _)| status == 200) {
                return Ok(());
            }
            if !self.is_running() {
                match self.exited {
                    Some(status) => bail!("the {} process exited at start ({status}){}", self.name, self.log_tail()),
                    None => bail!("the {} process is not running", self.name),
                }
            }
            if Instant::now() >= deadline {
                bail!(
                    "the {} process is not healthy after {:.0} s{}",
                    self.name,
                    waiting.elapsed().as_secs_f64(),
                    self.log_tail()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until its process exits by itself (a fault point, a failure) and returns how it
    /// ended; fails if `deadline` passes first (the process is left running).
    pub fn wait_exit(&mut self, deadline: Instant) -> anyhow::Result<ExitStatus> {
        if self.child.is_none() {
            return self.exited.ok_or_else(|| anyhow!("the {} process is not running", self.name));
        }
        let waiting = Instant::now();
        loop {
            if let Some(status) = self.reap() {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                bail!("the {} process is still running after {:.0} s", self.name, waiting.elapsed().as_secs_f64());
            }
            std::thread::sleep(POLL);
        }
    }

    /// `kill -9`: the process dies at once, whatever it was doing; fails if none runs.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        let mut child = self.child.take().ok_or_else(|| anyhow!("the {} process is not running", self.name))?;
        // An error here is a process that already exited: `wait` reaps it all the same.
        let _ = child.kill();
        let status = child.wait().with_context(|| format!("cannot reap the {} process", self.name))?;
        self.exited = Some(status);
        Ok(())
    }

    /// SIGTERM (the graceful stop: in-flight work finishes), then up to `grace` for the exit,
    /// then SIGKILL. Fails unless the process exited 0 within `grace`.
    pub fn stop(&mut self, grace: Duration) -> anyhow::Result<()> {
        if self.child.is_none() {
            bail!("the {} process is not running", self.name);
        }
        match self.terminate(grace) {
            Some(status) if status.success() => Ok(()),
            Some(status) => bail!("the {} process exited with {status}{}", self.name, self.log_tail()),
            None => bail!(
                "the {} process did not stop within {} s of SIGTERM: killed{}",
                self.name,
                grace.as_secs(),
                self.log_tail()
            ),
        }
    }

    /// SIGTERM, up to `grace` for the exit, then SIGKILL. The exit status, `None` if it had to
    /// be killed (or none was running).
    fn terminate(&mut self, grace: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.reap() {
            return Some(status);
        }
        let mut child = self.child.take()?;
        sigterm(child.id());
        let deadline = Instant::now() + grace;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.exited = Some(status);
                return Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                self.exited = child.wait().ok();
                return None;
            }
            std::thread::sleep(POLL);
        }
    }

    /// The exit status of a process that has exited (and is reaped), `None` while it runs.
    fn reap(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        self.exited = Some(status);
        Some(status)
    }

    /// The end of the log, to explain a failure: `; the end of its log (<path>):\n…`, empty
    /// when the log is.
    pub fn log_tail(&self) -> String {
        let text = self.log();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
        if tail.is_empty() {
            String::new()
        } else {
            format!("; the end of its log ({}):\n{tail}", self.log.display())
        }
    }
}

impl Drop for SpawnedParty {
    /// A process still running here is on an error path: SIGTERM, [`DROP_GRACE`], SIGKILL.
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.terminate(DROP_GRACE);
        }
    }
}

/// SIGTERM through `kill(1)` (the crate forbids `unsafe`, and `Child::kill` is SIGKILL, which
/// skips the daemon's graceful stop).
fn sigterm(pid: u32) {
    let sent = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !sent.is_ok_and(|s| s.success()) {
        tracing::warn!(pid, "cannot send SIGTERM to a daemon");
    }
}

/// A plain HTTP/1.0 GET on the loopback: (status, body), `None` when nothing answers.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_CONNECT).ok()?;
    stream.set_read_timeout(Some(PROBE_READ)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Some((status, body))
}

/// Loopback addresses nothing listens on, each a different one: every address picked stays
/// bound until the picker is dropped, just before the daemons start. (Released one at a time,
/// the same port can come back twice: two daemons would be given it, one would exit at start,
/// and the other one's `/health` would answer for both.)
#[derive(Debug, Default)]
pub struct FreePorts(Vec<TcpListener>);

impl FreePorts {
    pub fn pick(&mut self) -> anyhow::Result<SocketAddr> {
        let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free loopback port")?;
        let addr = listener.local_addr().context("cannot find a free loopback port")?;
        self.0.push(listener);
        Ok(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use passerelle_observatory::ObservatorySettings;

    /// Held by each test for its whole run: a script being written while another test forks
    /// is open for writing in that child until it execs, and executing it then fails
    /// (`ETXTBSY`).
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// A stand-in for the binary: a shell script, whatever its arguments.
    struct FakeBinary {
        dir: tempfile::TempDir,
        _alone: std::sync::MutexGuard<'static, ()>,
    }

    impl FakeBinary {
        fn new() -> FakeBinary {
            let alone = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            FakeBinary { dir: tempfile::tempdir().unwrap(), _alone: alone }
        }

        /// A daemon running `script`, its `/health` on `health`.
        fn daemon(&self, script: &str, health: SocketAddr) -> SpawnedParty {
            let binary = self.dir.path().join(format!("fake-{}", self.dir.path().read_dir().unwrap().count()));
            std::fs::write(&binary, format!("#!/bin/sh\n{script}\n")).unwrap();
            let chmod = Command::new("chmod").arg("+x").arg(&binary).status().unwrap();
            assert!(chmod.success());
            let mut settings = ObservatorySettings::new("carsat-sud-est", self.dir.path().to_owned());
            settings.metrics_addr = Some(health.to_string());
            let settings = PartySettings::Observatory(settings);
            SpawnedParty::new(
                "observatory",
                binary,
                &settings,
                self.dir.path().join("o.toml"),
                self.dir.path().join("o.log"),
            )
            .unwrap()
        }

        /// A daemon started that has set its signal `traps` and runs until stopped.
        fn running_with(&self, traps: &str) -> SpawnedParty {
            let script = format!("{traps}; echo started >&2; while :; do sleep 0.05; done");
            let mut daemon = self.daemon(&script, FreePorts::default().pick().unwrap());
            daemon.spawn().unwrap();
            let deadline = soon();
            while !daemon.log().contains("started") {
                assert!(Instant::now() < deadline, "the fake daemon never started");
                std::thread::sleep(POLL);
            }
            daemon
        }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(20)
    }

    #[test]
    fn a_process_that_exits_at_start_fails_the_wait_with_its_log() {
        let fake = FakeBinary::new();
        let mut daemon = fake.daemon("echo \"no broker at $1 $2\" >&2; exit 4", FreePorts::default().pick().unwrap());
        daemon.spawn().unwrap();
        let e = daemon.wait_healthy(soon()).unwrap_err().to_string();
        assert!(e.contains("exited at start"), "{e}");
        assert!(e.contains("no broker at observatory run"), "{e}");
        assert!(e.contains("==== start #1 of observatory ===="), "{e}");
        assert_eq!(daemon.exit_status().and_then(|s| s.code()), Some(4));
    }

    #[test]
    fn the_wait_ends_when_health_answers() {
        let fake = FakeBinary::new();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let health = listener.local_addr().unwrap();
        // Every poll is answered (a poll the machine's load made time out is followed by another),
        // for as long as the test runs.
        let answered = Arc::new(AtomicUsize::new(0));
        std::thread::spawn({
            let answered = Arc::clone(&answered);
            move || {
                for mut stream in listener.incoming().flatten() {
                    let mut request = [0u8; 512];
                    let _ = stream.read(&mut request);
                    if stream.write_all(b"HTTP/1.0 200 OK\r\n\r\n{\"status\":\"ok\"}").is_ok() {
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        });
        let mut daemon = fake.daemon("exec sleep 60", health);
        daemon.spawn().unwrap();
        daemon.wait_healthy(soon()).unwrap();
        assert!(answered.load(Ordering::SeqCst) >= 1, "the wait ended on an answer");
        assert!(daemon.is_running());
        daemon.kill().unwrap();
        assert!(!daemon.is_running(), "killed");
        assert!(daemon.kill().is_err(), "nothing left to kill");
    }

    #[test]
    fn a_graceful_stop_is_an_exit_0_and_a_restart_appends_to_the_log() {
        let fake = FakeBinary::new();
        let mut daemon = fake.running_with("trap 'echo stopping >&2; exit 0' TERM");
        daemon.stop(Duration::from_secs(20)).unwrap();
        assert!(daemon.exit_status().is_some_and(|s| s.success()));
        daemon.spawn().unwrap();
        assert_eq!(daemon.starts(), 2);
        assert!(daemon.spawn().is_err(), "one process at a time");
        daemon.kill().unwrap();
        assert!(daemon.log().contains("==== start #2 of observatory ===="), "{}", daemon.log());
        assert_eq!(daemon.log().matches("stopping").count(), 1);
    }

    #[test]
    fn a_process_deaf_to_sigterm_is_killed_after_the_grace() {
        let fake = FakeBinary::new();
        let mut daemon = fake.running_with("trap '' TERM");
        let e = daemon.stop(Duration::from_millis(200)).unwrap_err().to_string();
        assert!(e.contains("killed"), "{e}");
        assert!(!daemon.is_running());
    }

    #[test]
    fn the_exit_status_of_a_process_that_stops_by_itself_is_waited_for() {
        let fake = FakeBinary::new();
        let mut daemon = fake.daemon("exit 70", FreePorts::default().pick().unwrap());
        daemon.spawn().unwrap();
        assert_eq!(daemon.wait_exit(soon()).unwrap().code(), Some(70));
        assert!(daemon.check_running().is_err());
    }

    #[test]
    fn free_ports_are_all_different() {
        let mut ports = FreePorts::default();
        let picked: std::collections::BTreeSet<SocketAddr> = (0..8).map(|_| ports.pick().unwrap()).collect();
        assert_eq!(picked.len(), 8);
    }
}
