//! Webhook subscriptions (routes in `routes::subscriptions`): a bidder's saved search with a
//! webhook URL and secret. Deliveries: see [`worker`], signed as [`signature`] says.

pub mod signature;
pub mod worker;

/// Checks a webhook URL: absolute http(s) with a host; unless `allow_private`, not a literal
/// loopback, private, link-local or unspecified address nor `localhost` (names are not
/// resolved here: a name that resolves inward is the network's egress policy to stop).
pub(crate) fn webhook_url(raw: &str, allow_private: bool) -> Result<String, String> {
    use std::net::IpAddr;
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|e| format!("webhook_url: '{raw}' 不是有效网址 (not a valid URL: {e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "webhook_url: '{raw}' 应为 http 或 https 网址 (must be an http or https URL)"
        ));
    }
    let Some(host) = url.host_str() else {
        return Err(format!(
            "webhook_url: '{raw}' 缺少主机名 (the URL names no host)"
        ));
    };
    let inward = match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(IpAddr::V4(ip)) => {
            ip.is_loopback() || ip.is_unspecified() || ip.is_private() || ip.is_link_local()
        }
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_unique_local()
                || ip.is_unicast_link_local()
        }
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    };
    if inward && !allow_private {
        return Err(format!(
            "webhook_url: '{raw}' 指向内部地址 (points into the gateway's own network; \
             GONGSHI_WEBHOOK_ALLOW_PRIVATE allows it)"
        ));
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::webhook_url;

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
        ] {
            assert!(webhook_url(bad, false).is_err(), "{bad}");
        }
        assert!(webhook_url("http://127.0.0.1:9/hook", true).is_ok());
        assert!(webhook_url("ftp://127.0.0.1/x", true).is_err());
    }
}
