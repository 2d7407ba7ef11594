//! AMQP properties and headers: what the publisher writes for a message, how a delivery's
//! properties become an [`Envelope`] for the receiver checks, and the remaining lifetime a
//! reasoned dead-letter keeps.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::BasicProperties;

use crate::envelope::Envelope;
use crate::topology::{CHUNK_COUNT_HEADER, CHUNK_INDEX_HEADER, SCHEMA_MINOR_HEADER, SCHEMA_VERSION_HEADER};
use crate::Outgoing;

/// The MIME type of every message body.
pub const CONTENT_TYPE: &str = "application/x-protobuf";

/// Header with the end of the message's retention cap (milliseconds since the epoch), so a
/// reasoned dead-letter keeps exactly the original's remaining lifetime.
pub const EXPIRES_AT_HEADER: &str = "x-passerelle-expires-at";

/// AMQP delivery mode of persistent messages.
const PERSISTENT: u8 = 2;

fn millis_since_epoch(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as i64
}

/// The properties of a message to publish as `user`, expiring after `ttl`.
pub(crate) fn outgoing(o: &Outgoing, user: &str, ttl: Duration, now: SystemTime) -> BasicProperties {
    let m = &o.message;
    let mut headers = FieldTable::default();
    headers.insert(SCHEMA_VERSION_HEADER.into(), AMQPValue::LongLongInt(i64::from(m.schema_version())));
    headers.insert(SCHEMA_MINOR_HEADER.into(), AMQPValue::LongLongInt(i64::from(m.schema_minor())));
    if let Some((index, count)) = m.chunk() {
        headers.insert(CHUNK_INDEX_HEADER.into(), AMQPValue::LongLongInt(i64::from(index)));
        headers.insert(CHUNK_COUNT_HEADER.into(), AMQPValue::LongLongInt(i64::from(count)));
    }
    headers.insert(EXPIRES_AT_HEADER.into(), AMQPValue::LongLongInt(millis_since_epoch(o.expires_at)));
    BasicProperties::default()
        .with_message_id(o.message_id.to_string().into())
        .with_type(m.kind().type_name().into())
        .with_content_type(CONTENT_TYPE.into())
        .with_delivery_mode(PERSISTENT)
        .with_user_id(user.into())
        .with_timestamp(now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs())
        .with_correlation_id(m.case_id().into())
        .with_expiration(ttl_text(ttl).into())
        .with_headers(headers)
}

/// An AMQP `expiration`: whole milliseconds as text, at least 1.
pub(crate) fn ttl_text(ttl: Duration) -> String {
    ttl.as_millis().max(1).to_string()
}

/// Reads an integer header whatever integer type the peer chose.
pub(crate) fn int_header(headers: Option<&FieldTable>, key: &str) -> Option<i64> {
    integer(headers?.inner().get(&ShortString::from(key))?)
}

/// An integer header value, whatever integer type the peer chose.
pub fn integer(value: &AMQPValue) -> Option<i64> {
    match value {
        AMQPValue::ShortShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortShortUInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortUInt(v) => Some(i64::from(*v)),
        AMQPValue::LongInt(v) => Some(i64::from(*v)),
        AMQPValue::LongUInt(v) => Some(i64::from(*v)),
        AMQPValue::LongLongInt(v) => Some(*v),
        _ => None,
    }
}

/// Reads a text header.
pub(crate) fn text_header(headers: Option<&FieldTable>, key: &str) -> Option<String> {
    match headers?.inner().get(&ShortString::from(key))? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// The receiver's view of a delivery (the body is moved out of it).
pub(crate) fn envelope(props: &BasicProperties, body: Vec<u8>, redelivered: bool) -> Envelope {
    let text = |s: &Option<ShortString>| s.as_ref().map(|s| s.as_str().to_owned());
    let headers = props.headers().as_ref();
    Envelope {
        type_name: text(props.kind()),
        body,
        user_id: text(props.user_id()),
        message_id: text(props.message_id()),
        correlation_id: text(props.correlation_id()),
        schema_version: int_header(headers, SCHEMA_VERSION_HEADER),
        schema_minor: int_header(headers, SCHEMA_MINOR_HEADER),
        chunk_index: int_header(headers, CHUNK_INDEX_HEADER),
        chunk_count: int_header(headers, CHUNK_COUNT_HEADER),
        redelivered,
    }
}

/// The lifetime a copy of a delivered message may still have: until the cap in
/// [`EXPIRES_AT_HEADER`], else the original `expiration` counted from its `timestamp`.
/// `None` when the message carries neither (the queue TTL bounds it); `Some(ZERO)` when it is
/// already past.
pub(crate) fn remaining(props: &BasicProperties, now: SystemTime) -> Option<Duration> {
    let now_ms = millis_since_epoch(now);
    let left_ms = if let Some(expires_at) = int_header(props.headers().as_ref(), EXPIRES_AT_HEADER) {
        expires_at - now_ms
    } else {
        let ttl: i64 = props.expiration().as_ref()?.as_str().parse().ok()?;
        let sent_ms = i64::try_from(*props.timestamp().as_ref()?).ok()?.saturating_mul(1000);
        sent_ms + ttl - now_ms
    };
    Some(Duration::from_millis(left_ms.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, SCHEMA_VERSION};
    use passerelle_protocol::v1;

    #[test]
    fn published_properties_round_trip_into_an_envelope_that_passes_the_checks() {
        let m = Message::Result(v1::Result {
            schema_version: SCHEMA_VERSION,
            sender: "obs".into(),
            case_id: "case-9".into(),
            chunk_index: 3,
            chunk_count: 4,
            ..Default::default()
        });
        let now = SystemTime::now();
        let o = Outgoing::new(m.clone(), "cnaf", now + Duration::from_secs(60));
        let props = outgoing(&o, "u-obs", Duration::from_secs(60), now);
        assert_eq!(props.expiration().as_ref().unwrap().as_str(), "60000");
        assert_eq!(props.delivery_mode(), &Some(2));
        let env = envelope(&props, m.encode(), false);
        assert_eq!(env, Envelope::of(&m, &o.message_id.to_string(), "u-obs"));
        let left = remaining(&props, now + Duration::from_secs(15)).unwrap();
        assert!(left <= Duration::from_secs(45) && left > Duration::from_secs(44), "{left:?}");
        assert_eq!(remaining(&props, now + Duration::from_secs(90)), Some(Duration::ZERO));
    }

    /// Every AMQP property a sender sets is set on `props`, and named in the `contract` (a proto
    /// file's header).
    fn every_property_set_and_documented(contract: &str, props: &BasicProperties) {
        for (property, set) in [
            ("type", props.kind().is_some()),
            ("content_type", props.content_type().is_some()),
            ("message_id", props.message_id().is_some()),
            ("user_id", props.user_id().is_some()),
            ("correlation_id", props.correlation_id().is_some()),
            ("expiration", props.expiration().is_some()),
            ("timestamp", props.timestamp().is_some()),
            ("delivery_mode", props.delivery_mode() == &Some(PERSISTENT)),
        ] {
            assert!(set && contract.contains(&format!("`{property}`")), "property {property}");
        }
    }

    #[test]
    fn the_transfer_contract_names_every_property_and_header_a_transfer_is_published_with() {
        let contract = include_str!("../../../../proto/passerelle/v1/transfer.proto");
        let m = Message::Transfer(v1::Transfer {
            schema_version: SCHEMA_VERSION,
            sender: "carsat-sud-est.ss-13".into(),
            transfer_id: "0190a0b0-0000-7000-8000-0000000000e1".into(),
            chunk_index: 0,
            chunk_count: 2,
            ..Default::default()
        });
        let now = SystemTime::now();
        let o = Outgoing::new(m, "cramif.ss-75", now + Duration::from_secs(60));
        let props = outgoing(&o, "u-ss-13", Duration::from_secs(60), now);
        let headers = props.headers().as_ref().unwrap().inner();
        assert_eq!(headers.len(), 5);
        for key in headers.keys() {
            assert!(contract.contains(&format!("`{}`", key.as_str())), "header {key:?} undocumented");
        }
        every_property_set_and_documented(contract, &props);
        assert!(contract.contains(CONTENT_TYPE) && contract.contains("`mandatory`"));
        assert!(contract.contains("`{prefix}.transfers-dead-letters`"), "where a refused transfer goes");
        assert!(contract.contains(&format!("over {} MiB", crate::envelope::MAX_MESSAGE_BYTES / (1024 * 1024))));
        assert!(!contract.contains("deduplicates on it"), "the receiver deduplicates on the ids in the message");
    }

    #[test]
    fn the_rights_contract_names_every_property_and_header_a_rights_message_is_published_with() {
        let contract = include_str!("../../../../proto/passerelle/v1/rights.proto");
        let request_id = "0190a0b0-0000-7000-8000-0000000000d1";
        let request = Message::RightsRequest(v1::RightsRequest {
            schema_version: SCHEMA_VERSION,
            sender: "carsat-sud-est".into(),
            request_id: request_id.into(),
            recipient: "cnaf.caf-13".into(),
            ..Default::default()
        });
        let answer = Message::RightsAnswer(v1::RightsAnswer {
            schema_version: SCHEMA_VERSION,
            sender: "cnaf.caf-13".into(),
            request_id: request_id.into(),
            recipient: "carsat-sud-est".into(),
            ..Default::default()
        });
        let now = SystemTime::now();
        for m in [request, answer] {
            let o = Outgoing::to_recipient(m.clone(), now + Duration::from_secs(60)).unwrap();
            let props = outgoing(&o, "u", Duration::from_secs(60), now);
            assert!(contract.contains(&format!("`{}`", m.kind().type_name())), "{}", m.kind());
            assert_eq!(props.correlation_id().as_ref().map(|c| c.as_str()), Some(request_id), "the request_id");
            let headers = props.headers().as_ref().unwrap().inner();
            assert_eq!(headers.len(), 3, "no chunk headers: a rights message is never chunked");
            for key in headers.keys() {
                assert!(contract.contains(&format!("`{}`", key.as_str())), "header {key:?} undocumented");
            }
            every_property_set_and_documented(contract, &props);
            assert_eq!(envelope(&props, m.encode(), false), Envelope::of(&m, &o.message_id.to_string(), "u"));
        }
        assert!(contract.contains(CONTENT_TYPE) && contract.contains("`mandatory`"));
        for queue in [
            crate::Queue::ObservatoryRights("{code}".into()),
            crate::Queue::OfficeRights("{body}.{office}".into()),
            crate::Queue::BodyRights("{body}".into()),
        ] {
            assert!(contract.contains(&format!("`{}`", queue.name("{prefix}"))), "{}", queue.name("{prefix}"));
        }
        assert!(contract.contains(&format!("`{}`", crate::topology::Exchange::Rights.name("{prefix}"))));
        let ttl_days = crate::topology::QUEUE_TTL.as_secs() / 86_400;
        assert!(contract.contains(&format!("{ttl_days}-day TTL, delivery limit {}", crate::topology::DELIVERY_LIMIT)));
    }

    #[test]
    fn without_the_cap_header_the_expiration_counts_from_the_timestamp() {
        let now = SystemTime::now();
        let props = BasicProperties::default()
            .with_expiration("10000".into())
            .with_timestamp(now.duration_since(UNIX_EPOCH).unwrap().as_secs());
        let left = remaining(&props, now).unwrap();
        assert!(left <= Duration::from_secs(10) && left >= Duration::from_secs(9), "{left:?}");
        assert_eq!(remaining(&BasicProperties::default(), now), None);
    }
}
