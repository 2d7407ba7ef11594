//! A real PostgreSQL over TLS: a throwaway server of the test's own (`initdb` and `pg_ctl` of the
//! installed PostgreSQL, in a temporary folder, on a free port of 127.0.0.1, `ssl = on`) with a
//! certificate the test makes with `openssl`, for `localhost` only, signed by a CA of its own.
//! Then `sslmode=verify-full`:
//!
//! - with that CA as `sslrootcert` and `host=localhost`, connects, and the server says the
//!   session is encrypted (`pg_stat_ssl`), in the key=value form and the URL form;
//! - with another CA, is refused (the chain is verified);
//! - with `host=127.0.0.1`, a name the certificate does not carry, is refused (the host name is
//!   checked);
//!
//! and `sslmode=disable` (the development profile's) still connects, without TLS. The system's
//! PostgreSQL is never touched. As root, the server runs as the `postgres` user (PostgreSQL
//! refuses root). Without PostgreSQL's binaries or `openssl` the test is skipped, and fails
//! under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::Command;

use passerelle_postgres::Conninfo;

/// The throwaway server; stopped (immediately) when dropped.
struct Server {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// `runuser -u postgres --` when the test runs as root.
    as_user: Option<&'static str>,
}

impl Server {
    fn command(&self, program: &Path) -> Command {
        match self.as_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self
            .command(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.path("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn skip_or_fail(why: &str) {
    assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true and the PostgreSQL TLS test cannot run: {why}");
    eprintln!("SKIPPED: the PostgreSQL TLS test cannot run here: {why}");
}

fn run(command: &mut Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The installed PostgreSQL's binaries (the newest major version), or why there are none.
fn postgres_bin() -> Result<PathBuf, String> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "no /usr/lib/postgresql".to_owned())?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| "no initdb and pg_ctl under /usr/lib/postgresql".to_owned())
}

/// A CA (`name`.pem, `name`.key) and, signed by it when `server` is set, the server's
/// certificate for `localhost` alone (`server.pem`, `server.key`).
fn make_ca(dir: &Path, name: &str) {
    run(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
            ])
            .arg(format!("/CN=passerelle test {name}"))
            .args(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"])
            .arg("-keyout")
            .arg(dir.join(format!("{name}.key")))
            .arg("-out")
            .arg(dir.join(format!("{name}.pem"))),
        "openssl (CA)",
    );
}

fn make_server_certificate(dir: &Path) {
    run(
        Command::new("openssl")
            .args([
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
            ])
            .arg(dir.join("server.key"))
            .arg("-out")
            .arg(dir.join("server.csr")),
        "openssl (server key)",
    );
    std::fs::write(dir.join("server.ext"), "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n").unwrap();
    run(
        Command::new("openssl")
            .args(["x509", "-req", "-days", "2", "-CAcreateserial", "-in"])
            .arg(dir.join("server.csr"))
            .arg("-CA")
            .arg(dir.join("ca.pem"))
            .arg("-CAkey")
            .arg(dir.join("ca.key"))
            .arg("-extfile")
            .arg(dir.join("server.ext"))
            .arg("-out")
            .arg(dir.join("server.pem")),
        "openssl (server certificate)",
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start() -> Option<Server> {
    let bin = match postgres_bin() {
        Ok(bin) => bin,
        Err(why) => {
            skip_or_fail(&why);
            return None;
        }
    };
    if Command::new("openssl").arg("version").output().is_err() {
        skip_or_fail("openssl is not installed");
        return None;
    }
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let server =
        Server { dir: tempfile::tempdir().unwrap(), bin, port: free_port(), as_user: root.then_some("postgres") };
    let dir = server.dir.path();
    make_ca(dir, "ca");
    make_ca(dir, "other-ca");
    make_server_certificate(dir);
    if root {
        run(Command::new("chown").args(["-R", "postgres:"]).arg(dir), "chown");
    }
    run(Command::new("chmod").arg("0600").arg(dir.join("server.key")), "chmod");
    run(
        server
            .command(&server.bin.join("initdb"))
            .args(["--no-sync", "--auth=trust", "--username=postgres", "--encoding=UTF8", "-D"])
            .arg(server.path("data")),
        "initdb",
    );
    let options = format!(
        "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c fsync=off -c ssl=on \
         -c ssl_cert_file={} -c ssl_key_file={}",
        server.port,
        dir.display(),
        dir.join("server.pem").display(),
        dir.join("server.key").display()
    );
    run(
        server
            .command(&server.bin.join("pg_ctl"))
            .arg("-D")
            .arg(server.path("data"))
            .arg("-l")
            .arg(server.path("server.log"))
            .args(["-o", &options, "-w", "-t", "30", "start"]),
        "pg_ctl start",
    );
    Some(server)
}

/// Connects with `conninfo` (the development profile's check: only the TLS is under test) and
/// tells whether the server sees the session encrypted; `Err` says why it could not connect.
async fn encrypted(conninfo: &str) -> Result<bool, String> {
    let mut conninfo = Conninfo::parse(conninfo).map_err(|e| e.to_string())?;
    conninfo.config_mut().connect_timeout(std::time::Duration::from_secs(10));
    let pool = conninfo.pool(1).map_err(|e| e.to_string())?;
    let client = pool.get().await.map_err(|e| format!("{e:?}"))?;
    let row = client
        .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

#[tokio::test]
async fn verify_full_connects_over_tls_only_to_the_certified_host_under_the_given_ca() {
    let Some(server) = start() else { return };
    let (port, ca, other) = (server.port, server.path("ca.pem"), server.path("other-ca.pem"));
    let db = format!("port={port} user=postgres dbname=postgres");

    let full = format!("host=localhost {db} sslmode=verify-full sslrootcert='{}'", ca.display());
    Conninfo::parse(&full).unwrap().check(false).expect("accepted in production");
    assert_eq!(encrypted(&full).await, Ok(true), "verify-full with the server's CA");
    let url = format!("postgres://postgres@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={}", ca.display());
    assert_eq!(encrypted(&url).await, Ok(true), "the URL form");

    let e = encrypted(&format!("host=localhost {db} sslmode=verify-full sslrootcert='{}'", other.display()))
        .await
        .expect_err("a server certificate another CA signed");
    assert!(e.contains("UnknownIssuer"), "the chain is verified: {e}");
    let e = encrypted(&format!("host=127.0.0.1 {db} sslmode=verify-full sslrootcert='{}'", ca.display()))
        .await
        .expect_err("a host name the certificate does not carry");
    assert!(e.contains("NotValidForName"), "the host name is checked: {e}");

    assert_eq!(encrypted(&format!("host=localhost {db} sslmode=disable")).await, Ok(false), "development: plain");
}
