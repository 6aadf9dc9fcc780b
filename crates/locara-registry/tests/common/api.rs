//! Talking to the registry's JSON API in tests: requests, accounts with TOTP, and fresh one-time codes.
//!
//! Codes come from `oathtool` (an implementation nobody here wrote) at a chosen time; a [`User`] keeps
//! the last step it used so each security action gets a code for a later step (codes are single use),
//! waiting only when the next acceptable step is more than one step ahead of the clock.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// A password that passes the policy.
pub const PASSWORD: &str = "correct horse battery staple";

/// An API client for one server.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    client: reqwest::Client,
}

/// A response: status, headers and the JSON body (`Value::Null` when empty or not JSON).
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The problem type slug, for an RFC 9457 problem response.
    pub fn problem(&self) -> &str {
        assert_eq!(
            self.headers
                .get("content-type")
                .map(|value| value.to_str().unwrap()),
            Some("application/problem+json"),
            "not a problem response: {} {}",
            self.status,
            self.body
        );
        self.body["type"]
            .as_str()
            .and_then(|uri| uri.strip_prefix("https://locara.dev/problems/"))
            .unwrap_or_else(|| panic!("no problem type in {}", self.body))
    }

    /// The `detail` of a problem.
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }
}

impl Api {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            client: reqwest::Client::new(),
        }
    }

    /// A client whose connections leave from `local` (a loopback address other than 127.0.0.1 gives the
    /// registry a different client address for real).
    pub fn from_address(base: &str, local: std::net::IpAddr) -> Self {
        Self {
            base: base.to_owned(),
            client: reqwest::Client::builder()
                .local_address(local)
                .build()
                .unwrap(),
        }
    }

    /// Sends `method path` with an optional bearer token, one-time code and JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        otp: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(otp) = otp {
            request = request.header("Locara-OTP", otp);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request over loopback");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None, None, None).await
    }
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The TOTP code for base32 `secret` at `unix_time`, from `oathtool`.
pub fn oathtool_code(secret: &str, unix_time: u64) -> String {
    let output = Command::new("oathtool")
        .args(["--totp", "-b", secret, "--now"])
        .arg(format!("@{unix_time}"))
        .output()
        .expect("oathtool runs (scripts/test installs it)");
    assert!(output.status.success(), "oathtool failed: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// An account in a test, with its session token and TOTP secret once enrolled.
pub struct User {
    pub name: String,
    pub token: String,
    pub secret: Option<String>,
    pub recovery_codes: Vec<String>,
    last_step: u64,
}

impl User {
    /// A one-time code for a step after the last one used, waiting if that step is not yet acceptable
    /// (the server accepts the current step and one either side).
    pub async fn otp(&mut self) -> String {
        let secret = self.secret.clone().expect("TOTP is enabled");
        let mut now_step = unix_now() / 30;
        let step = (self.last_step + 1).max(now_step - 1);
        while step > now_step + 1 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            now_step = unix_now() / 30;
        }
        self.last_step = step;
        oathtool_code(&secret, step * 30)
    }

    /// Marks `step` as used (after a login or other use the test made itself).
    pub fn used_step(&mut self, step: u64) {
        self.last_step = self.last_step.max(step);
    }
}

/// Signs up `name` and logs in (no 2FA yet).
pub async fn sign_up(api: &Api, name: &str) -> User {
    let reply = api
        .call(
            "POST",
            "/api/v1/accounts",
            None,
            None,
            Some(json!({"username": name, "password": PASSWORD})),
        )
        .await;
    assert_eq!(reply.status, 201, "sign-up of {name}: {}", reply.body);
    let reply = api
        .call(
            "POST",
            "/api/v1/session",
            None,
            None,
            Some(json!({"username": name, "password": PASSWORD})),
        )
        .await;
    assert_eq!(reply.status, 201, "login of {name}: {}", reply.body);
    User {
        name: name.to_owned(),
        token: reply.body["token"].as_str().unwrap().to_owned(),
        secret: None,
        recovery_codes: Vec::new(),
        last_step: 0,
    }
}

/// Enrols TOTP, confirming with the previous step's code from `oathtool` so that the current and next
/// steps stay free for the test's actions.
pub async fn enable_two_factor(api: &Api, user: &mut User) {
    let reply = api
        .call("POST", "/api/v1/account/2fa", Some(&user.token), None, None)
        .await;
    assert_eq!(reply.status, 201, "2FA enrolment: {}", reply.body);
    let secret = reply.body["secret"].as_str().unwrap().to_owned();
    let uri = reply.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/") && uri.contains(&secret));
    let step = unix_now() / 30 - 1;
    let code = oathtool_code(&secret, step * 30);
    let reply = api
        .call(
            "POST",
            "/api/v1/account/2fa/confirm",
            Some(&user.token),
            None,
            Some(json!({"otp": code})),
        )
        .await;
    assert_eq!(reply.status, 200, "2FA confirmation: {}", reply.body);
    user.recovery_codes = reply.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    user.secret = Some(secret);
    user.last_step = step;
}

/// Signs up `name` with TOTP enabled.
pub async fn sign_up_with_two_factor(api: &Api, name: &str) -> User {
    let mut user = sign_up(api, name).await;
    enable_two_factor(api, &mut user).await;
    user
}

/// Verifies `publisher` (owned by `owner`) through the DNS challenge for `domain`, publishing the issued
/// token on `dns`.
pub async fn verify_by_dns(
    api: &Api,
    dns: &locara_testkit::dns::DnsServer,
    owner: &mut User,
    publisher: &str,
    domain: &str,
) {
    let reply = api
        .call(
            "POST",
            &format!("/api/v1/publishers/{publisher}/verification/dns"),
            Some(&owner.token),
            None,
            Some(json!({"domain": domain})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let name = reply.body["record_name"].as_str().unwrap().to_owned();
    let value = reply.body["record_value"].as_str().unwrap().to_owned();
    dns.set_txt(&name, &[&value]).await.unwrap();
    let code = owner.otp().await;
    let reply = api
        .call(
            "POST",
            &format!("/api/v1/publishers/{publisher}/verification/dns/check"),
            Some(&owner.token),
            Some(&code),
            Some(json!({"domain": domain})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// Registers app `name` with `repository` for its publisher, as `owner` (a fresh code).
pub async fn register_app(api: &Api, owner: &mut User, name: &str, repository: &str) {
    let body = json!({"name": name, "repository": repository});
    let code = owner.otp().await;
    let reply = api
        .call(
            "POST",
            "/api/v1/apps",
            Some(&owner.token),
            Some(&code),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

/// Creates organisation `name` owned by `owner` (a fresh code).
pub async fn create_organisation(api: &Api, owner: &mut User, name: &str) {
    let code = owner.otp().await;
    let reply = api
        .call(
            "POST",
            "/api/v1/publishers",
            Some(&owner.token),
            Some(&code),
            Some(json!({"name": name})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

/// Generates a release key and registers it for `publisher`, as `owner` (a fresh code).
pub async fn register_new_key(
    api: &Api,
    owner: &mut User,
    publisher: &str,
) -> locara_core::keys::SigningKey {
    let key = locara_core::keys::SigningKey::generate().unwrap();
    let code = owner.otp().await;
    let body = json!({"public_key": key.public_key().to_base64()});
    let reply = api
        .call(
            "POST",
            &format!("/api/v1/publishers/{publisher}/keys"),
            Some(&owner.token),
            Some(&code),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    key
}
