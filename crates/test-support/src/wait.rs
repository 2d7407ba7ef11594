//! Bounded waits: poll a condition until it holds or a deadline passes, then fail the test
//! saying what was awaited. Tests never sleep to synchronise; they wait for what they need.

use std::future::Future;
use std::time::{Duration, Instant};

/// The deadline of a wait when the test gives none: long enough for a loaded 2-core machine
/// running a debug build, short enough that a lost message fails the run rather than hangs it.
pub const WAIT: Duration = Duration::from_secs(30);

/// The first pause between two looks; it doubles up to [`MAX_POLL`], so a cheap condition is
/// seen soon and an expensive one (a `rabbitmqctl` call, a file scan) is not run in a loop.
const FIRST_POLL: Duration = Duration::from_millis(10);
/// The longest pause between two looks.
const MAX_POLL: Duration = Duration::from_millis(200);

/// What a condition gives: `true` or `Some(value)` when it holds.
pub trait Reached {
    /// What the wait returns once the condition holds.
    type Value;
    /// `Some` once the condition holds.
    fn reached(self) -> Option<Self::Value>;
}

impl Reached for bool {
    type Value = ();
    fn reached(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Reached for Option<T> {
    type Value = T;
    fn reached(self) -> Option<T> {
        self
    }
}

fn next_poll(poll: Duration) -> Duration {
    (poll * 2).min(MAX_POLL)
}

/// Polls `cond` until it holds (`true`, or `Some(value)`, which is returned), failing the test
/// after [`WAIT`] with `what` in the message.
pub async fn eventually<R: Reached>(what: &str, cond: impl FnMut() -> R) -> R::Value {
    eventually_within(what, WAIT, cond).await
}

/// [`eventually`] with its own deadline.
pub async fn eventually_within<R: Reached>(what: &str, within: Duration, mut cond: impl FnMut() -> R) -> R::Value {
    let deadline = tokio::time::Instant::now() + within;
    let mut poll = FIRST_POLL;
    loop {
        if let Some(value) = cond().reached() {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {within:?} waiting for: {what}");
        tokio::time::sleep(poll).await;
        poll = next_poll(poll);
    }
}

/// [`eventually`] for a condition that is itself asynchronous (it talks to the broker).
pub async fn eventually_async<R, F, Fut>(what: &str, mut cond: F) -> R::Value
where
    R: Reached,
    F: FnMut() -> Fut,
    Fut: Future<Output = R>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut poll = FIRST_POLL;
    loop {
        if let Some(value) = cond().await.reached() {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {WAIT:?} waiting for: {what}");
        tokio::time::sleep(poll).await;
        poll = next_poll(poll);
    }
}

/// [`eventually_within`] for synchronous tests (those that drive processes): the thread sleeps
/// between looks.
pub fn eventually_blocking<R: Reached>(what: &str, within: Duration, mut cond: impl FnMut() -> R) -> R::Value {
    let deadline = Instant::now() + within;
    let mut poll = FIRST_POLL;
    loop {
        if let Some(value) = cond().reached() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for: {what}");
        std::thread::sleep(poll);
        poll = next_poll(poll);
    }
}

/// Asserts that a condition becomes true within [`WAIT`](crate::WAIT), in an async test:
/// `assert_eventually!(store.count() == 3)` or with a message,
/// `assert_eventually!(store.count() == 3, "three cases for {body}")`. The expression is
/// evaluated again at each look.
#[macro_export]
macro_rules! assert_eventually {
    ($cond:expr $(,)?) => {
        $crate::eventually(stringify!($cond), || $cond).await
    };
    ($cond:expr, $($what:tt)+) => {
        $crate::eventually(&format!($($what)+), || $cond).await
    };
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_wait_returns_what_the_condition_found() {
        let looks = Cell::new(0);
        let found = eventually("the third look", || {
            looks.set(looks.get() + 1);
            (looks.get() == 3).then_some("found")
        })
        .await;
        assert_eq!((found, looks.get()), ("found", 3));
    }

    #[tokio::test]
    #[should_panic(expected = "timed out after 50ms waiting for: what never happens")]
    async fn a_wait_fails_at_its_deadline_naming_what_it_awaited() {
        eventually_within("what never happens", Duration::from_millis(50), || false).await;
    }

    #[tokio::test]
    async fn the_macro_waits_for_an_expression() {
        let looks = Cell::new(0);
        assert_eventually!({
            looks.set(looks.get() + 1);
            looks.get() >= 2
        });
        let n = async { looks.get() }.await;
        assert_eventually!(n >= 2, "two looks, had {n}");
        assert_eq!(looks.get(), 2);
    }

    #[tokio::test]
    async fn an_async_condition_is_awaited_at_each_look() {
        let looks = Cell::new(0);
        eventually_async("two looks", || async {
            looks.set(looks.get() + 1);
            looks.get() == 2
        })
        .await;
        assert_eq!(looks.get(), 2);
    }

    #[test]
    #[should_panic(expected = "waiting for: a blocked thread")]
    fn a_blocking_wait_fails_at_its_deadline() {
        eventually_blocking("a blocked thread", Duration::from_millis(30), || false);
    }
}
