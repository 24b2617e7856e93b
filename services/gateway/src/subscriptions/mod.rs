//! Webhook subscriptions (routes in `routes::subscriptions`): a bidder's saved search with a
//! webhook URL and secret. Deliveries: see [`worker`], signed as [`signature`] says.

pub mod egress;
pub mod signature;
pub mod worker;

/// The longest webhook URL accepted, in characters (what common servers and proxies take in a
/// request line).
pub const MAX_WEBHOOK_URL_CHARS: usize = 2048;

/// Checks a webhook URL: absolute http(s) with a host, at most [`MAX_WEBHOOK_URL_CHARS`]; unless
/// `allow_private`, not a literal inward address in any spelling ([`egress::is_inward`]:
/// loopback, private, link-local, shared, unspecified, IPv4-mapped …) nor `localhost`. Host names
/// are checked where it matters, when the webhook client connects ([`egress::PublicOnly`]); this
/// is the early, clear refusal at subscription time, and the delivery worker applies it again
/// before every delivery. The messages never quote the URL: they are stored as a delivery's
/// error and shown to operators, and the URL may carry the bidder's password or token.
pub(crate) fn webhook_url(raw: &str, allow_private: bool) -> Result<String, String> {
    if raw.chars().count() > MAX_WEBHOOK_URL_CHARS {
        return Err(format!(
            "webhook_url: 超过 {MAX_WEBHOOK_URL_CHARS} 个字符 (longer than {MAX_WEBHOOK_URL_CHARS} characters)"
        ));
    }
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|e| format!("webhook_url: 不是有效网址 (not a valid URL: {e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "webhook_url: 应为 http 或 https 网址，而不是 {} (must be an http or https URL)",
            url.scheme()
        ));
    }
    let inward = match url.host() {
        None => {
            return Err("webhook_url: 缺少主机名 (the URL names no host)".to_owned());
        }
        Some(url::Host::Ipv4(ip)) => egress::is_inward(ip.into()),
        Some(url::Host::Ipv6(ip)) => egress::is_inward(ip.into()),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost")
        }
    };
    if inward && !allow_private {
        return Err(format!(
            "webhook_url: 主机 {} 是内部地址 (points into the gateway's own network; \
             GONGSHI_WEBHOOK_ALLOW_PRIVATE allows it)",
            url.host_str().unwrap_or_default()
        ));
    }
    Ok(url.to_string())
}

/// `text` (a receiver's error as stored) with every http(s) URL in it cut to its origin, for the
/// operators: a redirect's `Location` may repeat the bidder's token in its path or query.
pub(crate) fn origins_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest
        .find("http://")
        .into_iter()
        .chain(rest.find("https://"))
        .min()
    {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        // A URL ends at white space, at a character outside ASCII (the Chinese text around it)
        // or at a closing bracket or quote.
        let end = tail
            .find(|c: char| {
                c.is_whitespace() || !c.is_ascii() || matches!(c, ')' | '\'' | '"' | '>')
            })
            .unwrap_or(tail.len());
        out.push_str(&receiver_origin(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// A webhook URL as the API shows it: a password in it (`https://user:pw@host/`, which the
/// delivery sends as Basic authentication) masked as `***`, so that a view of the subscription,
/// a screen or a log holding it does not hold the password.
pub(crate) fn shown_url(stored: &str) -> String {
    match reqwest::Url::parse(stored) {
        Ok(mut url) if url.password().is_some() => {
            // Cannot fail: the URL has a host (it has a password).
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => stored.to_owned(),
    }
}

/// A stored webhook URL as operators see it: its origin (scheme, host, port) only. The path and
/// query may carry the bidder's own credentials, which are not the trading centre's to read.
pub(crate) fn receiver_origin(stored: &str) -> String {
    reqwest::Url::parse(stored).map_or_else(
        |_| "（地址无法解析）".to_owned(),
        |url| url.origin().ascii_serialization(),
    )
}

#[cfg(test)]
mod tests {
    use super::{origins_only, receiver_origin, shown_url, webhook_url};

    #[test]
    fn operators_see_urls_in_errors_cut_to_their_origin() {
        assert_eq!(
            origins_only(
                "接收方返回 302 Found；不跟随重定向，请把订阅的地址改为 https://u:p@hooks.example.com/v2?api_key=K（PATCH …） (redirects)"
            ),
            "接收方返回 302 Found；不跟随重定向，请把订阅的地址改为 https://hooks.example.com（PATCH …） (redirects)"
        );
        assert_eq!(origins_only("no url here"), "no url here");
        assert_eq!(
            origins_only("a http://a.example/x and https://b.example:8443/y?z"),
            "a http://a.example and https://b.example:8443"
        );
    }

    #[test]
    fn refusals_never_quote_the_url() {
        for raw in [
            "ftp://bob:PW@example.com/TOKEN",
            "http://bob:PW@127.0.0.1/TOKEN",
            "not a url TOKEN",
        ] {
            let e = webhook_url(raw, false).expect_err(raw);
            assert!(!e.contains("PW") && !e.contains("TOKEN"), "{e}");
        }
        let long = format!("https://example.com/{}", "x".repeat(3000));
        assert!(webhook_url(&long, false).is_err_and(|e| e.contains("2048")));
    }

    #[test]
    fn operators_see_a_receivers_origin_only() {
        assert_eq!(
            receiver_origin("https://u:p@hooks.example.com:8443/t/SECRET?k=v"),
            "https://hooks.example.com:8443"
        );
        assert_eq!(
            receiver_origin("http://投标.example.cn/hook"),
            "http://xn--oru24j.example.cn"
        );
    }

    #[test]
    fn a_password_in_a_webhook_url_is_not_shown() {
        assert_eq!(
            shown_url("https://bidder:s3cret@bidder.example.com/hook"),
            "https://bidder:***@bidder.example.com/hook"
        );
        assert_eq!(
            shown_url("https://bidder.example.com/hook"),
            "https://bidder.example.com/hook"
        );
    }

    #[test]
    fn webhook_urls_are_checked() {
        assert!(webhook_url("https://bidder.example.com/hook", false).is_ok());
        for bad in [
            "ftp://bidder.example.com/x",
            "not a url",
            "http://127.0.0.1:9/hook",
            "http://localhost/hook",
            "http://10.1.2.3/hook",
            "http://169.254.169.254/latest",
            "http://[::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://[::ffff:a9fe:a9fe]/latest",
            "http://0x7f000001/hook",
            "http://2130706433/hook",
            "http://127.1/hook",
            "http://LOCALHOST./hook",
            "http://app.localhost/hook",
        ] {
            assert!(webhook_url(bad, false).is_err(), "{bad}");
        }
        assert!(webhook_url("http://127.0.0.1:9/hook", true).is_ok());
        assert!(webhook_url("ftp://127.0.0.1/x", true).is_err());
    }
}
