//! The connection to a body's PostgreSQL (the responder's source, the social service's
//! membership source): the conninfo's TLS rule and the connection pool.
//!
//! A conninfo is libpq's, in either form — `postgres://user@db.example:5432/benefits?sslmode=verify-full`
//! or `host=db.example dbname=benefits sslmode=verify-full` — so the same string works with
//! `psql`. Two of its parameters are read here, not by the driver:
//!
//! - `sslmode`: `verify-full` is TLS with the server's certificate chain verified against the
//!   trusted roots **and** the host name checked against the certificate (libpq's meaning; the
//!   connection fails when the server offers no TLS). `disable` (and no `sslmode` at all, read as
//!   `disable`; libpq's `allow` and `prefer` too) is no TLS: allowed only under
//!   `profile = "development"` ([`Conninfo::check`]). `require` and `verify-ca`, which would take a
//!   certificate without checking whose it is, are refused in every profile.
//! - `sslrootcert`: the PEM file of the CA(s) that signed the server's certificate; without it, or
//!   with `sslrootcert=system`, the system's roots are trusted.
//!
//! The certificate is verified by rustls (on ring, the workspace's TLS stack) through
//! `tokio-postgres-rustls`. Messages never quote the conninfo, which may hold a password.
#![forbid(unsafe_code)]

mod conninfo;

use std::path::PathBuf;
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::config::SslMode;

pub use conninfo::ConninfoError;

/// How a conninfo asks to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// No TLS: `sslmode` absent, `disable`, `allow` or `prefer` (the mode as written, if any).
    Off { sslmode: Option<String> },
    /// `sslmode=verify-full`: the chain verified against `roots`, the host name checked.
    VerifyFull { roots: Roots },
}

/// The roots a server certificate must chain to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// The system's trusted roots (no `sslrootcert`, or `sslrootcert=system`).
    System,
    /// The CA certificate(s) of `sslrootcert`, a PEM file.
    File(PathBuf),
}

/// A parsed conninfo: the driver's configuration (without `sslmode` and `sslrootcert`) and
/// its TLS. Its `Debug` shows neither the password nor the host.
pub struct Conninfo {
    config: tokio_postgres::Config,
    tls: Tls,
}

impl std::fmt::Debug for Conninfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conninfo").field("tls", &self.tls).finish_non_exhaustive()
    }
}

/// How to say, in a message, what an accepted conninfo looks like.
const ACCEPTED: &str = "`sslmode=verify-full`, with `sslrootcert=/path/to/ca.pem` unless the server's \
                        certificate chains to the system's roots (README, \"PostgreSQL over TLS\")";

impl Conninfo {
    /// Parses a conninfo (module docs). The error never quotes it.
    pub fn parse(text: &str) -> Result<Conninfo, ConninfoError> {
        let (rest, ssl) = conninfo::split_tls(text)?;
        let tls = match ssl.mode.as_deref() {
            None | Some("disable" | "allow" | "prefer") => {
                if ssl.root_cert.is_some() {
                    return Err(ConninfoError(format!(
                        "`sslrootcert` without TLS: write {ACCEPTED}, or remove `sslrootcert`"
                    )));
                }
                Tls::Off { sslmode: ssl.mode }
            }
            Some("verify-full") => Tls::VerifyFull {
                roots: match ssl.root_cert.as_deref() {
                    None | Some("system") => Roots::System,
                    Some("") => return Err(ConninfoError("`sslrootcert` is empty: name the CA's PEM file".into())),
                    Some(path) => Roots::File(PathBuf::from(path)),
                },
            },
            Some(mode @ ("require" | "verify-ca")) => {
                return Err(ConninfoError(format!(
                    "`sslmode={mode}` takes the server's certificate without checking {}: write {ACCEPTED}",
                    if mode == "require" { "who signed it or whose it is" } else { "that it names the host" }
                )))
            }
            Some(other) => {
                return Err(ConninfoError(format!("`sslmode={other}` is not one of libpq's modes: write {ACCEPTED}")))
            }
        };
        let mut config: tokio_postgres::Config = rest
            .parse()
            // The driver's message may quote the string, which may hold a password: not shown.
            .map_err(|_| ConninfoError("not a PostgreSQL connection string (libpq's URL or key=value form)".into()))?;
        config.ssl_mode(if matches!(tls, Tls::Off { .. }) { SslMode::Disable } else { SslMode::Require });
        Ok(Conninfo { config, tls })
    }

    /// What it asks for.
    pub fn tls(&self) -> &Tls {
        &self.tls
    }

    /// The profile's rule: outside development (`development` false), a connection without TLS
    /// is refused; the message says what to write.
    pub fn check(&self, development: bool) -> Result<(), ConninfoError> {
        match &self.tls {
            Tls::VerifyFull { .. } => Ok(()),
            Tls::Off { .. } if development => Ok(()),
            Tls::Off { sslmode } => Err(ConninfoError(format!(
                "{}: outside `profile = \"development\"` the connection to PostgreSQL is made over TLS, the \
                 server's certificate verified and its host name checked — write {ACCEPTED}",
                match sslmode {
                    Some(mode) => format!("`sslmode={mode}` is without TLS"),
                    None => "no `sslmode`: without TLS".to_owned(),
                }
            ))),
        }
    }

    /// The driver's configuration, to add options (`statement_timeout`, the application name).
    pub fn config_mut(&mut self) -> &mut tokio_postgres::Config {
        &mut self.config
    }

    /// A pool of at most `max_size` connections; no connection is made until one is asked
    /// for. Under TLS the roots are read now: an unreadable `sslrootcert` fails here, at start.
    pub fn pool(self, max_size: usize) -> Result<Pool, ConninfoError> {
        let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let manager = match &self.tls {
            Tls::Off { .. } => Manager::from_config(self.config, tokio_postgres::NoTls, manager_config),
            Tls::VerifyFull { roots } => {
                let connector = tokio_postgres_rustls::MakeRustlsConnect::new(client_config(roots)?);
                Manager::from_config(self.config, connector, manager_config)
            }
        };
        Pool::builder(manager)
            .max_size(max_size)
            .build()
            .map_err(|e| ConninfoError(format!("cannot build the PostgreSQL connection pool: {e}")))
    }
}

/// rustls on ring, verifying the chain against `roots` and the host name (rustls's default
/// server verifier); no client certificate.
fn client_config(roots: &Roots) -> Result<rustls::ClientConfig, ConninfoError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    let mut store = rustls::RootCertStore::empty();
    match roots {
        Roots::File(path) => {
            let unreadable = |e: &dyn std::fmt::Display| {
                ConninfoError(format!("`sslrootcert`: cannot read the CA certificates of {}: {e}", path.display()))
            };
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| unreadable(&e))? {
                store.add(cert.map_err(|e| unreadable(&e))?).map_err(|e| unreadable(&e))?;
            }
            if store.is_empty() {
                return Err(unreadable(&"no certificate in the file (PEM, `-----BEGIN CERTIFICATE-----`)"));
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(ConninfoError(format!(
                    "`sslmode=verify-full` without `sslrootcert` trusts the system's roots, and none could be \
                     read{}: name the CA's PEM file with `sslrootcert=/path/to/ca.pem`",
                    found.errors.first().map(|e| format!(" ({e})")).unwrap_or_default()
                )));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConninfoError(format!("TLS set-up: {e}")))?
        .with_root_certificates(store)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(text: &str) -> Tls {
        Conninfo::parse(text).unwrap_or_else(|e| panic!("{text}: {e}")).tls
    }

    fn refused(text: &str) -> String {
        Conninfo::parse(text).map(|_| ()).expect_err(text).0
    }

    #[test]
    fn verify_full_is_tls_with_the_file_or_the_system_roots() {
        let file = Tls::VerifyFull { roots: Roots::File("/etc/passerelle/pg-ca.pem".into()) };
        assert_eq!(
            tls("postgres://u:p@db.example/x?sslmode=verify-full&sslrootcert=%2Fetc%2Fpasserelle%2Fpg-ca.pem"),
            file
        );
        assert_eq!(tls("postgresql://u@db.example/x?sslrootcert=/etc/passerelle/pg-ca.pem&sslmode=verify-full"), file);
        assert_eq!(tls("host=db.example sslmode = verify-full sslrootcert='/etc/passerelle/pg-ca.pem'"), file);
        let system = Tls::VerifyFull { roots: Roots::System };
        assert_eq!(tls("postgres://db.example/x?sslmode=verify-full"), system);
        assert_eq!(tls("host=db.example sslmode=verify-full sslrootcert=system"), system);
        let c = Conninfo::parse("postgres://db.example:5433/x?application_name=a&sslmode=verify-full").unwrap();
        assert_eq!(c.config.get_ports(), [5433], "the other parameters reach the driver");
        assert_eq!(c.config.get_ssl_mode(), SslMode::Require, "no falling back to plain text");
        c.check(false).unwrap();
        c.check(true).unwrap();
    }

    #[test]
    fn without_tls_is_refused_outside_development_only() {
        for text in ["postgres://u@db.example/x", "host=db.example sslmode=disable", "postgres://db/x?sslmode=prefer"] {
            let c = Conninfo::parse(text).unwrap();
            assert!(matches!(c.tls, Tls::Off { .. }), "{text}");
            assert_eq!(c.config.get_ssl_mode(), SslMode::Disable, "{text}");
            c.check(true).expect("the development profile");
            let e = c.check(false).unwrap_err().0;
            assert!(e.contains("without TLS") && e.contains("sslmode=verify-full"), "{text}: {e}");
        }
    }

    #[test]
    fn modes_that_do_not_verify_the_server_are_refused_in_every_profile() {
        let e = refused("postgres://u:s3cret@db.example/x?sslmode=require");
        assert!(e.contains("`sslmode=require`") && e.contains("sslmode=verify-full"), "{e}");
        assert!(!e.contains("s3cret"));
        assert!(refused("host=db sslmode=verify-ca").contains("names the host"));
        assert!(refused("host=db sslmode=verify_full").contains("not one of libpq's modes"));
        assert!(refused("host=db sslrootcert=/ca.pem").contains("without TLS"));
        let e = refused("postgres://u:s3cret@db.example:notaport/x?sslmode=verify-full");
        assert!(e.contains("not a PostgreSQL connection string") && !e.contains("s3cret"), "{e}");
    }

    #[test]
    fn an_unreadable_root_file_fails_when_the_pool_is_built() {
        let c = Conninfo::parse("host=db sslmode=verify-full sslrootcert=/nonexistent/ca.pem").unwrap();
        let e = c.pool(1).unwrap_err().0;
        assert!(e.contains("`sslrootcert`") && e.contains("/nonexistent/ca.pem"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let c = Conninfo::parse(&format!("host=db sslmode=verify-full sslrootcert={}", empty.display())).unwrap();
        assert!(c.pool(1).unwrap_err().0.contains("no certificate"));
    }
}
