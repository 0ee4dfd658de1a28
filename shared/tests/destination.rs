//! The SSRF guard in the HipChat client (docs/design.md "Outbound calls only where they
//! belong"): refused addresses are never connected to, whether written literally or reached
//! through a host name, and redirects are not followed.
//!
//! Every connection these tests could make goes to loopback: forbidden ranges are proven on
//! the resolver alone (it answers before anything connects), and the "nothing connected" tests
//! refuse loopback itself (a deployment without `loopback`) with a listener counting accepts,
//! so a broken guard would show as a count, not as traffic leaving the machine.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::time::Duration;

use secrecy::SecretString;
use shared::adapters::hipchat::{AddressRefused, HipchatClient, Resolver, http_client_with};
use shared::domain::destination::{PrivateHosts, Refusal};
use shared::ports::chat::{ChatAccess, ChatError, ChatService};
use test_support::counting_listener;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

async fn refusal(resolver: &Resolver, name: &str) -> Option<Refusal> {
    match resolver.addresses(name).await {
        Ok(_) => None,
        Err(e) => Some(e.downcast_ref::<AddressRefused>().unwrap_or_else(|| panic!("{name}: {e}")).0),
    }
}

#[tokio::test]
async fn a_name_resolving_to_a_refused_address_is_refused_before_anything_connects() {
    let cases = [
        ("metadata.test", "169.254.169.254", Refusal::Metadata),
        ("mapped.test", "::ffff:169.254.169.254", Refusal::Metadata),
        ("ec2v6.test", "fd00:ec2::254", Refusal::Metadata),
        ("linklocal.test", "fe80::1", Refusal::LinkLocal),
        ("zero.test", "0.0.0.0", Refusal::ThisNetwork),
        ("multicast.test", "239.1.2.3", Refusal::Multicast),
        ("reserved.test", "240.0.0.1", Refusal::Reserved),
        ("private.test", "10.1.2.3", Refusal::Private),
        ("ula.test", "fd12::1", Refusal::Private),
        ("loopback.test", "127.0.0.1", Refusal::Loopback),
    ];
    let mut resolver = Resolver::new(PrivateHosts::NONE);
    for (name, addr, _) in cases {
        resolver = resolver.with_override(name, ip(addr));
    }
    // One refused address among good ones refuses the name (DNS rebinding answers both).
    let resolver =
        resolver.with_override("Mixed.Test", ip("93.184.215.14")).with_override("mixed.test", ip("10.0.0.1"));
    for (name, addr, expected) in cases {
        assert_eq!(refusal(&resolver, name).await, Some(expected), "{name} -> {addr}");
        assert_eq!(refusal(&resolver, &format!("{}.", name.to_uppercase())).await, Some(expected), "{name}");
    }
    assert_eq!(refusal(&resolver, "mixed.test").await, Some(Refusal::Private));

    // What a deployment allows passes; the rest stays refused.
    let allowing = Resolver::new(PrivateHosts { loopback: true, private: true })
        .with_override("loopback.test", ip("127.0.0.1"))
        .with_override("private.test", ip("172.20.0.5"))
        .with_override("metadata.test", ip("169.254.169.254"));
    assert_eq!(refusal(&allowing, "loopback.test").await, None);
    assert_eq!(refusal(&allowing, "private.test").await, None);
    assert_eq!(refusal(&allowing, "metadata.test").await, Some(Refusal::Metadata));
}

fn client(allowed: PrivateHosts, resolver: Resolver) -> HipchatClient {
    let http = http_client_with(Duration::from_secs(2), Duration::from_secs(3), resolver).unwrap();
    HipchatClient::new(http, allowed)
}

fn access(base: &str) -> ChatAccess {
    ChatAccess::new(base, SecretString::from("Tok3nForTheGuardTestsQ9")).unwrap()
}

#[tokio::test]
async fn nothing_connects_to_a_refused_address_by_name_or_literal_in_any_spelling() {
    let (port, accepted) = counting_listener(Ipv4Addr::LOCALHOST, None).await;
    let resolver = Resolver::new(PrivateHosts::NONE).with_override("chat.sneaky.test", ip("127.0.0.1"));
    let refusing = client(PrivateHosts::NONE, resolver);
    for base in [
        format!("http://chat.sneaky.test:{port}"),
        format!("http://127.0.0.1:{port}"),
        format!("http://2130706433:{port}"),
        format!("http://0177.0.0.1:{port}"),
        format!("http://0x7f.1:{port}"),
        format!("http://[::ffff:127.0.0.1]:{port}"),
    ] {
        let e = refusing.token_info(&access(&base)).await.unwrap_err();
        assert!(matches!(e, ChatError::NotAllowed { refusal: Refusal::Loopback }), "{base}: {e:?}");
        assert!(!e.is_transient(), "a retry would not help");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection was attempted");

    // The same calls where loopback is allowed do connect: the count above would have shown it.
    let resolver = Resolver::new(PrivateHosts::LOOPBACK).with_override("chat.sneaky.test", ip("127.0.0.1"));
    let allowing = client(PrivateHosts::LOOPBACK, resolver);
    for base in [format!("http://chat.sneaky.test:{port}"), format!("http://127.0.0.1:{port}")] {
        let e = allowing.token_info(&access(&base)).await.unwrap_err();
        assert!(matches!(e, ChatError::Unreachable { .. }), "{base}: {e:?}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_redirect_is_not_followed_to_another_host() {
    // The target: another loopback address, counting who comes.
    let (target_port, target) = counting_listener(Ipv4Addr::new(127, 0, 0, 2), None).await;
    let location = format!("http://127.0.0.2:{target_port}/v2/oauth/token");
    let reply = format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let (port, first) = counting_listener(Ipv4Addr::LOCALHOST, Some(reply)).await;
    let c = client(PrivateHosts::LOOPBACK, Resolver::new(PrivateHosts::LOOPBACK));
    let e = c.capabilities(&access(&format!("http://127.0.0.1:{port}"))).await.unwrap_err();
    let ChatError::NotHipchat { status: 302, detail } = &e else { panic!("{e:?}") };
    assert!(detail.contains(&format!("http://127.0.0.2:{target_port}")), "{detail}");
    assert_eq!((first.load(Ordering::SeqCst), target.load(Ordering::SeqCst)), (1, 0), "not followed");
}
