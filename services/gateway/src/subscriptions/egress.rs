//! Where webhooks may go: not into the gateway's own network. A subscriber names the URL, so a
//! check of the URL's text alone is not enough — `http://[::ffff:127.0.0.1]/` and any host name
//! that resolves to a private address reach the same few places — and the addresses actually
//! connected to are checked too: [`PublicOnly`] is the webhook client's resolver, refusing every
//! inward address at connect time, on every delivery. `GONGSHI_WEBHOOK_ALLOW_PRIVATE` turns both
//! checks off (tests, a receiver inside the same network).

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether an IPv4 address is inside: this host (0/8, 127/8), private (RFC 1918), shared address
/// space (100.64/10, RFC 6598), link-local (169.254/16, cloud metadata), benchmarking (198.18/15),
/// multicast, reserved (240/4) or broadcast.
fn inward_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240
}

/// Whether an IPv6 address is inside: loopback, unspecified, unique local (fc00::/7), link-local
/// (fe80::/10), multicast, or an IPv4 address in IPv6 clothing — mapped (`::ffff:a.b.c.d`),
/// compatible (`::a.b.c.d`), NAT64 (64:ff9b::/96) or 6to4 (2002::/16) — judged as that IPv4
/// address.
fn inward_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return inward_v4(v4);
    }
    if s[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified() {
        return inward_v4(embedded(s[6], s[7]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return inward_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return inward_v4(embedded(s[1], s[2]));
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        || ip.is_multicast()
}

/// Whether a webhook may not connect to `ip` (unless private receivers are allowed).
pub fn is_inward(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => inward_v4(v4),
        IpAddr::V6(v6) => inward_v6(v6),
    }
}

/// The webhook client's DNS resolver: the system's answers without the inward addresses; a name
/// with nothing else is an error naming it, so the delivery fails and is retried (and shown).
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> =
                all.iter().copied().filter(|a| !is_inward(a.ip())).collect();
            if public.is_empty() {
                return Err(format!(
                    "webhook 主机 {host} 只解析到内部地址 (resolves only to internal addresses: {:?})",
                    all.iter().map(SocketAddr::ip).collect::<Vec<_>>()
                )
                .into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_an_inward_address_is_inward() {
        for inward in [
            "127.0.0.1",
            "127.8.9.10",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "198.18.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
        ] {
            let ip: IpAddr = inward.parse().expect(inward);
            assert!(is_inward(ip), "{inward} is inward");
        }
        for outward in [
            "8.8.8.8",
            "203.0.113.9",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "2002:808:808::1",
        ] {
            let ip: IpAddr = outward.parse().expect(outward);
            assert!(!is_inward(ip), "{outward} is public");
        }
    }

    #[tokio::test]
    async fn names_that_resolve_inward_are_refused() {
        let refused = PublicOnly
            .resolve(Name::from_str("localhost").expect("name"))
            .await;
        let Err(e) = refused else {
            panic!("localhost resolved to a public address")
        };
        assert!(e.to_string().contains("localhost"), "{e}");
    }

    use std::str::FromStr;
}
