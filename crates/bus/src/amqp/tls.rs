//! TLS for `amqps://` URLs: the CA file (else the system roots) and an optional client
//! certificate and key, all PEM, loaded once when the bus connects so a bad file fails fast.

use std::path::Path;
use std::sync::Arc;

use lapin::tcp::{RustlsConnector, RustlsConnectorConfig};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::{BusError, TlsSettings};

/// Builds the rustls connector the bus uses for every `amqps://` URL.
pub(crate) fn connector(tls: Option<&TlsSettings>) -> Result<Arc<RustlsConnector>, BusError> {
    let default = TlsSettings::default();
    let tls = tls.unwrap_or(&default);
    let config = match &tls.ca_file {
        Some(ca) => {
            let certs = read_certs(ca)?;
            if certs.is_empty() {
                return Err(BusError::Tls(format!("no usable certificate in {}", ca.display())));
            }
            RustlsConnectorConfig::default().with_parsable_certificates(certs)
        }
        None => RustlsConnectorConfig::new_with_native_certs().map_err(|e| BusError::Tls(e.to_string()))?,
    };
    // The roots are parsed when the connector is built: a CA file with none usable fails here.
    let roots = match &tls.ca_file {
        Some(ca) => ca.display().to_string(),
        None => "the system certificate store".to_owned(),
    };
    let unusable = |e: std::io::Error| BusError::Tls(format!("TLS client with the roots of {roots}: {e}"));
    let connector = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert)?;
            let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| match e {
                pem::Error::NoItemsFound => BusError::Tls(format!("no private key in {}", key.display())),
                e => BusError::Tls(format!("{}: {e}", key.display())),
            })?;
            config.connector_with_single_cert(chain, key_der).map_err(unusable)?
        }
        (None, None) => config.connector_with_no_client_auth().map_err(unusable)?,
        _ => return Err(BusError::Tls("cert_file and key_file go together".into())),
    };
    Ok(Arc::new(connector))
}

pub(crate) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, BusError> {
    CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| BusError::Tls(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_or_empty_files_are_settings_errors() {
        let missing = TlsSettings { ca_file: Some("/nonexistent/ca.pem".into()), ..Default::default() };
        assert!(matches!(connector(Some(&missing)), Err(BusError::Tls(_))));
        let dir = std::env::temp_dir().join(format!("passerelle-bus-tls-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let no_cert = TlsSettings { ca_file: Some(empty.clone()), ..Default::default() };
        assert!(connector(Some(&no_cert)).err().unwrap().to_string().contains("no usable certificate"));
        let half = TlsSettings { cert_file: Some(empty), ..Default::default() };
        assert!(connector(Some(&half)).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
