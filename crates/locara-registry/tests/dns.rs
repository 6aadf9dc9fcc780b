//! DNS verification against a real authoritative DNS server on 127.0.0.1 (from `locara-testkit`).

use locara_registry::dns::{DnsVerifyError, TxtVerifier};
use locara_testkit::dns::DnsServer;

const TOKEN: &str = "locara-verify=3f9c1e0d8b7a6f5e4d3c2b1a09f8e7d6";

#[tokio::test]
async fn the_token_in_the_challenge_record_verifies_the_domain() {
    let dns = DnsServer::start("acme.test").await.unwrap();
    dns.set_txt("_locara-challenge.acme.test", &["v=spf1 -all", TOKEN])
        .await
        .unwrap();
    let verifier = TxtVerifier::new(dns.address()).unwrap();
    verifier.verify("acme.test", TOKEN).await.unwrap();
    verifier.verify("ACME.test.", TOKEN).await.unwrap();
}

#[tokio::test]
async fn a_missing_record_is_refused_and_a_later_fix_is_seen() {
    let dns = DnsServer::start("acme.test").await.unwrap();
    let verifier = TxtVerifier::new(dns.address()).unwrap();
    assert_eq!(
        verifier.verify("acme.test", TOKEN).await,
        Err(DnsVerifyError::NoRecord {
            name: "_locara-challenge.acme.test".to_owned()
        })
    );
    dns.set_txt("_locara-challenge.acme.test", &[TOKEN])
        .await
        .unwrap();
    verifier.verify("acme.test", TOKEN).await.unwrap();
}

#[tokio::test]
async fn a_wrong_token_is_refused_naming_what_was_found() {
    let dns = DnsServer::start("acme.test").await.unwrap();
    dns.set_txt(
        "_locara-challenge.acme.test",
        &["locara-verify=someone-elses-token"],
    )
    .await
    .unwrap();
    let verifier = TxtVerifier::new(dns.address()).unwrap();
    match verifier.verify("acme.test", TOKEN).await {
        Err(DnsVerifyError::WrongToken { found, .. }) => {
            assert_eq!(found, vec!["locara-verify=someone-elses-token".to_owned()])
        }
        other => panic!("expected WrongToken, got {other:?}"),
    }
    // A token that only contains the issued one, or the record at the bare domain, does not count.
    dns.set_txt("_locara-challenge.acme.test", &[&format!("x{TOKEN}")])
        .await
        .unwrap();
    dns.set_txt("acme.test", &[TOKEN]).await.unwrap();
    assert!(matches!(
        verifier.verify("acme.test", TOKEN).await,
        Err(DnsVerifyError::WrongToken { .. })
    ));
}

#[tokio::test]
async fn an_unreachable_server_is_a_lookup_error_not_a_missing_record() {
    let dns = DnsServer::start("acme.test").await.unwrap();
    let address = dns.address();
    drop(dns);
    let verifier = TxtVerifier::new(address).unwrap();
    assert!(matches!(
        verifier.verify("acme.test", TOKEN).await,
        Err(DnsVerifyError::Lookup { .. })
    ));
}
