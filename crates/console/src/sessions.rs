//! The console's sessions, held in the daemon's memory only (a restart ends them all): no
//! password is stored anywhere, an agent's OS account vouches for them.
//!
//! 1. `passerelle console open`, run by the agent's account, calls the daemon's local API, whose
//!    peer credentials name the account: [`Sessions::open`] makes a **ticket**, a one-time URL
//!    (`/session/<ticket>`) valid [`TICKET_LIFETIME`].
//! 2. The browser opens it: [`Sessions::redeem`] spends the ticket (a second visit finds
//!    nothing) and makes the **session**: a cookie value and a CSRF token, each 256 random
//!    bits.
//! 3. Each request finds its session by the cookie ([`Sessions::find`]), which ends it after
//!    `idle` without a request or [`SESSION_LIFETIME`] in all; logout ends it at once.
//!
//! Only SHA-256 digests of tickets and cookies are kept, so the table read from a memory dump
//! opens nothing. The table is bounded ([`MAX_SESSIONS`], [`MAX_TICKETS`]): past it, the oldest
//! goes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};

/// How long a one-time URL may wait before it is opened.
pub const TICKET_LIFETIME: Duration = Duration::from_secs(120);

/// How long a session lasts in all, whatever its activity (a working day).
pub const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// The idle timeout when the settings give none.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(15 * 60);

/// At most this many sessions at once (the oldest ended past it).
pub const MAX_SESSIONS: usize = 1_000;

/// At most this many unopened tickets at once (the oldest dropped past it).
pub const MAX_TICKETS: usize = 1_000;

/// Who a session is for: the OS account that opened it and its uid (what the daemon's local API
/// maps to an agent on every call, so a role taken away in the registry takes effect at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub account: String,
    pub uid: u32,
}

/// A session as a request finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub holder: Holder,
    /// The token every form of the session carries.
    pub csrf: String,
}

/// A session just opened from a ticket: what the browser keeps (the cookie) and the CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub cookie: String,
    pub found: Found,
}

#[derive(Debug)]
struct Ticket {
    holder: Holder,
    made: Instant,
}

#[derive(Debug)]
struct Live {
    holder: Holder,
    csrf: String,
    opened: Instant,
    last: Instant,
}

#[derive(Debug, Default)]
struct Table {
    tickets: HashMap<[u8; 32], Ticket>,
    sessions: HashMap<[u8; 32], Live>,
}

/// The sessions of one daemon's console.
#[derive(Debug, Clone)]
pub struct Sessions {
    table: Arc<Mutex<Table>>,
    idle: Duration,
}

impl Sessions {
    /// No session yet; a session ends after `idle` without a request.
    pub fn new(idle: Duration) -> Sessions {
        Sessions { table: Arc::default(), idle }
    }

    /// The idle timeout.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// A ticket for `holder`: the secret of its one-time URL.
    pub fn open(&self, holder: Holder) -> String {
        self.open_at(holder, Instant::now())
    }

    /// Spends a ticket: the session it opens, or `None` for a ticket unknown, spent or expired.
    pub fn redeem(&self, ticket: &str) -> Option<Opened> {
        self.redeem_at(ticket, Instant::now())
    }

    /// The session of a cookie, its idle time reset; `None` once ended.
    pub fn find(&self, cookie: &str) -> Option<Found> {
        self.find_at(cookie, Instant::now())
    }

    /// Ends the session of a cookie (logout).
    pub fn close(&self, cookie: &str) {
        self.lock().sessions.remove(&digest(cookie));
    }

    /// How many sessions are open now.
    pub fn live(&self) -> usize {
        let now = Instant::now();
        let table = self.lock();
        table.sessions.values().filter(|s| alive(s, now, self.idle)).count()
    }

    /// [`Sessions::open`] at `now`.
    pub fn open_at(&self, holder: Holder, now: Instant) -> String {
        let secret = random_secret();
        let mut table = self.lock();
        table.tickets.retain(|_, t| now.saturating_duration_since(t.made) < TICKET_LIFETIME);
        if table.tickets.len() >= MAX_TICKETS {
            if let Some(oldest) = table.tickets.iter().min_by_key(|(_, t)| t.made).map(|(k, _)| *k) {
                table.tickets.remove(&oldest);
            }
        }
        table.tickets.insert(digest(&secret), Ticket { holder, made: now });
        secret
    }

    /// [`Sessions::redeem`] at `now`.
    pub fn redeem_at(&self, ticket: &str, now: Instant) -> Option<Opened> {
        let mut table = self.lock();
        let ticket = table.tickets.remove(&digest(ticket))?;
        if now.saturating_duration_since(ticket.made) >= TICKET_LIFETIME {
            return None;
        }
        let idle = self.idle;
        table.sessions.retain(|_, s| alive(s, now, idle));
        if table.sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = table.sessions.iter().min_by_key(|(_, s)| s.last).map(|(k, _)| *k) {
                table.sessions.remove(&oldest);
            }
        }
        let cookie = random_secret();
        let csrf = random_secret();
        let live = Live { holder: ticket.holder.clone(), csrf: csrf.clone(), opened: now, last: now };
        table.sessions.insert(digest(&cookie), live);
        Some(Opened { cookie, found: Found { holder: ticket.holder, csrf } })
    }

    /// [`Sessions::find`] at `now`.
    pub fn find_at(&self, cookie: &str, now: Instant) -> Option<Found> {
        let key = digest(cookie);
        let mut table = self.lock();
        let session = table.sessions.get_mut(&key)?;
        if !alive(session, now, self.idle) {
            table.sessions.remove(&key);
            return None;
        }
        session.last = now;
        Some(Found { holder: session.holder.clone(), csrf: session.csrf.clone() })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding the lock leaves a table that is still consistent (each change is
        // one insert or remove).
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn alive(session: &Live, now: Instant, idle: Duration) -> bool {
    now.saturating_duration_since(session.last) < idle
        && now.saturating_duration_since(session.opened) < SESSION_LIFETIME
}

/// 256 random bits from the OS, as 64 hexadecimal digits.
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether two tokens are equal, in a time that does not depend on where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent() -> Holder {
        Holder { account: "alice".into(), uid: 1001 }
    }

    #[test]
    fn a_ticket_opens_one_session_once() {
        let sessions = Sessions::new(DEFAULT_IDLE);
        let now = Instant::now();
        let ticket = sessions.open_at(agent(), now);
        let opened = sessions.redeem_at(&ticket, now).expect("the ticket opens a session");
        assert_eq!(opened.found.holder, agent());
        assert_eq!(opened.cookie.len(), 64);
        assert_ne!(opened.cookie, ticket);
        assert_ne!(opened.found.csrf, opened.cookie);
        assert!(sessions.redeem_at(&ticket, now).is_none(), "a spent ticket opens nothing");
        assert_eq!(sessions.find_at(&opened.cookie, now), Some(opened.found));
        assert!(sessions.find_at(&ticket, now).is_none(), "a ticket is no cookie");
    }

    #[test]
    fn a_ticket_expires_unopened() {
        let sessions = Sessions::new(DEFAULT_IDLE);
        let now = Instant::now();
        let ticket = sessions.open_at(agent(), now);
        assert!(sessions.redeem_at(&ticket, now + TICKET_LIFETIME).is_none());
    }

    #[test]
    fn a_session_ends_when_idle_in_all_and_at_logout() {
        let idle = Duration::from_secs(60);
        let sessions = Sessions::new(idle);
        let start = Instant::now();
        let cookie = sessions.redeem_at(&sessions.open_at(agent(), start), start).unwrap().cookie;
        // Activity keeps it open...
        let mut now = start;
        for _ in 0..10 {
            now += Duration::from_secs(50);
            assert!(sessions.find_at(&cookie, now).is_some());
        }
        // ...until a pause longer than the idle timeout.
        assert!(sessions.find_at(&cookie, now + idle).is_none());

        let cookie = sessions.redeem_at(&sessions.open_at(agent(), start), start).unwrap().cookie;
        let mut now = start;
        while now.duration_since(start) + Duration::from_secs(30) < SESSION_LIFETIME {
            now += Duration::from_secs(30);
            assert!(sessions.find_at(&cookie, now).is_some());
        }
        assert!(sessions.find_at(&cookie, start + SESSION_LIFETIME).is_none(), "a working day at most");

        let cookie = sessions.redeem(&sessions.open(agent())).unwrap().cookie;
        assert_eq!(sessions.live(), 1);
        sessions.close(&cookie);
        assert!(sessions.find(&cookie).is_none());
        assert_eq!(sessions.live(), 0);
    }

    #[test]
    fn the_tables_are_bounded() {
        let sessions = Sessions::new(DEFAULT_IDLE);
        let now = Instant::now();
        let first = sessions.open_at(agent(), now);
        for i in 1..=MAX_TICKETS {
            sessions.open_at(agent(), now + Duration::from_millis(i as u64));
        }
        assert_eq!(sessions.lock().tickets.len(), MAX_TICKETS);
        assert!(sessions.redeem_at(&first, now + Duration::from_secs(1)).is_none(), "the oldest ticket went");
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
        assert!(!same_token("", "a"));
    }
}
