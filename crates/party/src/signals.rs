//! Stop signals for the daemons: arm the shutdown future *before* a daemon reports healthy, so a
//! SIGTERM that arrives as soon as `/health` says ok takes the graceful path (stop consuming,
//! finish in flight, exit 0) instead of the default action (immediate termination).

use std::future::Future;

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what service managers send), the stop signal of every
/// daemon.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("stop signal received");
}

/// Polls `shutdown` once now — which registers the signal handlers it waits on — and returns a
/// future that completes when it does (at once if it already has).
pub async fn armed<F>(shutdown: F) -> impl Future<Output = ()> + Send + 'static
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut shutdown = Box::pin(shutdown);
    let done = tokio::select! {
        biased;
        _ = &mut shutdown => true,
        _ = std::future::ready(()) => false,
    };
    async move {
        if !done {
            shutdown.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_armed_future_completes_with_the_original() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let polled = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = std::sync::Arc::clone(&polled);
        let shutdown = armed(async move {
            seen.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = rx.await;
        })
        .await;
        assert!(polled.load(std::sync::atomic::Ordering::SeqCst), "polled once before returning");
        tx.send(()).unwrap();
        shutdown.await;
        armed(async {}).await.await;
    }
}
