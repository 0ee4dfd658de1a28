//! The HipChat client ignores proxy variables in its environment: a proxy would resolve and
//! connect on its behalf, past the SSRF guard's resolver (docs/design.md "Outbound calls only
//! where they belong"). Its own binary: it sets process environment variables.

use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use secrecy::SecretString;
use shared::adapters::hipchat::HipchatClient;
use shared::domain::destination::PrivateHosts;
use shared::ports::chat::{ChatAccess, ChatService};
use test_support::counting_listener;

#[tokio::test]
async fn proxy_variables_are_ignored() {
    let (proxy_port, via_proxy) = counting_listener(Ipv4Addr::LOCALHOST, None).await;
    let (server_port, direct) = counting_listener(Ipv4Addr::LOCALHOST, None).await;
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    for name in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
        // SAFETY: the only test of this binary, set before any client reads the environment.
        unsafe { std::env::set_var(name, &proxy) };
    }
    for name in ["NO_PROXY", "no_proxy"] {
        // SAFETY: as above.
        unsafe { std::env::remove_var(name) };
    }
    let client =
        HipchatClient::with_timeouts(Duration::from_secs(2), Duration::from_secs(3), PrivateHosts::LOOPBACK).unwrap();
    let access =
        ChatAccess::new(&format!("http://127.0.0.1:{server_port}"), SecretString::from("Tok3nQ9xyzProxy")).unwrap();
    let _ = client.token_info(&access).await;
    assert_eq!((via_proxy.load(Ordering::SeqCst), direct.load(Ordering::SeqCst)), (0, 1), "straight to the server");
}
