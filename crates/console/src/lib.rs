//! The web console every daemon can serve (DESIGN §7.4): server-rendered HTML pages for the
//! agents and operators who are not CLI users, with the same roles and the same access log as
//! the local API — because each page **is** a call of the local API, made in-process as the
//! session's agent ([`Session::get`]): the API checks the roles and writes the access log, once,
//! for the CLI and the console alike.
//!
//! - **Sessions without passwords** ([`sessions`]): `passerelle console open`, run by the
//!   agent's OS account, asks the daemon's socket ([`open`]) for a one-time URL; opening it sets
//!   an HttpOnly, SameSite=Strict cookie; a session ends after its idle timeout, a working day,
//!   a logout or the daemon's restart, and at once when the registry drops the account.
//! - **Forms** carry the session's CSRF token ([`CsrfForm`], [`Session::check_csrf`]).
//! - **Pages** ([`Page`], [`html`]): French labels, one stylesheet, no script, every value
//!   escaped; each daemon's pages are `crates/party`'s (`console/`).
//! - **Served** ([`Listener`], [`ConsoleServer`]) on `[api] console_addr` (loopback unless the
//!   settings say otherwise), on the `/metrics` server's HTTP stack and deadlines.
//!
//! **Architecture invariant:** a page gets data only through [`Session`]'s calls of the local
//! API; no page reads a store.
#![forbid(unsafe_code)]

pub mod html;
pub mod open;
mod page;
mod server;
mod session;
pub mod sessions;

pub use open::{OpenedTicket, OPEN_ROUTE};
pub use page::{csrf_field, NavLink, Page, PageError, STYLESHEET};
pub use server::{app, app_recording, inline_style_csp, Console, ConsoleServer, Listener};
pub use session::{cookie_name, CsrfForm, Session, COOKIE};
pub use sessions::Sessions;
