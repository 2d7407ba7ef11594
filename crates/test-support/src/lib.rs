//! What Passerelle's test binaries share, written once: the test broker (its URL, whether it
//! answers, a vhost and users of a test's own), bounded waits (`eventually`,
//! [`assert_eventually!`]), unique names, a log buffer and byte searches, and the NIR key of
//! synthetic persons; with the `browser` feature, a headless Chromium that prints pages to PDF.
//!
//! A dev-dependency only (`publish = false`); it depends on no Passerelle crate, so every crate
//! of the workspace can use it without a cycle, and what a test builds from these pieces (bus
//! settings, a deployment) stays in that crate's tests.
#![forbid(unsafe_code)]

pub mod broker;
#[cfg(feature = "browser")]
pub mod browser;
mod capture;
mod synthetic;
mod wait;

pub use broker::{amqp_url, broker_reachable_or_skip, rabbitmqctl, User, Vhost};
pub use capture::{contains, LogBuffer};
pub use synthetic::nir_with_key;
pub use wait::{eventually, eventually_async, eventually_blocking, eventually_within, Reached, WAIT};

/// A short random id (12 hex digits), for names that must not collide between tests or runs.
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// `prefix-` followed by a [`unique`] id: a test's own queue prefix, vhost or user name.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", unique())
}

#[cfg(test)]
mod tests {
    #[test]
    fn unique_names_differ_and_keep_their_prefix() {
        let (a, b) = (super::unique_name("test"), super::unique_name("test"));
        assert_ne!(a, b);
        assert!(a.starts_with("test-") && a.len() == "test-".len() + 12, "{a}");
    }
}
