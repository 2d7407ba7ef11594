//! One observatory per territory, in the bootstrap. Before any store opens, the observatory
//! takes the lock of its `data_dir` (an exclusive lock on [`LOCK_FILE`], held for the process's
//! life, with its holder record written in it), then its connection takes the broker's lock of
//! the territory (`passerelle_bus::amqp::lock`), then the stores open and consumers start.
//!
//! Either lock held by another process: the observatory stands by — it tries again, says who
//! holds the lock (at once, then every [`STANDBY_LOG_INTERVAL`]) and `/health` reports
//! `standing_by` — or, with `--no-wait`, it stops with [`PartyError::Territory`] (exit code 5).
//! A warm standby is a second process on the same (replicated) `data_dir`, waiting on both.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context};
pub use passerelle_bus::amqp::lock::{OnStandby, STANDBY_LOG_INTERVAL};

use crate::PartyError;

/// The lock file in an observatory's `data_dir`.
pub const LOCK_FILE: &str = "observatory.lock";

/// How often a standby tries the `data_dir` lock again: it takes over within this of the
/// holder's end.
pub const DATA_DIR_RETRY: Duration = Duration::from_secs(1);

/// Who this process is, as another observatory waiting for a lock reads it.
pub fn holder_record(code: &str, data_dir: &Path) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "an unknown host".to_owned());
    let started = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!(
        "observatory {code} on host {host}, pid {}, started {started}, data_dir {}",
        std::process::id(),
        data_dir.display()
    )
}

/// The `data_dir` lock, held until dropped (the operating system releases it when the process
/// ends, however it ends).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the lock of `data_dir` (creating the folder and the lock file if needed) and writes
    /// `record` in it. Held by another process: waits when `wait`, telling `on_standby`;
    /// otherwise fails with [`PartyError::Territory`] naming the holder.
    pub async fn take(
        data_dir: &Path,
        record: &str,
        wait: bool,
        on_standby: &OnStandby,
    ) -> Result<DataDirLock, PartyError> {
        let path = data_dir.join(LOCK_FILE);
        let unusable = |e: std::io::Error| {
            PartyError::Runtime(anyhow!(e).context(format!("cannot use the lock file {}", path.display())))
        };
        passerelle_sqlite::private::create_folder(data_dir)
            .with_context(|| format!("cannot create the data_dir {}", data_dir.display()))
            .map_err(PartyError::Runtime)?;
        let mut file = passerelle_sqlite::private::file_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(unusable)?;
        let mut said: Option<(tokio::time::Instant, String)> = None;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => return Err(unusable(e)),
            }
            let holder = read_record(&path);
            if !wait {
                return Err(PartyError::Territory(anyhow!(
                    "the data_dir {} is in use by another observatory: {holder} (its lock file: {})",
                    data_dir.display(),
                    path.display()
                )));
            }
            let now = tokio::time::Instant::now();
            if said.as_ref().is_none_or(|(at, who)| *who != holder || now.duration_since(*at) >= STANDBY_LOG_INTERVAL) {
                tracing::warn!(data_dir = %data_dir.display(), holder = %holder,
                    "standing by: another observatory holds this data_dir's lock; waiting for it");
                on_standby(Some(&holder));
                said = Some((now, holder));
            }
            tokio::time::sleep(DATA_DIR_RETRY).await;
        }
        if said.is_some() {
            on_standby(None);
            tracing::info!(data_dir = %data_dir.display(), "data_dir lock taken");
        }
        let written = (|| {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(format!("{record}\n").as_bytes())?;
            file.sync_data()
        })();
        written.map_err(unusable)?;
        Ok(DataDirLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The holder record in a lock file, as it may be printed.
fn read_record(path: &Path) -> String {
    let mut text = String::new();
    let read = File::open(path).and_then(|f| f.take(1024).read_to_string(&mut text));
    let record: String = text.trim().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match read {
        Ok(_) if !record.is_empty() => record,
        _ => "a process that has not written its holder record yet".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn quiet() -> OnStandby {
        Arc::new(|_| {})
    }

    #[tokio::test]
    async fn a_second_lock_on_a_data_dir_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let record = holder_record("carsat-sud-est", dir.path());
        assert!(record.contains(&format!("pid {}", std::process::id())), "{record}");
        let held = DataDirLock::take(dir.path(), &record, false, &quiet()).await.unwrap();
        assert_eq!(std::fs::read_to_string(held.path()).unwrap().trim(), record);
        let e = DataDirLock::take(dir.path(), "second", false, &quiet()).await.unwrap_err();
        assert!(matches!(e, PartyError::Territory(_)), "{e}");
        let text = format!("{e:#}");
        assert!(text.contains(&record) && text.contains("in use by another observatory"), "{text}");
        drop(held);
        let again = DataDirLock::take(dir.path(), "third", false, &quiet()).await.unwrap();
        assert_eq!(std::fs::read_to_string(again.path()).unwrap().trim(), "third");
    }

    #[tokio::test]
    async fn a_standby_takes_the_lock_once_it_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let held = DataDirLock::take(dir.path(), "first", false, &quiet()).await.unwrap();
        let seen = Arc::new(std::sync::Mutex::new(Vec::<Option<String>>::new()));
        let record = Arc::clone(&seen);
        let on_standby: OnStandby = Arc::new(move |h| record.lock().unwrap().push(h.map(str::to_owned)));
        let path = dir.path().to_owned();
        let standby = tokio::spawn(async move { DataDirLock::take(&path, "second", true, &on_standby).await });
        let waiting = Arc::clone(&seen);
        passerelle_test_support::eventually("the standby says who holds the lock", || {
            waiting.lock().unwrap().first().is_some_and(|h| h.as_deref() == Some("first"))
        })
        .await;
        drop(held);
        let taken = standby.await.unwrap().unwrap();
        assert_eq!(std::fs::read_to_string(taken.path()).unwrap().trim(), "second");
        assert_eq!(seen.lock().unwrap().last(), Some(&None), "the standby ended");
    }
}
