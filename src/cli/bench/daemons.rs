//! The benchmark's daemons: the observatory and the responders run as separate processes of
//! this very binary (`std::env::current_exe()`), each with its settings file, its log file and
//! a `/health` endpoint on a free loopback port. They are stopped with SIGTERM (the graceful
//! path a service manager takes) and, whatever happens — an error, a panic — never outlive the
//! benchmark: dropping a [`Daemon`] that is still running terminates it, then kills it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

/// How long a daemon has to report healthy after it was started (a loaded 2-core machine, a
/// debug build, the observatory declaring the whole topology).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a daemon has to exit after SIGTERM (it finishes the chunks in flight) before it is
/// killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the benchmark looks at a starting or stopping daemon.
const POLL: Duration = Duration::from_millis(20);

/// Lines of a failed daemon's log quoted in the error.
const LOG_TAIL_LINES: usize = 20;

/// A running daemon.
#[derive(Debug)]
pub struct Daemon {
    /// `observatory`, `responder-cnam`…
    pub name: String,
    child: Option<Child>,
    health: SocketAddr,
    log: PathBuf,
}

/// Loopback ports nothing listens on, each a different one: every port picked stays bound until
/// the picker is dropped, just before the daemons start. (Released one at a time, the same port
/// came back twice: two daemons were given it, one exited at start, and the other one's
/// `/health` answered for both, so the flow waited for a responder that was not there.)
#[derive(Debug, Default)]
pub struct FreePorts(Vec<std::net::TcpListener>);

impl FreePorts {
    pub fn pick(&mut self) -> anyhow::Result<u16> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free loopback port")?;
        let port = listener.local_addr()?.port();
        self.0.push(listener);
        Ok(port)
    }
}

impl Daemon {
    /// Starts `passerelle <role> run --config <config>`, its stderr to `log`. `health` must be
    /// the `metrics_addr` of the settings file.
    pub fn spawn(name: &str, role: &str, config: &Path, health: SocketAddr, log: PathBuf) -> anyhow::Result<Daemon> {
        let exe = std::env::current_exe().context("cannot find the passerelle binary")?;
        let log_file = std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(exe)
            .args([role, "run", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot start the {name} process"))?;
        Ok(Daemon { name: name.to_owned(), child: Some(child), health, log })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Waits until `/health` answers 200; fails (with the log's tail) if the process exits or
    /// the time is up.
    pub async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok((200, _)) = passerelle_metrics::fetch(self.health, "/health").await {
                return Ok(());
            }
            self.check_running()?;
            if Instant::now() >= deadline {
                bail!(
                    "the {} process is not healthy after {} s{}",
                    self.name,
                    START_TIMEOUT.as_secs(),
                    self.log_tail()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Fails, with the log's tail, once the process has exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(child) = self.child.as_mut() {
            if let Some(status) = child.try_wait().context("cannot watch a daemon")? {
                self.child = None;
                bail!("the {} process exited ({status}){}", self.name, self.log_tail());
            }
        }
        Ok(())
    }

    /// Its peak resident set size so far (`VmHWM` of `/proc/<pid>/status`), in bytes.
    pub fn peak_rss_bytes(&self) -> anyhow::Result<u64> {
        let pid = self.pid().ok_or_else(|| anyhow!("the {} process is not running", self.name))?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("cannot read /proc/{pid}/status"))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .ok_or_else(|| anyhow!("no VmHWM in /proc/{pid}/status"))?;
        let kib: u64 = line
            .trim_start_matches("VmHWM:")
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("cannot read `{line}`"))?;
        Ok(kib * 1024)
    }

    /// Sends SIGTERM and waits for the exit (killing it after [`STOP_TIMEOUT`]); an exit other
    /// than 0 is an error.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let status = self.terminate().await?;
        match status {
            Some(s) if s.success() => Ok(()),
            Some(s) => bail!("the {} process exited with {s}{}", self.name, self.log_tail()),
            None => {
                bail!("the {} process did not stop within {} s of SIGTERM: killed", self.name, STOP_TIMEOUT.as_secs())
            }
        }
    }

    /// SIGTERM, then up to [`STOP_TIMEOUT`] for the exit, then SIGKILL (`None`).
    async fn terminate(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        let Some(mut child) = self.child.take() else { return Ok(None) };
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        sigterm(child.id());
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(None);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The end of the log, to explain a failure.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
        if tail.is_empty() {
            String::new()
        } else {
            format!("; the end of its log ({}):\n{tail}", self.log.display())
        }
    }
}

impl Drop for Daemon {
    /// A daemon still running here is on an error path: SIGTERM, a short grace, then SIGKILL.
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        sigterm(child.id());
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(POLL);
        }
        let _ = child.kill();
        let _ = child.wait();
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
        tracing::warn!(pid, "cannot send SIGTERM to a benchmark daemon");
    }
}

/// `work`, unless one of the daemons exits first: then the error names it, with its log's tail
/// (the flow would otherwise wait for a dead daemon until its deadline, an hour away).
pub async fn while_running<T>(
    daemons: &mut [&mut Daemon],
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let watch = async {
        loop {
            for d in daemons.iter_mut() {
                d.check_running()?;
            }
            tokio::time::sleep(POLL).await;
        }
    };
    tokio::select! {
        done = work => done,
        exited = watch => exited,
    }
}
