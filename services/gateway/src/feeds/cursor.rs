//! The feeds' opaque paging cursor: a bound on the store's global sequence, versioned and
//! base64url-encoded so clients treat it as a token (`v1:b:<seq>` = older than seq,
//! `v1:a:<seq>` = newer than seq).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gongshi_platform::store::feed::Window;

/// Encodes a window as a cursor (`None` for the newest page, which needs none).
pub fn encode(window: Window) -> Option<String> {
    let raw = match window {
        Window::Newest => return None,
        Window::Before(seq) => format!("v1:b:{seq}"),
        Window::After(seq) => format!("v1:a:{seq}"),
    };
    Some(URL_SAFE_NO_PAD.encode(raw))
}

/// Decodes a cursor; the error is a message for the client.
pub fn decode(cursor: &str) -> Result<Window, String> {
    let bad =
        || format!("cursor: '{cursor}' 不是本服务给出的游标 (not a cursor this service issued)");
    let raw = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = raw.splitn(3, ':');
    let (Some("v1"), Some(dir), Some(seq)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let seq: i64 = seq.parse().map_err(|_| bad())?;
    if seq < 0 {
        return Err(bad());
    }
    match dir {
        "b" => Ok(Window::Before(seq)),
        "a" => Ok(Window::After(seq)),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        for w in [
            Window::Before(1),
            Window::After(0),
            Window::Before(9_007_199_254_740_993),
        ] {
            assert_eq!(decode(&encode(w).expect("cursor")), Ok(w));
        }
        for junk in ["", "abc", "djE6Yjp4", "djI6YjoxMA"] {
            assert!(decode(junk).is_err(), "{junk}");
        }
    }
}
