//! Where our functions may send a partner's token: the guard against server-side request
//! forgery (docs/design.md "Outbound calls only where they belong").
//!
//! A partner admin types the chat server's URL, and our functions call it with the partner's
//! token from inside AWS. So the address a call connects to is checked first: link-local and
//! metadata addresses, "this network", multicast and reserved ranges are always refused;
//! loopback and private ranges only when the deployment allows them
//! (`ALLOW_PRIVATE_CHAT_HOSTS`). A literal address is checked when it is entered and before
//! each call; a host name after it resolved, at connect time (so DNS rebinding gets nowhere).
//! IPv4 written as a decimal, octal or hex number is an address like any other: the URL
//! parser reads `http://2852039166/` and `http://0251.0376.0251.0376/` as 169.254.169.254,
//! and addresses embedded in IPv6 (`::ffff:a.b.c.d`, NAT64, 6to4) are checked as IPv4.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use super::validation::FieldError;

/// Which of the ranges that are refused by default a deployment allows
/// (`ALLOW_PRIVATE_CHAT_HOSTS`: `off`, `loopback`, `private` or `loopback,private`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrivateHosts {
    /// `127.0.0.0/8` and `::1` (the local stack's simulator lives there).
    pub loopback: bool,
    /// `10/8`, `172.16/12`, `192.168/16`, `100.64/10` and `fc00::/7` (a self-hosted server in
    /// the deployment's own network).
    pub private: bool,
}

impl PrivateHosts {
    /// Nothing beyond the public internet (the default).
    pub const NONE: Self = Self { loopback: false, private: false };
    /// Loopback only (the local stack).
    pub const LOOPBACK: Self = Self { loopback: true, private: false };

    /// Reads the variable's value: empty, `off` or `none` allow nothing; otherwise a comma list
    /// of `loopback` and `private`.
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut allowed = Self::NONE;
        let value = value.trim();
        if value.is_empty() || value.eq_ignore_ascii_case("off") || value.eq_ignore_ascii_case("none") {
            return Ok(allowed);
        }
        for part in value.split(',').map(str::trim) {
            match part.to_ascii_lowercase().as_str() {
                "loopback" => allowed.loopback = true,
                "private" => allowed.private = true,
                other => {
                    return Err(format!(
                        "'{other}' is not one of off, loopback, private (a comma list of the last two)"
                    ));
                }
            }
        }
        Ok(allowed)
    }
}

/// Why an address is refused (for the partner admin: what kind of address it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A cloud instance-metadata address (`169.254.169.254`, `fd00:ec2::254`).
    Metadata,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// `0.0.0.0/8`, `::`.
    ThisNetwork,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// Broadcast, `240.0.0.0/4`, documentation, benchmarking and other special-purpose ranges.
    Reserved,
    /// `127.0.0.0/8`, `::1`, when loopback is not allowed.
    Loopback,
    /// Private networks, when they are not allowed.
    Private,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::Metadata => "a cloud instance-metadata address",
            Refusal::LinkLocal => "a link-local address",
            Refusal::ThisNetwork => "an unspecified (\"this network\") address",
            Refusal::Multicast => "a multicast address",
            Refusal::Reserved => "a reserved or special-purpose address",
            Refusal::Loopback => "a loopback address, which this deployment does not allow",
            Refusal::Private => "a private-network address, which this deployment does not allow",
        })
    }
}

/// Whether a call may connect to `ip`.
pub fn check(ip: IpAddr, allowed: PrivateHosts) -> Result<(), Refusal> {
    let refusal = match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    };
    match refusal {
        None => Ok(()),
        Some(Refusal::Loopback) if allowed.loopback => Ok(()),
        Some(Refusal::Private) if allowed.private => Ok(()),
        Some(r) => Err(r),
    }
}

/// Checks the host of `url` when it is a literal address; a host name is checked after it
/// resolves (by the chat adapter's resolver), so it passes here.
pub fn check_url(url: &Url, allowed: PrivateHosts) -> Result<(), Refusal> {
    match url.host() {
        Some(Host::Ipv4(v4)) => check(IpAddr::V4(v4), allowed),
        Some(Host::Ipv6(v6)) => check(IpAddr::V6(v6), allowed),
        Some(Host::Domain(_)) | None => Ok(()),
    }
}

/// The code of a refused chat-server URL, in a 422's field error and in the connection check.
pub const URL_NOT_ALLOWED: &str = "url_not_allowed";

/// What a partner admin is told about a refused URL.
pub fn refusal_message(refusal: Refusal) -> String {
    format!(
        "points to {refusal}; enter the address of your HipChat server on the internet (addresses in private \
         networks are allowed only when the operator turns them on)"
    )
}

/// Checks a chat-server base URL as entered in `field`: a literal address calls may not go
/// to is a field error with the code [`URL_NOT_ALLOWED`]. (A host name is checked when it
/// resolves.) A value that is not a URL passes here: parsing it reports that.
pub fn check_entered(field: &str, base: &str, allowed: PrivateHosts) -> Result<(), FieldError> {
    match Url::parse(base).map(|url| check_url(&url, allowed)) {
        Ok(Err(refusal)) => Err(FieldError::new(field, refusal_message(refusal)).with_code(URL_NOT_ALLOWED)),
        _ => Ok(()),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Refusal> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => Refusal::Metadata,
        (169, 254, _) => Refusal::LinkLocal,
        (0, _, _) => Refusal::ThisNetwork,
        (224..=239, _, _) => Refusal::Multicast,
        (240..=255, _, _) => Refusal::Reserved,
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) | (192, 88, 99) => Refusal::Reserved,
        (198, 18..=19, _) => Refusal::Reserved,
        (127, _, _) => Refusal::Loopback,
        (10, _, _) | (192, 168, _) => Refusal::Private,
        (172, 16..=31, _) | (100, 64..=127, _) => Refusal::Private,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Refusal> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    Some(match s {
        _ if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) => Refusal::Metadata,
        _ if ip.is_unspecified() => Refusal::ThisNetwork,
        _ if ip.is_loopback() => Refusal::Loopback,
        // NAT64 (64:ff9b::/96, and the local-use 64:ff9b:1::/48) and 6to4 (2002::/16) reach
        // the IPv4 address they embed.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] | [0x64, 0xff9b, 1, _, _, _, hi, lo] => {
            return classify_v4(embedded(hi, lo));
        }
        [0x2002, hi, lo, ..] => return classify_v4(embedded(hi, lo)),
        [first, ..] if first & 0xffc0 == 0xfe80 => Refusal::LinkLocal,
        [first, ..] if first & 0xff00 == 0xff00 => Refusal::Multicast,
        [first, ..] if first & 0xfe00 == 0xfc00 => Refusal::Private,
        // Special-purpose blocks inside global unicast: IETF protocol assignments (2001::/23,
        // with Teredo, which reaches an embedded IPv4 address), documentation.
        [0x2001, second, ..] if second < 0x200 => Refusal::Reserved,
        [0x2001, 0xdb8, ..] => Refusal::Reserved,
        [first, ..] if first & 0xfff0 == 0x3ff0 => Refusal::Reserved,
        // Global unicast (2000::/3) is the internet; everything else (IPv4-compatible and
        // IPv4-translated forms, discard-only, site-local, unassigned) is not.
        [first, ..] if first & 0xe000 == 0x2000 => return None,
        _ => Refusal::Reserved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const BOTH: PrivateHosts = PrivateHosts { loopback: true, private: true };

    #[test]
    fn always_refused_whatever_the_deployment_allows() {
        let cases = [
            ("169.254.169.254", Refusal::Metadata),
            ("fd00:ec2::254", Refusal::Metadata),
            ("169.254.0.1", Refusal::LinkLocal),
            ("169.254.255.255", Refusal::LinkLocal),
            ("fe80::1", Refusal::LinkLocal),
            ("febf::1", Refusal::LinkLocal),
            ("0.0.0.0", Refusal::ThisNetwork),
            ("0.1.2.3", Refusal::ThisNetwork),
            ("::", Refusal::ThisNetwork),
            ("224.0.0.1", Refusal::Multicast),
            ("239.255.255.250", Refusal::Multicast),
            ("ff02::1", Refusal::Multicast),
            ("255.255.255.255", Refusal::Reserved),
            ("240.0.0.1", Refusal::Reserved),
            ("192.0.2.1", Refusal::Reserved),
            ("198.51.100.7", Refusal::Reserved),
            ("203.0.113.9", Refusal::Reserved),
            ("198.18.0.1", Refusal::Reserved),
            ("192.0.0.8", Refusal::Reserved),
            ("2001:db8::1", Refusal::Reserved),
            ("100::1", Refusal::Reserved),
            ("::a9fe:a9fe", Refusal::Reserved),
            ("::ffff:0:a9fe:a9fe", Refusal::Reserved),
            ("2001::a9fe:a9fe", Refusal::Reserved),
            ("2001:2::1", Refusal::Reserved),
            ("3fff::1", Refusal::Reserved),
            ("5f00::1", Refusal::Reserved),
            ("fec0::1", Refusal::Reserved),
            ("64:ff9b:1::a9fe:a9fe", Refusal::Metadata),
            // IPv4 inside IPv6.
            ("::ffff:169.254.169.254", Refusal::Metadata),
            ("::ffff:0.0.0.0", Refusal::ThisNetwork),
            ("64:ff9b::a9fe:a9fe", Refusal::Metadata),
            ("2002:a9fe:a9fe::1", Refusal::Metadata),
        ];
        for (addr, refusal) in cases {
            for allowed in [PrivateHosts::NONE, PrivateHosts::LOOPBACK, BOTH] {
                assert_eq!(check(ip(addr), allowed), Err(refusal), "{addr} with {allowed:?}");
            }
        }
    }

    #[test]
    fn loopback_and_private_only_when_allowed() {
        let loopback = ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"];
        let private = [
            "10.0.0.1",
            "10.255.255.53",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:10.1.2.3",
            "64:ff9b::a00:1",
        ];
        for a in loopback {
            assert_eq!(check(ip(a), PrivateHosts::NONE), Err(Refusal::Loopback), "{a}");
            assert_eq!(check(ip(a), PrivateHosts { loopback: false, private: true }), Err(Refusal::Loopback), "{a}");
            assert_eq!(check(ip(a), PrivateHosts::LOOPBACK), Ok(()), "{a}");
        }
        for a in private {
            assert_eq!(check(ip(a), PrivateHosts::NONE), Err(Refusal::Private), "{a}");
            assert_eq!(check(ip(a), PrivateHosts::LOOPBACK), Err(Refusal::Private), "{a}");
            assert_eq!(check(ip(a), PrivateHosts { loopback: false, private: true }), Ok(()), "{a}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for a in ["8.8.8.8", "52.94.236.248", "172.32.0.1", "172.15.255.255", "100.128.0.1", "2600:1f18::1", "2a00::1"]
        {
            assert_eq!(check(ip(a), PrivateHosts::NONE), Ok(()), "{a}");
        }
    }

    #[test]
    fn literal_hosts_in_any_spelling_are_checked_and_names_pass() {
        let refused = [
            "http://169.254.169.254/latest/meta-data",
            "http://2852039166/",
            "http://0251.0376.0251.0376/",
            "http://0xa9.0xfe.0xa9.0xfe/",
            "http://0xa9fea9fe/",
            "http://169.254.43518/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[fd00:ec2::254]/",
            "http://0/",
            "http://127.1/",
            "http://017700000001/",
            "http://[::1]:8080/",
            "http://10.0.0.1/",
        ];
        for u in refused {
            let url = Url::parse(u).unwrap();
            assert!(check_url(&url, PrivateHosts::NONE).is_err(), "{u} parsed as {url}");
        }
        for u in ["https://hipchat.example.com", "https://api.hipchat.com", "http://localhost:8080"] {
            assert_eq!(check_url(&Url::parse(u).unwrap(), PrivateHosts::NONE), Ok(()), "{u}");
        }
        assert_eq!(check_url(&Url::parse("http://127.0.0.1:9/").unwrap(), PrivateHosts::LOOPBACK), Ok(()));
    }

    #[test]
    fn the_setting_parses() {
        assert_eq!(PrivateHosts::parse(""), Ok(PrivateHosts::NONE));
        assert_eq!(PrivateHosts::parse("off"), Ok(PrivateHosts::NONE));
        assert_eq!(PrivateHosts::parse(" Loopback "), Ok(PrivateHosts::LOOPBACK));
        assert_eq!(PrivateHosts::parse("loopback,private"), Ok(BOTH));
        assert_eq!(PrivateHosts::parse("private"), Ok(PrivateHosts { loopback: false, private: true }));
        assert!(PrivateHosts::parse("all").unwrap_err().contains("'all'"));
    }
}
