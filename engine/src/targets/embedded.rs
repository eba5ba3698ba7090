//! IPv6 addresses that carry an IPv4 address: a connection to one reaches
//! (through a translator, a tunnel, or the local stack) the IPv4 address it
//! carries, so the policy judges that address too. Without this,
//! `64:ff9b::a9fe:a9fe` (NAT64) or `2002:a9fe:a9fe::1` (6to4) would reach
//! the cloud metadata service 169.254.169.254 although their own prefixes
//! are global.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// How an IPv6 address carries an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedding {
    /// `::a.b.c.d` (deprecated IPv4-compatible, RFC 4291).
    Compatible,
    /// `64:ff9b::a.b.c.d` and the local-use `64:ff9b:1::/48` (RFC 6052,
    /// RFC 8215): the last 32 bits, as a /96 translator reads them.
    Nat64,
    /// `2002:AABB:CCDD::/48` (6to4, RFC 3056): bits 16 to 47.
    SixToFour,
    /// `2001:0:SSSS:SSSS:…` (Teredo, RFC 4380): the server's address…
    TeredoServer,
    /// …and the client's, obfuscated (every bit flipped) in the last 32 bits.
    TeredoClient,
}

impl fmt::Display for Embedding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Embedding::Compatible => "IPv4-compatible, for",
            Embedding::Nat64 => "NAT64, for",
            Embedding::SixToFour => "6to4, for",
            Embedding::TeredoServer => "Teredo server",
            Embedding::TeredoClient => "Teredo client",
        })
    }
}

/// The IPv4 addresses `ip` carries, with how (none, one, or two for
/// Teredo). IPv4-mapped addresses (`::ffff:a.b.c.d`) are not listed: they
/// are not a translation but the IPv4 address itself, and are judged as
/// such (see `canonical`).
pub fn embedded_ipv4(ip: Ipv6Addr) -> Vec<(Embedding, Ipv4Addr)> {
    let s = ip.segments();
    let v4 = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    let last = v4(s[6], s[7]);
    match s {
        // `::` and `::1` are the unspecified and loopback addresses.
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => Vec::new(),
        [0, 0, 0, 0, 0, 0, _, _] => vec![(Embedding::Compatible, last)],
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 1, ..] => vec![(Embedding::Nat64, last)],
        [0x2002, high, low, ..] => vec![(Embedding::SixToFour, v4(high, low))],
        [0x2001, 0, high, low, ..] => vec![(Embedding::TeredoServer, v4(high, low)), (Embedding::TeredoClient, !last)],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedded(ip: &str) -> Vec<(Embedding, Ipv4Addr)> {
        embedded_ipv4(ip.parse().unwrap())
    }

    #[test]
    fn each_form_yields_the_address_it_carries() {
        let v4 = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(embedded("64:ff9b::a9fe:a9fe"), [(Embedding::Nat64, v4("169.254.169.254"))]);
        assert_eq!(embedded("64:ff9b::7f00:1"), [(Embedding::Nat64, v4("127.0.0.1"))]);
        assert_eq!(embedded("64:ff9b:1::a00:1"), [(Embedding::Nat64, v4("10.0.0.1"))]);
        assert_eq!(embedded("2002:a9fe:a9fe::1"), [(Embedding::SixToFour, v4("169.254.169.254"))]);
        assert_eq!(embedded("2002:7f00:1::1"), [(Embedding::SixToFour, v4("127.0.0.1"))]);
        assert_eq!(embedded("::7f00:1"), [(Embedding::Compatible, v4("127.0.0.1"))]);
        // RFC 4380's example: server 65.54.227.120, client 192.0.2.45.
        assert_eq!(
            embedded("2001:0:4136:e378:8000:63bf:3fff:fdd2"),
            [(Embedding::TeredoServer, v4("65.54.227.120")), (Embedding::TeredoClient, v4("192.0.2.45"))]
        );
        for none in ["::", "::1", "::ffff:127.0.0.1", "2001:db8::1", "2606:4700:4700::1111", "64:ff9b:2::1"] {
            assert!(embedded(none).is_empty(), "{none}");
        }
    }
}
