//! TOTP as Locara configures it, checked against RFC 6238's own table and against `oathtool`, an
//! implementation nobody here wrote (installed by `scripts/test`).

use std::process::Command;

use locara_registry::auth::{AuthError, TOTP_STEP_SECONDS, TotpSecret, verify_totp};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/totp-rfc6238.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| {
        panic!("{path}: {error}; the shared vectors sit beside the repository")
    });
    serde_json::from_str(&text).unwrap()
}

#[test]
fn codes_equal_rfc_6238_appendix_b_for_sha1() {
    let vectors = vectors();
    let secret = TotpSecret::from_bytes(
        vectors["secrets_ascii"]["sha1"]
            .as_str()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    let rows = vectors["vectors"].as_array().unwrap();
    assert_eq!(rows.len(), 6);
    for row in rows {
        let time = row["unix_time"].as_u64().unwrap();
        let eight_digits = row["sha1"].as_str().unwrap();
        // HOTP truncation takes the value modulo 10^digits, so a 6-digit code is the 8-digit code's tail.
        let expected = &eight_digits[2..];
        assert_eq!(secret.code_at(time).unwrap(), expected, "t = {time}");
        assert_eq!(
            verify_totp(&secret, expected, time, None).unwrap(),
            time / TOTP_STEP_SECONDS
        );
    }
}

fn oathtool(secret: &TotpSecret, unix_time: u64) -> String {
    let output = Command::new("oathtool")
        .args(["--totp", "-b"])
        .arg(secret.to_base32().as_str())
        .arg("-N")
        .arg(format!("@{unix_time}"))
        .output()
        .expect("oathtool is installed (scripts/test installs it: apt-get install oathtool)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[test]
fn codes_equal_oathtool_for_random_secrets_and_times() {
    for round in 0..8u64 {
        let secret = TotpSecret::generate().unwrap();
        let time = 1_700_000_000 + round * 7_919_993;
        let theirs = oathtool(&secret, time);
        assert_eq!(secret.code_at(time).unwrap(), theirs, "round {round}");
        let step = verify_totp(&secret, &theirs, time, None).unwrap();
        assert!(matches!(
            verify_totp(&secret, &theirs, time, Some(step)),
            Err(AuthError::ReplayedCode { .. })
        ));
    }
}

#[test]
fn an_oathtool_code_from_two_steps_ago_is_refused() {
    let secret = TotpSecret::generate().unwrap();
    let now = 1_790_000_000;
    let old = oathtool(&secret, now - 2 * TOTP_STEP_SECONDS);
    let window: Vec<String> = (0..3)
        .map(|offset| {
            secret
                .code_at(now + offset * TOTP_STEP_SECONDS - TOTP_STEP_SECONDS)
                .unwrap()
        })
        .collect();
    if !window.contains(&old) {
        assert_eq!(
            verify_totp(&secret, &old, now, None),
            Err(AuthError::WrongCode)
        );
    }
}
