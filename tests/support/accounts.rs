//! Operating-system accounts for the role × call tests: the CLI runs under each agent's own uid,
//! as an agent would, and the daemon knows it only from the socket's peer credentials.
//!
//! Accounts are created when missing (as root, with `useradd --system`, no home, no shell) and
//! never modified. The binary is copied into a fresh folder every account can traverse (a CI
//! clone may sit under a folder they cannot), and the tests put their settings files and
//! sockets there too.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// An account of this machine.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// Whether the tests run as root (they can then create accounts and switch to them).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The account `name`, created when missing. `None` when it is missing and this process cannot
/// create it (not root).
pub fn ensure(name: &str) -> Option<Account> {
    if let Some(account) = lookup(name) {
        return Some(account);
    }
    if !is_root() {
        return None;
    }
    // Tests run in parallel: another may be creating the same account, or hold the passwd lock.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = Command::new("useradd")
            .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name])
            .status()
            .expect("useradd runs");
        if let Some(account) = lookup(name) {
            return Some(account);
        }
        assert!(Instant::now() < deadline, "useradd {name} did not create the account ({status})");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The account `name` as `getent passwd` gives it.
pub fn lookup(name: &str) -> Option<Account> {
    let out = Command::new("getent").args(["passwd", name]).output().ok()?;
    let line = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = line.trim().split(':').collect();
    if !out.status.success() || fields.len() < 4 {
        return None;
    }
    Some(Account { name: name.to_owned(), uid: fields[2].parse().ok()?, gid: fields[3].parse().ok()? })
}

/// A fresh folder every account can traverse and read (0755), holding a copy of the binary.
#[derive(Debug)]
pub struct SharedFolder {
    pub dir: tempfile::TempDir,
    pub binary: PathBuf,
}

impl SharedFolder {
    pub fn new() -> SharedFolder {
        let dir = tempfile::Builder::new().prefix("passerelle-roles-").tempdir_in("/tmp").unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let binary = dir.path().join("passerelle");
        std::fs::copy(env!("CARGO_BIN_EXE_passerelle"), &binary).unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        SharedFolder { dir, binary }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file every account can read (settings, a selection to submit).
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        path
    }

    /// A folder `account` owns (0700), for the files its commands write.
    pub fn home_of(&self, account: &Account) -> PathBuf {
        let path = self.path().join(format!("home-{}", account.name));
        std::fs::create_dir_all(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&path, Some(account.uid), Some(account.gid)).unwrap();
        path
    }

    /// The copied binary run as `account` (its uid and primary group, no supplementary groups),
    /// in its own folder, with an environment that names nobody.
    pub fn run_as(&self, account: &Account, args: &[&str]) -> Output {
        self.run_as_with(account, args, &[])
    }

    /// [`SharedFolder::run_as`] with these environment variables set too.
    pub fn run_as_with(&self, account: &Account, args: &[&str], env: &[(&str, &str)]) -> Output {
        let home = self.home_of(account);
        Command::new(&self.binary)
            .args(args)
            .uid(account.uid)
            .gid(account.gid)
            .current_dir(&home)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &home)
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }
}
