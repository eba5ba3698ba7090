//! Where hooks may deliver (SSRF protection). A webhook engine makes HTTP
//! requests to URLs its tenants choose; without a policy, a tenant could
//! make it call the cloud metadata service, an admin port on loopback or a
//! host on the operator's private network. So, by default, every address
//! that is not globally routable is refused, unless the operator allows its
//! network (`targets.allowed_networks`); `targets.denied_networks` refuses
//! more, and wins over everything. Only `http` and `https`, and with
//! `targets.require_https` only `https`.
//!
//! The address checked is the one connected to: the delivery client
//! resolves names through [`PolicyResolver`], which drops refused
//! addresses, so a name that resolves to a public address when the hook is
//! created and to 127.0.0.1 at delivery (DNS rebinding) is still refused.
//! URLs with a literal IP do not go through a resolver: [`TargetPolicy::check`]
//! refuses them before the request, and at subscribe time.

mod embedded;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, LazyLock};

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use serde::{Deserialize, Serialize};

pub use embedded::Embedding;

/// Restrictions on where hooks deliver. The `[targets]` settings section;
/// applied by [`TargetPolicy`], which refuses non-global addresses by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Targets {
    /// Networks (CIDR) delivery targets may be in even though they are not
    /// global (loopback, private, link-local…).
    pub allowed_networks: Vec<IpNet>,
    /// Networks (CIDR) delivery targets may not be in, even if allowed.
    pub denied_networks: Vec<IpNet>,
    /// Refuse `http://` targets.
    pub require_https: bool,
}

/// The operator's rules for delivery targets; the default refuses every
/// non-global address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    targets: Targets,
}

/// Why a target is refused; the message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("target {0:?} is not a valid URL")]
    Invalid(String),
    #[error("target scheme {0:?} is not allowed: only http and https")]
    Scheme(String),
    /// Without the URL, which may carry a token.
    #[error("target is http, and targets.require_https refuses it: use https")]
    HttpsRequired,
    /// An address in a non-global range, not allowed by the operator.
    #[error("target {target} is in a denied network ({range}); allow it with targets.allowed_networks")]
    NonGlobal { target: Target, range: &'static str },
    /// An address in one of the operator's denied networks.
    #[error("target {target} is in targets.denied_networks ({network})")]
    Denied { target: Target, network: IpNet },
}

/// The refused address, with the name it was resolved from and, when the
/// refusal is about the IPv4 address it carries, that address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: Option<String>,
    pub ip: IpAddr,
    pub embedded: Option<(Embedding, Ipv4Addr)>,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = self.ip;
        match (&self.host, self.embedded) {
            (Some(host), Some((how, v4))) => write!(f, "{host} ({ip}, {how} {v4})"),
            (Some(host), None) => write!(f, "{host} ({ip})"),
            (None, Some((how, v4))) => write!(f, "{ip} ({how} {v4})"),
            (None, None) => write!(f, "{ip}"),
        }
    }
}

/// The address ranges that are not globally reachable (IANA's special-purpose
/// registries), most specific first, with the name an error gives them.
/// IPv4-mapped IPv6 addresses are checked as the IPv4 address they carry;
/// the IPv4 addresses that NAT64, 6to4, Teredo and IPv4-compatible
/// addresses carry are checked as well (see `embedded.rs`).
const NON_GLOBAL: &[(&str, &str)] = &[
    ("0.0.0.0/32", "unspecified"),
    ("0.0.0.0/8", "this network"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared address space (CGNAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local, cloud metadata"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible (deprecated)"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("2001:db8::/32", "documentation"),
    ("2001::/23", "IETF protocol assignments"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "segment routing (SRv6)"),
    ("fc00::/7", "private (unique local)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
];

static NON_GLOBAL_NETS: LazyLock<Vec<(IpNet, &str)>> = LazyLock::new(|| {
    NON_GLOBAL.iter().map(|(net, name)| (net.parse().expect("the table's networks parse"), *name)).collect()
});

/// The non-global range `ip` or an address it carries is in, by name;
/// `None` for a global address.
pub fn non_global_range(ip: IpAddr) -> Option<&'static str> {
    judged(ip).into_iter().find_map(|(_, ip)| range_of(ip))
}

/// The non-global range `ip` itself is in.
fn range_of(ip: IpAddr) -> Option<&'static str> {
    NON_GLOBAL_NETS.iter().find(|(net, _)| net.contains(&ip)).map(|(_, name)| *name)
}

/// The addresses a connection to `ip` reaches, each judged on its own: the
/// address itself (an IPv4-mapped one as its IPv4 address), then the IPv4
/// addresses it carries, with how.
fn judged(ip: IpAddr) -> Vec<(Option<(Embedding, Ipv4Addr)>, IpAddr)> {
    let mut judged = vec![(None, canonical(ip))];
    if let IpAddr::V6(v6) = ip {
        judged.extend(embedded::embedded_ipv4(v6).into_iter().map(|e| (Some(e), IpAddr::V4(e.1))));
    }
    judged
}

/// An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) reaches the IPv4
/// address it carries: it is judged as that address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

impl TargetPolicy {
    pub fn new(targets: Targets) -> Self {
        TargetPolicy { targets }
    }

    /// Whether a connection to `ip` (resolved from `host`, if any) is
    /// allowed. Every address it reaches must pass on its own: none in a
    /// denied network, and each either global or in an allowed network (an
    /// allowed NAT64 prefix does not allow the private addresses behind it).
    pub fn check_ip(&self, host: Option<&str>, ip: IpAddr) -> Result<(), TargetError> {
        let target = |embedded| Target { host: host.map(str::to_owned), ip, embedded };
        let within = |networks: &[IpNet], seen: IpAddr| networks.iter().copied().find(|net| net.contains(&seen));
        let judged = judged(ip);
        // The address as written, too: a denied IPv4-mapped network.
        for (embedded, seen) in std::iter::once((None, ip)).chain(judged.iter().copied()) {
            if let Some(network) = within(&self.targets.denied_networks, seen) {
                return Err(TargetError::Denied { target: target(embedded), network });
            }
        }
        for (embedded, seen) in judged {
            if within(&self.targets.allowed_networks, seen).is_some() {
                continue;
            }
            if let Some(range) = range_of(seen) {
                return Err(TargetError::NonGlobal { target: target(embedded), range });
            }
        }
        Ok(())
    }

    /// What can be checked of a URL without resolving it: the scheme and,
    /// when the host is a literal IP (which no resolver sees), the address.
    /// A host name is checked when the delivery connects.
    pub fn check_url(&self, url: &Url) -> Result<(), TargetError> {
        match url.scheme() {
            "https" => {}
            "http" if self.targets.require_https => return Err(TargetError::HttpsRequired),
            "http" => {}
            other => return Err(TargetError::Scheme(other.to_owned())),
        }
        match url.host() {
            Some(Host::Ipv4(ip)) => self.check_ip(None, IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.check_ip(None, IpAddr::V6(ip)),
            Some(Host::Domain(_)) => Ok(()),
            None => Err(TargetError::Invalid(url.to_string())),
        }
    }

    /// [`check_url`](Self::check_url) on a URL not parsed yet (a
    /// transformer's, for instance); the URL, parsed, when it passes.
    pub fn check(&self, url: &str) -> Result<Url, TargetError> {
        let parsed = Url::parse(url).map_err(|_| TargetError::Invalid(url.to_owned()))?;
        self.check_url(&parsed)?;
        Ok(parsed)
    }

    /// The delivery client: names are resolved through the policy, and no
    /// proxy is used (through a proxy, the policy would judge the proxy's
    /// address, not the target's). Redirects are not followed: a redirect
    /// could lead anywhere.
    pub fn client_builder(self: &Arc<Self>) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .dns_resolver(PolicyResolver(self.clone()))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
    }
}

/// The refusal in a failed request's chain of causes, if the policy refused
/// it at connect time.
pub fn refusal<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a TargetError> {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(refused) = error.downcast_ref::<TargetError>() {
            return Some(refused);
        }
        cause = error.source();
    }
    None
}

/// Resolves with the system resolver and keeps the allowed addresses only;
/// when none is left, fails with the first refusal.
struct PolicyResolver(Arc<TargetPolicy>);

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = policy.keep_allowed(&host, resolved)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

impl TargetPolicy {
    /// The addresses `host` resolved to that the policy allows; the first
    /// refusal when it allows none.
    fn keep_allowed(&self, host: &str, resolved: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, TargetError> {
        let mut refused = None;
        let allowed: Vec<SocketAddr> = resolved
            .into_iter()
            .filter(|addr| match self.check_ip(Some(host), addr.ip()) {
                Ok(()) => true,
                Err(error) => {
                    tracing::debug!(%host, ip = %addr.ip(), %error, "resolved address refused");
                    refused.get_or_insert(error);
                    false
                }
            })
            .collect();
        match refused {
            Some(error) if allowed.is_empty() => Err(error),
            _ => Ok(allowed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &[&str], denied: &[&str], require_https: bool) -> TargetPolicy {
        let nets = |list: &[&str]| list.iter().map(|n| n.parse().unwrap()).collect();
        TargetPolicy::new(Targets { allowed_networks: nets(allowed), denied_networks: nets(denied), require_https })
    }

    #[test]
    fn non_global_addresses_are_classified() {
        let table = [
            ("0.0.0.0", Some("unspecified")),
            ("0.1.2.3", Some("this network")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("192.168.1.1", Some("private")),
            ("100.64.0.1", Some("shared address space (CGNAT)")),
            ("127.0.0.1", Some("loopback")),
            ("127.255.255.254", Some("loopback")),
            ("169.254.169.254", Some("link-local, cloud metadata")),
            ("192.0.0.8", Some("IETF protocol assignments")),
            ("192.0.2.10", Some("documentation")),
            ("198.51.100.7", Some("documentation")),
            ("203.0.113.9", Some("documentation")),
            ("198.18.0.1", Some("benchmarking")),
            ("224.0.0.251", Some("multicast")),
            ("239.255.255.250", Some("multicast")),
            ("255.255.255.255", Some("broadcast")),
            ("240.0.0.1", Some("reserved")),
            ("::", Some("unspecified")),
            ("::1", Some("loopback")),
            ("::127.0.0.1", Some("IPv4-compatible (deprecated)")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:169.254.169.254", Some("link-local, cloud metadata")),
            ("::ffff:10.0.0.1", Some("private")),
            ("64:ff9b:1::1", Some("local-use NAT64")),
            ("100::1", Some("discard-only")),
            ("2001:db8::1", Some("documentation")),
            ("2001::1", Some("IETF protocol assignments")),
            ("3fff::1", Some("documentation")),
            ("fc00::1", Some("private (unique local)")),
            ("fd12:3456::1", Some("private (unique local)")),
            ("fe80::1", Some("link-local")),
            ("fec0::1", Some("site-local (deprecated)")),
            ("ff02::1", Some("multicast")),
            ("5f00::1", Some("segment routing (SRv6)")),
            // IPv6 forms that carry an IPv4 address: judged as that address.
            ("64:ff9b::a9fe:a9fe", Some("link-local, cloud metadata")),
            ("64:ff9b::7f00:1", Some("loopback")),
            ("64:ff9b::a00:1", Some("private")),
            ("2002:a9fe:a9fe::1", Some("link-local, cloud metadata")),
            ("2002:7f00:1::1", Some("loopback")),
            ("2002:c0a8:101::1", Some("private")),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Some("IETF protocol assignments")),
            // Global.
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("100.63.255.255", None),
            ("100.128.0.0", None),
            ("172.15.255.255", None),
            ("172.32.0.0", None),
            ("169.255.0.1", None),
            ("223.255.255.255", None),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::808:808", None),
            ("2002:808:808::1", None),
            ("2606:4700:4700::1111", None),
            ("2a00:1450:4001::1", None),
        ];
        for (ip, range) in table {
            assert_eq!(non_global_range(ip.parse().unwrap()), range, "{ip}");
        }
    }

    #[test]
    fn allowed_networks_open_and_denied_networks_close() {
        let strict = TargetPolicy::default();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            strict.check_ip(None, ip("127.0.0.1")).unwrap_err().to_string(),
            "target 127.0.0.1 is in a denied network (loopback); allow it with targets.allowed_networks"
        );
        assert_eq!(
            strict.check_ip(Some("localhost"), ip("::1")).unwrap_err().to_string(),
            "target localhost (::1) is in a denied network (loopback); allow it with targets.allowed_networks"
        );
        assert!(strict.check_ip(None, ip("93.184.215.14")).is_ok());

        let loopback = policy(&["127.0.0.0/8"], &[], false);
        assert!(loopback.check_ip(None, ip("127.0.0.1")).is_ok());
        assert!(loopback.check_ip(None, ip("::ffff:127.0.0.1")).is_ok(), "mapped addresses match IPv4 networks");
        assert!(loopback.check_ip(None, ip("::1")).is_err(), "IPv6 loopback is another network");
        assert!(loopback.check_ip(None, ip("10.0.0.1")).is_err());

        let denied = policy(&["10.0.0.0/8"], &["10.1.0.0/16", "8.8.8.0/24"], false);
        assert!(denied.check_ip(None, ip("10.2.0.1")).is_ok());
        assert_eq!(
            denied.check_ip(None, ip("10.1.2.3")).unwrap_err().to_string(),
            "target 10.1.2.3 is in targets.denied_networks (10.1.0.0/16)"
        );
        assert!(denied.check_ip(None, ip("8.8.8.8")).is_err(), "a global address can be denied");
        assert!(denied.check_ip(None, ip("::ffff:8.8.8.8")).is_err(), "and its mapped form too");
    }

    #[test]
    fn an_address_carried_by_nat64_6to4_or_teredo_is_judged_as_itself() {
        let strict = TargetPolicy::default();
        let refusal =
            |policy: &TargetPolicy, ip: &str| policy.check_ip(None, ip.parse().unwrap()).err().map(|e| e.to_string());
        assert_eq!(
            refusal(&strict, "64:ff9b::a9fe:a9fe").as_deref(),
            Some(
                "target 64:ff9b::a9fe:a9fe (NAT64, for 169.254.169.254) is in a denied network (link-local, cloud metadata); allow it with targets.allowed_networks"
            )
        );
        assert_eq!(
            refusal(&strict, "2002:7f00:1::1").as_deref(),
            Some(
                "target 2002:7f00:1::1 (6to4, for 127.0.0.1) is in a denied network (loopback); allow it with targets.allowed_networks"
            )
        );
        assert_eq!(refusal(&strict, "64:ff9b::808:808"), None, "NAT64 of a global address");
        assert_eq!(refusal(&strict, "2002:808:808::1"), None, "6to4 of a global address");

        // Teredo is not global; allowed, its server and client must pass too.
        let teredo = policy(&["2001::/32"], &[], false);
        assert_eq!(refusal(&teredo, "2001:0:808:808:0:0:f7f7:f7f7"), None, "server and client 8.8.8.8");
        assert_eq!(
            refusal(&teredo, "2001:0:4136:e378:8000:63bf:80ff:fffe").as_deref(),
            Some(
                "target 2001:0:4136:e378:8000:63bf:80ff:fffe (Teredo client 127.0.0.1) is in a denied network (loopback); allow it with targets.allowed_networks"
            )
        );
        assert!(refusal(&teredo, "2001:0:a9fe:a9fe::").is_some(), "server 169.254.169.254");

        // Allowing the outer prefix does not allow what is behind it; allowing
        // the inner network does; a denied inner network is denied.
        let nat64 = policy(&["64:ff9b::/96"], &[], false);
        assert!(refusal(&nat64, "64:ff9b::a00:1").is_some());
        let loopback = policy(&["127.0.0.0/8"], &[], false);
        assert_eq!(refusal(&loopback, "64:ff9b::7f00:1"), None);
        let denied = policy(&[], &["8.8.8.0/24"], false);
        assert_eq!(
            refusal(&denied, "2002:808:808::1").as_deref(),
            Some("target 2002:808:808::1 (6to4, for 8.8.8.8) is in targets.denied_networks (8.8.8.0/24)")
        );
    }

    #[test]
    fn urls_are_checked_for_scheme_and_literal_addresses() {
        let strict = TargetPolicy::default();
        assert!(strict.check("https://example.com/hook").is_ok());
        assert!(strict.check("http://localhost:9000/hook").is_ok(), "names are checked when connecting");
        for refused in [
            "http://127.0.0.1:9000/",
            "http://[::1]/",
            "http://[::ffff:7f00:1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0/",
            "https://10.0.0.1/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:a9fe:a9fe::1]/",
            "http://[2002:7f00:1::1]/",
            "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
        ] {
            assert!(
                matches!(strict.check(refused), Err(TargetError::NonGlobal { .. })),
                "{refused}: {:?}",
                strict.check(refused)
            );
        }
        assert_eq!(
            strict.check("ftp://example.com/").unwrap_err().to_string(),
            "target scheme \"ftp\" is not allowed: only http and https"
        );
        assert!(matches!(strict.check("not a url"), Err(TargetError::Invalid(_))));

        let https = policy(&[], &[], true);
        assert!(https.check("https://example.com/").is_ok());
        assert_eq!(
            https.check("http://example.com/").unwrap_err().to_string(),
            "target is http, and targets.require_https refuses it: use https"
        );
    }

    #[test]
    fn a_name_resolving_to_nat64_or_6to4_forms_of_internal_addresses_is_refused() {
        let addrs = |ips: &[&str]| ips.iter().map(|ip| SocketAddr::new(ip.parse().unwrap(), 443)).collect::<Vec<_>>();
        let strict = TargetPolicy::default();
        let error = strict.keep_allowed("evil.example", addrs(&["64:ff9b::a9fe:a9fe", "2002:7f00:1::1"])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "target evil.example (64:ff9b::a9fe:a9fe, NAT64, for 169.254.169.254) is in a denied network (link-local, cloud metadata); allow it with targets.allowed_networks"
        );
        let mixed = strict.keep_allowed("mixed.example", addrs(&["2002:7f00:1::1", "64:ff9b::808:808"])).unwrap();
        assert_eq!(mixed, addrs(&["64:ff9b::808:808"]), "only the global one is kept");
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses() {
        let resolve = |policy: TargetPolicy| async move {
            PolicyResolver(Arc::new(policy))
                .resolve("localhost".parse().unwrap())
                .await
                .map(Iterator::collect::<Vec<_>>)
        };
        let error = resolve(TargetPolicy::default()).await.unwrap_err();
        let refused = refusal(error.as_ref()).expect("the refusal is in the error");
        assert!(matches!(refused, TargetError::NonGlobal { range: "loopback", .. }), "{refused}");
        assert!(refused.to_string().starts_with("target localhost ("), "{refused}");

        let addrs = resolve(policy(&["127.0.0.0/8"], &[], false)).await.unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|addr| addr.ip() == IpAddr::from([127, 0, 0, 1])), "{addrs:?}");
    }
}
