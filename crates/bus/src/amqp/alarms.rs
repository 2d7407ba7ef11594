//! The delivery-limit alarm: the observatory consumes the alarm queue, which receives a copy of
//! every message the broker dead-lettered because it hit the delivery limit, logs each as an
//! error (type, id, queue; never the body) and counts it. A drop is never a normal outcome.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use passerelle_protocol::untrusted::Shown;
use tokio::sync::watch;

use super::connection::{jitter, Connector, RECONNECT_INITIAL_BACKOFF};
use super::properties::text_header;
use crate::consumer::stopped;
use crate::topology::alarm_queue;
use crate::Kind;

/// Alarm copies fetched at once (they are rare and tiny to handle).
const ALARM_PREFETCH: u16 = 16;

/// Runs until stopped or the bus closes, reconnecting after losses.
pub(crate) async fn watch_alarms(connector: Arc<Connector>, count: Arc<AtomicU64>, mut stop: watch::Receiver<bool>) {
    let queue = alarm_queue(&connector.settings.prefix);
    loop {
        let Ok(live) = connector.live_retrying(None, Some(&mut stop)).await else { return };
        let result: lapin::Result<()> = async {
            let ch = live.conn.create_channel().await?;
            ch.basic_qos(ALARM_PREFETCH, BasicQosOptions::default()).await?;
            let mut stream = ch
                .basic_consume(
                    queue.as_str().into(),
                    "passerelle-alarms".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            loop {
                let d = tokio::select! {
                    _ = stopped(&mut stop) => {
                        let _ = ch.close(200, "passerelle: closing".into()).await;
                        return Ok(());
                    }
                    d = stream.next() => d,
                };
                let Some(d) = d else { return Ok(()) };
                let d = d?;
                let headers = d.properties.headers().as_ref();
                count.fetch_add(1, Ordering::SeqCst);
                // Every field is what the copy's publisher wrote (a forged copy included).
                let queue = text_header(headers, "x-first-death-queue");
                let kind = d.properties.kind().as_ref().map(|k| k.to_string());
                let message_id = d.properties.message_id().as_ref().map(|m| m.to_string());
                tracing::error!(
                    alarm = "delivery_limit",
                    queue = queue.as_deref().map(|q| display(Shown::id(q))),
                    kind = kind.as_deref().map(|k| display(Kind::shown_type_name(k))),
                    message_id = message_id.as_deref().map(|m| display(Shown::id(m))),
                    "ALARM: the broker dead-lettered a message at the delivery limit"
                );
                d.acker.ack(BasicAckOptions::default()).await?;
            }
        }
        .await;
        if *stop.borrow() || connector.is_closed() {
            return;
        }
        if let Err(e) = result {
            tracing::warn!(error = %e, "delivery-limit alarm watcher lost its channel");
        }
        tokio::select! {
            _ = tokio::time::sleep(jitter(RECONNECT_INITIAL_BACKOFF)) => {}
            _ = stopped(&mut stop) => return,
        }
    }
}
