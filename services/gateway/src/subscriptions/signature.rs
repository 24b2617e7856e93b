//! Webhook signatures: `Gongshi-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//! The timestamp is signed with the body so a captured request cannot be replayed later with a
//! fresh timestamp; receivers reject signatures older than a few minutes (README, "Webhooks").
//! While a rolled secret still signs (`PATCH /v1/subscriptions/{id}`), the header carries one
//! `v1=` per secret, the old one first: a receiver accepts the request when any of them matches.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The signature header's name.
pub const HEADER: &str = "Gongshi-Signature";

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for `body` sent at `timestamp`, one `v1=` per secret in the order given.
pub fn sign<'a>(secrets: impl IntoIterator<Item = &'a str>, timestamp: i64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        let digest = mac(secret, timestamp, body).finalize().into_bytes();
        header.push_str(",v1=");
        header.push_str(&hex::encode(digest));
    }
    header
}

/// Whether `header` is a valid signature of `body` (constant-time comparison).
pub fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    v1.iter()
        .any(|sig| mac(secret, t, body).verify_slice(sig).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_tampering_is_caught() {
        let body = r#"{"title":"徐州市三环东路工程招标公告"}"#.as_bytes();
        let h = sign(["s3cret-s3cret-s3cret"], 1_700_000_000, body);
        assert!(h.starts_with("t=1700000000,v1="));
        assert!(verify("s3cret-s3cret-s3cret", &h, body));
        assert!(!verify("other-secret-other", &h, body));
        assert!(!verify("s3cret-s3cret-s3cret", &h, b"{}"));
        let shifted = h.replace("t=1700000000", "t=1700000001");
        assert!(!verify("s3cret-s3cret-s3cret", &shifted, body));
        // Known answer, computed independently with Python's hmac module.
        assert_eq!(
            sign(["key"], 1, b"body"),
            format!(
                "t=1,v1={}",
                "91b5374b153842ad05b2c4eab9349b8321b14703165bd3fb8b034dfb8be98ae5"
            )
        );
    }

    #[test]
    fn while_a_rolled_secret_overlaps_either_key_verifies() {
        let body = b"{}";
        let h = sign(["old-secret-old-secret", "new-secret-new-secret"], 7, body);
        assert_eq!(h.matches(",v1=").count(), 2, "{h}");
        assert!(verify("old-secret-old-secret", &h, body));
        assert!(verify("new-secret-new-secret", &h, body));
        assert!(!verify("third-secret-third", &h, body));
    }
}
