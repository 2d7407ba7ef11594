//! The trail pages every daemon has (to come).

use axum::Router;
use passerelle_console::NavLink;
/// Every route these pages serve (a stub: the page module's merge brings its own).
pub const ROUTES: &[(&str, &str)] = &[];

/// The menu's links of these pages (`audit`: the daemon keeps an audit trail, the observatory).
pub fn nav(_audit: bool) -> Vec<NavLink> {
    Vec::new()
}

/// The pages.
pub fn pages() -> Router {
    Router::new()
}
