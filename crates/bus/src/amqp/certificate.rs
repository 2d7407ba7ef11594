//! The party's client certificate, read once when the bus is built: its subject is what the
//! "connected" log line names (the broker logs the party in as the certificate's CN, whatever
//! user the URL names), and its CN must be a broker user that `[broker.identity.users]` lets
//! speak for the party — otherwise every message it sent would be dead-lettered as forged by
//! the receivers, so the party refuses to start instead.

use std::path::Path;

use x509_parser::prelude::{FromDer, X509Certificate};

use crate::{BusError, IdentitySettings, Role};

/// What the bus needs to know of its client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The whole subject, `CN=body-cnam, O=…` (for the log).
    pub subject: String,
    /// The subject's common name: the broker user RabbitMQ logs the party in as
    /// (`ssl_cert_login_from = common_name`).
    pub common_name: Option<String>,
}

impl ClientCertificate {
    /// Reads the first certificate of a PEM file (the leaf of the chain).
    pub fn read(path: &Path) -> Result<ClientCertificate, BusError> {
        let der = super::tls::read_certs(path)?
            .into_iter()
            .next()
            .ok_or_else(|| BusError::Tls(format!("no certificate in {}", path.display())))?;
        ClientCertificate::parse(&der)
            .map_err(|e| BusError::Tls(format!("{}: not a usable X.509 certificate ({e})", path.display())))
    }

    fn parse(der: &[u8]) -> Result<ClientCertificate, String> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
        let subject = cert.subject();
        let common_name =
            subject.iter_common_name().next().map(|cn| cn.as_str().map(str::to_owned).map_err(|e| e.to_string()));
        Ok(ClientCertificate { subject: subject.to_string(), common_name: common_name.transpose()? })
    }

    /// Refuses a certificate whose CN may not speak for `role` under `identity` (a settings
    /// error: the party would run, and everything it sent would be refused as forged). The
    /// insecure development profile accepts any.
    pub fn check_speaks_for(&self, identity: &IdentitySettings, role: &Role, path: &Path) -> Result<(), BusError> {
        if identity.insecure_any_user {
            return Ok(());
        }
        let (kind, code) = match role {
            Role::Observatory(code) => ("observatory", code),
            Role::Body(code) => ("body", code),
            Role::Office(code) => ("requester office", code),
            Role::SocialService(code) => ("social service", code),
        };
        let Some(cn) = &self.common_name else {
            return Err(BusError::Settings(format!(
                "the client certificate {} has no CN ({}): the broker logs a party in as its certificate's CN, \
                 which must be a user of [broker.identity.users] allowed to speak for {kind} {code}",
                path.display(),
                self.subject
            )));
        };
        if identity.may_speak_for(cn, code) {
            return Ok(());
        }
        let allowed: Vec<&str> = identity
            .users
            .iter()
            .filter(|(_, parties)| parties.iter().any(|p| p == code))
            .map(|(user, _)| user.as_str())
            .collect();
        let expected = match allowed.as_slice() {
            [] => format!("no user of [broker.identity.users] may speak for {kind} {code}"),
            users => format!("[broker.identity.users] lets only {} speak for {kind} {code}", users.join(", ")),
        };
        Err(BusError::Settings(format!(
            "the client certificate {} is CN={cn}, but {expected}: is it another party's certificate? \
             (everything this {kind} sent would be refused as forged)",
            path.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `CN=body-cnam, O=Passerelle test`: a throwaway self-signed certificate (no key kept).
    const BODY_CNAM: &str = "-----BEGIN CERTIFICATE-----
MIIBsTCCAVegAwIBAgIUYvhp9qUHBnVFA1tmsuzFsNgIz64wCgYIKoZIzj0EAwIw
LjESMBAGA1UEAwwJYm9keS1jbmFtMRgwFgYDVQQKDA9QYXNzZXJlbGxlIHRlc3Qw
HhcNMjYxMjA3MDEwMjI0WhcNMzYxMjA0MDEwMjI0WjAuMRIwEAYDVQQDDAlib2R5
LWNuYW0xGDAWBgNVBAoMD1Bhc3NlcmVsbGUgdGVzdDBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABIyPiTei2wOxo5lGXwPLnf8wNtRmZMmXAI3GwBnK/MoN1w6jv07B
PoY3hhooZQp6kZ3gvegg5f9EKbbTicyYFE6jUzBRMB0GA1UdDgQWBBRt7PD+MZKM
EJCXBa2W2jokEsRj6jAfBgNVHSMEGDAWgBRt7PD+MZKMEJCXBa2W2jokEsRj6jAP
BgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQC1sHnfkL8uCs0nXpmn
pZmjIwKMaCeVAwg9UeUWcNGgawIgQrnPCIdGMqGUhIv3wfS6rh5wEWHr0zeq0riI
uG27ngk=
-----END CERTIFICATE-----
";

    fn identity() -> IdentitySettings {
        let mut id = IdentitySettings { insecure_any_user: false, ..Default::default() };
        id.users.insert("body-cnam".into(), vec!["cnam".into()]);
        id.users.insert("body-cnaf".into(), vec!["cnaf".into()]);
        id
    }

    #[test]
    fn the_cn_must_speak_for_the_party() {
        let cert =
            ClientCertificate { subject: "CN=body-cnam, O=Passerelle".into(), common_name: Some("body-cnam".into()) };
        let path = Path::new("/etc/passerelle/client.pem");
        cert.check_speaks_for(&identity(), &Role::Body("cnam".into()), path).unwrap();
        let e = cert.check_speaks_for(&identity(), &Role::Body("cnaf".into()), path).unwrap_err().to_string();
        assert!(matches!(
            cert.check_speaks_for(&identity(), &Role::Body("cnaf".into()), path),
            Err(BusError::Settings(_))
        ));
        assert!(e.contains("CN=body-cnam") && e.contains("body-cnaf") && e.contains("body cnaf"), "{e}");
        let e = cert.check_speaks_for(&identity(), &Role::Observatory("carsat-sud-est".into()), path).unwrap_err();
        assert!(e.to_string().contains("no user of [broker.identity.users] may speak for observatory"), "{e}");
        let insecure = IdentitySettings::default();
        cert.check_speaks_for(&insecure, &Role::Body("cnaf".into()), path).unwrap();
        let anonymous = ClientCertificate { subject: "O=Passerelle".into(), common_name: None };
        let e = anonymous.check_speaks_for(&identity(), &Role::Body("cnam".into()), path).unwrap_err();
        assert!(e.to_string().contains("has no CN"), "{e}");
    }

    #[test]
    fn a_social_service_certificate_speaks_for_its_party_only() {
        let mut id = identity();
        id.users.insert("ss-13".into(), vec!["carsat-sud-est.ss-13".into()]);
        let cert = ClientCertificate { subject: "CN=ss-13".into(), common_name: Some("ss-13".into()) };
        let path = Path::new("/etc/passerelle/client.pem");
        cert.check_speaks_for(&id, &Role::SocialService("carsat-sud-est.ss-13".into()), path).unwrap();
        let e = cert.check_speaks_for(&id, &Role::SocialService("cramif.ss-75".into()), path).unwrap_err();
        assert!(e.to_string().contains("may speak for social service cramif.ss-75"), "{e}");
    }

    #[test]
    fn the_subject_and_cn_are_read_from_the_pem_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.pem");
        std::fs::write(&path, BODY_CNAM).unwrap();
        let cert = ClientCertificate::read(&path).unwrap();
        assert_eq!(cert.common_name.as_deref(), Some("body-cnam"));
        assert_eq!(cert.subject, "CN=body-cnam, O=Passerelle test");
        assert!(ClientCertificate::parse(b"not der").is_err());
        std::fs::write(&path, "").unwrap();
        assert!(matches!(ClientCertificate::read(&path), Err(BusError::Tls(_))));
    }
}
