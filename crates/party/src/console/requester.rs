//! The requester console pages (to come).

use axum::Router;
use passerelle_console::NavLink;
/// Every route these pages serve (a stub: the page module's merge brings its own).
pub const ROUTES: &[(&str, &str)] = &[];

/// The menu's links of these pages.
pub fn nav() -> Vec<NavLink> {
    Vec::new()
}

/// The pages.
pub fn pages() -> Router {
    Router::new()
}
