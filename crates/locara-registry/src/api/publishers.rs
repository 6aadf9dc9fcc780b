//! Publishers: organisations, members, the public record, and verification by DNS or OIDC identity.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use locara_core::events::{ClaimPattern, Event};
use locara_core::names::{self, PublisherName};
use locara_store::records::{MemberRole, OidcTrust, Publisher, PublisherKind, Verification};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::{Caller, display_time, now};
use super::problem::{self, ApiResult, Problem};
use super::{Body, limits};
use super::{append_event, entry, publisher_canonical};
use crate::http::AppState;

/// How long a DNS challenge token stays valid, in seconds (7 days).
pub const DNS_CHALLENGE_SECONDS: u64 = 7 * 86_400;

/// A request to create an organisation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePublisher {
    /// The organisation's name.
    #[schema(value_type = limits::Name)]
    pub name: String,
}

/// How a publisher proved who it is.
#[derive(Serialize, ToSchema)]
pub struct VerificationView {
    /// `dns` or `oidc`.
    pub method: String,
    /// The domain, or the OIDC issuer and subject.
    pub subject: String,
    /// When.
    pub verified_at: String,
}

/// A publisher's public record.
#[derive(Serialize, ToSchema)]
pub struct PublisherView {
    /// Its name.
    pub name: String,
    /// `user` or `organisation`.
    pub kind: String,
    /// How it was verified; `null` for an unverified publisher, which cannot register apps.
    pub verification: Option<VerificationView>,
    /// When it was created.
    pub created_at: String,
    /// Members and their roles.
    pub members: Vec<MemberView>,
    /// Release keys, revoked ones included.
    pub keys: Vec<super::keys::KeyView>,
    /// Registered apps.
    pub apps: Vec<String>,
    /// Trusted OIDC issuers for trusted publishing.
    pub oidc_trusts: Vec<OidcTrustView>,
}

/// A member.
#[derive(Serialize, ToSchema)]
pub struct MemberView {
    /// The username.
    pub username: String,
    /// `owner` or `maintainer`.
    pub role: String,
}

/// A trusted OIDC issuer.
#[derive(Serialize, ToSchema)]
pub struct OidcTrustView {
    /// Its id.
    pub id: i64,
    /// The app it is limited to, if any.
    pub app: Option<String>,
    /// The issuer URL.
    pub issuer: String,
    /// The audience tokens must name.
    pub audience: String,
    /// Claims tokens must match.
    pub claims: Vec<ClaimRuleBody>,
}

/// A claim a token must match: an exact value, or a pattern where `*` matches any run of characters.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct ClaimRuleBody {
    /// The claim, e.g. `repository`, `workflow`, `ref`; not only spaces.
    #[schema(pattern = r"\S", min_length = 1)]
    pub claim: String,
    /// The pattern; not only spaces, and not `*` alone (which would match everything).
    #[schema(pattern = r"^(?!\*$)[\s\S]*\S[\s\S]*$", min_length = 1)]
    pub pattern: String,
}

/// A publisher's verification as the API shows it.
pub(crate) fn verification_view(verification: &Verification) -> VerificationView {
    VerificationView {
        method: verification.method.clone(),
        subject: verification.subject.clone(),
        verified_at: display_time(verification.at),
    }
}

fn kind_name(kind: PublisherKind) -> String {
    kind.as_str().to_owned()
}

pub(crate) async fn publisher_view(
    state: &AppState,
    publisher: &Publisher,
) -> ApiResult<PublisherView> {
    let members = state.metadata.members(publisher.id).await?;
    let keys = state.metadata.publisher_keys(publisher.id).await?;
    let apps = state.metadata.apps_of(publisher.id).await?;
    let trusts = state.metadata.oidc_trusts(publisher.id).await?;
    Ok(PublisherView {
        name: publisher.name.clone(),
        kind: kind_name(publisher.kind),
        verification: publisher.verification.as_ref().map(verification_view),
        created_at: display_time(publisher.created_at),
        members: members
            .into_iter()
            .map(|member| MemberView {
                username: member.username,
                role: member.role.as_str().to_owned(),
            })
            .collect(),
        keys: keys.iter().map(super::keys::key_view).collect(),
        apps: apps.into_iter().map(|app| app.name).collect(),
        oidc_trusts: trusts.iter().map(trust_view).collect(),
    })
}

fn trust_view(trust: &OidcTrust) -> OidcTrustView {
    OidcTrustView {
        id: trust.id,
        app: trust.app.clone(),
        issuer: trust.issuer.clone(),
        audience: trust.audience.clone(),
        claims: serde_json::from_str(&trust.rules).unwrap_or_default(),
    }
}

/// The publisher named `name`, or 404.
pub(crate) async fn find_publisher(state: &AppState, name: &str) -> ApiResult<Publisher> {
    state
        .metadata
        .publisher_by_name(name)
        .await?
        .ok_or_else(|| {
            Problem::not_found(format!("there is no publisher `{}`", name.escape_debug()))
        })
}

/// Refuses a caller that is not an owner of `publisher`.
pub(crate) async fn require_owner(
    state: &AppState,
    caller: &Caller,
    publisher: &Publisher,
) -> ApiResult<()> {
    let role = state
        .metadata
        .members(publisher.id)
        .await?
        .into_iter()
        .find(|member| member.account_id == caller.account.id)
        .map(|member| member.role);
    if role == Some(MemberRole::Owner) {
        Ok(())
    } else {
        Err(Problem::forbidden(
            "not-an-owner",
            "Owners only",
            format!(
                "only owners of `{}` can do this; `{}` is {}",
                publisher.name,
                caller.account.username,
                match role {
                    Some(role) => format!("a {}", role.as_str()),
                    None => "not a member".to_owned(),
                }
            ),
        ))
    }
}

/// Refuses `candidate` as a new publisher name, or as the name of a publisher about to be verified, when it
/// has the canonical form of another publisher or is within the edit-distance rule of a verified one
/// (ADR 0015). Runs before any one-time code is consumed.
pub(crate) async fn check_publisher_name(state: &AppState, candidate: &str) -> ApiResult<()> {
    let canonical = publisher_canonical(candidate);
    if let Some(existing) = state
        .metadata
        .publisher_names()
        .await?
        .into_iter()
        .find(|existing| existing != candidate && publisher_canonical(existing) == canonical)
    {
        return Err(Problem::conflict(format!(
            "the publisher name `{candidate}` looks the same as the existing publisher `{existing}` once case, separators and look-alike characters are folded; choose a clearly different name"
        )));
    }
    let verified: Vec<PublisherName> = state
        .metadata
        .verified_publisher_names()
        .await?
        .iter()
        .filter_map(|name| name.parse().ok())
        .collect();
    names::check_publisher_typosquat(candidate, &verified).map_err(|collision| {
        Problem::new(
            StatusCode::CONFLICT,
            "name-collision",
            "Name too close to a verified publisher",
            collision.to_string(),
        )
    })
}

/// Creates an organisation with the caller as its first owner (2FA, `admin` scope, a fresh code).
#[utoipa::path(post, path = "/api/v1/publishers", request_body = CreatePublisher, tag = "publishers",
    security(("token" = [])), params(("Locara-OTP" = String, Header, description = "a fresh TOTP code")),
    responses((status = 201, body = PublisherView), (status = 400, response = problem::InvalidRequest),
        (status = 403, response = problem::Forbidden), (status = 409, response = problem::Conflict)))]
pub async fn create_publisher(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Body(request): Body<CreatePublisher>,
) -> ApiResult<(StatusCode, Json<PublisherView>)> {
    caller.require_two_factor()?;
    caller.require_scope("admin", None)?;
    let name: PublisherName = request.name.parse().map_err(|error| {
        Problem::invalid(format!(
            "publisher name `{}`: {error}",
            request.name.escape_debug()
        ))
    })?;
    let _names = state.names.lock().await;
    if state
        .metadata
        .publisher_by_name(name.as_str())
        .await?
        .is_some()
    {
        return Err(Problem::conflict(format!(
            "the publisher name `{name}` is taken"
        )));
    }
    check_publisher_name(&state, name.as_str()).await?;
    // Last, so a request refused for any other reason never spends the code.
    caller.require_fresh_otp(&state, &headers).await?;
    let at = now();
    let entry = entry(
        at,
        Event::PublisherCreated {
            publisher: name.as_str().to_owned(),
            kind: "organisation".to_owned(),
            by: caller.account.username.clone(),
        },
    )?;
    let (publisher, _) = append_event(&state, async {
        state
            .metadata
            .create_organisation(
                name.as_str(),
                &publisher_canonical(name.as_str()),
                caller.account.id,
                at,
                entry,
            )
            .await
    })
    .await?;
    tracing::info!(publisher = %publisher.name, username = %caller.account.username, "organisation created");
    Ok((
        StatusCode::CREATED,
        Json(publisher_view(&state, &publisher).await?),
    ))
}

/// A publisher's public record: verification, members, keys, apps and trusted issuers.
#[utoipa::path(get, path = "/api/v1/publishers/{name}", tag = "publishers",
    params(("name" = limits::Name, Path, description = "the publisher")),
    responses((status = 200, body = PublisherView), (status = 404, response = problem::NotFound)))]
pub async fn show_publisher(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> ApiResult<Json<PublisherView>> {
    let publisher = find_publisher(&state, &name).await?;
    Ok(Json(publisher_view(&state, &publisher).await?))
}

/// A member's role.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutMember {
    /// `owner` or `maintainer`.
    #[schema(value_type = Role)]
    pub role: String,
}

/// A member's role (the document's name for the values of `MemberRole`).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Role {
    /// Manages members, keys, apps and verification, and publishes.
    Owner,
    /// Publishes, yanks and deprecates.
    Maintainer,
}

/// Who may take an owner-only security action: 2FA, `admin` scope, owner. Checked before the request's
/// values, so that only an owner learns what is wrong with them; the fresh code comes last, so that a
/// refused request does not use it up.
pub(crate) async fn owner_checks(
    state: &AppState,
    caller: &Caller,
    publisher: &Publisher,
) -> ApiResult<()> {
    caller.require_two_factor()?;
    caller.require_scope("admin", None)?;
    require_owner(state, caller, publisher).await
}

/// The common checks of an owner-only security action: [`owner_checks`], then a fresh code.
async fn owner_action(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    publisher: &Publisher,
) -> ApiResult<()> {
    owner_checks(state, caller, publisher).await?;
    caller.require_fresh_otp(state, headers).await
}

fn refuse_personal(publisher: &Publisher) -> ApiResult<()> {
    if publisher.kind == PublisherKind::User {
        return Err(Problem::conflict(format!(
            "`{}` is a personal publisher and has exactly one member, its account; create an organisation for shared publishing",
            publisher.name
        )));
    }
    Ok(())
}

/// Adds a member to an organisation or changes their role (owners, with a fresh code).
#[utoipa::path(put, path = "/api/v1/publishers/{name}/members/{username}", request_body = PutMember,
    tag = "publishers", security(("token" = [])),
    params(("name" = limits::Name, Path, description = "the publisher"), ("username" = limits::Name, Path, description = "the member's username"), ("Locara-OTP" = String, Header, description = "a fresh TOTP code")),
    responses((status = 200, body = PublisherView), (status = 400, response = problem::InvalidRequest),
        (status = 403, response = problem::Forbidden), (status = 404, response = problem::NotFound),
        (status = 409, response = problem::Conflict)))]
pub async fn put_member(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path((name, username)): Path<(String, String)>,
    Body(request): Body<PutMember>,
) -> ApiResult<Json<PublisherView>> {
    let publisher = find_publisher(&state, &name).await?;
    owner_checks(&state, &caller, &publisher).await?;
    let role = MemberRole::parse(&request.role).ok_or_else(|| {
        Problem::invalid(format!(
            "role `{}` is not `owner` or `maintainer`",
            request.role.escape_debug()
        ))
    })?;
    refuse_personal(&publisher)?;
    caller.require_fresh_otp(&state, &headers).await?;
    let member = state
        .metadata
        .account_by_username(&username)
        .await?
        .ok_or_else(|| {
            Problem::not_found(format!("there is no account `{}`", username.escape_debug()))
        })?;
    let entry = entry(
        now(),
        Event::MemberAdded {
            publisher: publisher.name.clone(),
            member: member.username.clone(),
            role: role.as_str().to_owned(),
            by: caller.account.username.clone(),
        },
    )?;
    append_event(&state, async {
        state
            .metadata
            .put_member(publisher.id, member.id, role, now(), entry)
            .await
    })
    .await?;
    Ok(Json(publisher_view(&state, &publisher).await?))
}

/// Removes a member from an organisation (owners, with a fresh code; never the last owner).
#[utoipa::path(delete, path = "/api/v1/publishers/{name}/members/{username}", tag = "publishers",
    security(("token" = [])),
    params(("name" = limits::Name, Path, description = "the publisher"), ("username" = limits::Name, Path, description = "the member's username"), ("Locara-OTP" = String, Header, description = "a fresh TOTP code")),
    responses((status = 200, body = PublisherView), (status = 403, response = problem::Forbidden),
        (status = 404, response = problem::NotFound), (status = 409, response = problem::Conflict)))]
pub async fn remove_member(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path((name, username)): Path<(String, String)>,
) -> ApiResult<Json<PublisherView>> {
    let publisher = find_publisher(&state, &name).await?;
    owner_checks(&state, &caller, &publisher).await?;
    refuse_personal(&publisher)?;
    caller.require_fresh_otp(&state, &headers).await?;
    let member = state
        .metadata
        .account_by_username(&username)
        .await?
        .ok_or_else(|| {
            Problem::not_found(format!("there is no account `{}`", username.escape_debug()))
        })?;
    let entry = entry(
        now(),
        Event::MemberRemoved {
            publisher: publisher.name.clone(),
            member: member.username.clone(),
            by: caller.account.username.clone(),
        },
    )?;
    append_event(&state, async {
        state
            .metadata
            .remove_member(publisher.id, member.id, entry)
            .await
    })
    .await?;
    Ok(Json(publisher_view(&state, &publisher).await?))
}

/// A domain to verify.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsDomain {
    /// The domain, e.g. `acme.example`: at least two labels of ASCII letters, digits and `-`, a last label
    /// that is not all digits, at most 253 characters.
    #[schema(value_type = limits::Domain)]
    pub domain: String,
}

/// The TXT record to publish.
#[derive(Serialize, ToSchema)]
pub struct DnsChallengeView {
    /// Where: `_locara-challenge.<domain>`.
    pub record_name: String,
    /// The record type, `TXT`.
    pub record_type: String,
    /// The value to put in it.
    pub record_value: String,
    /// When the challenge expires.
    pub expires_at: String,
}

/// Starts DNS verification: issues the token to publish at `_locara-challenge.<domain>` (owners).
#[utoipa::path(post, path = "/api/v1/publishers/{name}/verification/dns", request_body = DnsDomain,
    tag = "publishers", security(("token" = [])), params(("name" = limits::Name, Path, description = "the publisher")),
    responses((status = 201, body = DnsChallengeView), (status = 400, response = problem::InvalidRequest),
        (status = 403, response = problem::Forbidden), (status = 404, response = problem::NotFound)))]
pub async fn start_dns_verification(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    Body(request): Body<DnsDomain>,
) -> ApiResult<(StatusCode, Json<DnsChallengeView>)> {
    let publisher = find_publisher(&state, &name).await?;
    caller.require_two_factor()?;
    caller.require_scope("admin", None)?;
    require_owner(&state, &caller, &publisher).await?;
    let domain = crate::dns::normalise_domain(&request.domain)
        .map_err(|error| Problem::invalid(error.to_string()))?;
    let mut random = [0u8; 24];
    getrandom::fill(&mut random).map_err(|error| Problem::unavailable(&error))?;
    let token = format!("locara-verify={}", hex::encode(random));
    let expires_at = now() + DNS_CHALLENGE_SECONDS;
    state
        .metadata
        .put_dns_challenge(publisher.id, &domain, &token, expires_at)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(DnsChallengeView {
            record_name: crate::dns::challenge_name(&domain)
                .map_err(|error| Problem::invalid(error.to_string()))?,
            record_type: "TXT".to_owned(),
            record_value: token,
            expires_at: display_time(expires_at),
        }),
    ))
}

/// Checks the TXT record and marks the publisher verified for the domain (owners, with a fresh code).
#[utoipa::path(post, path = "/api/v1/publishers/{name}/verification/dns/check", request_body = DnsDomain,
    tag = "publishers", security(("token" = [])), params(("name" = limits::Name, Path, description = "the publisher"), ("Locara-OTP" = String, Header, description = "a fresh TOTP code")),
    responses((status = 200, body = PublisherView), (status = 400, response = problem::InvalidRequest),
        (status = 403, response = problem::Forbidden), (status = 404, response = problem::NotFound),
        (status = 422, response = problem::Unprocessable)))]
pub async fn check_dns_verification(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(name): Path<String>,
    Body(request): Body<DnsDomain>,
) -> ApiResult<Json<PublisherView>> {
    let publisher = find_publisher(&state, &name).await?;
    owner_checks(&state, &caller, &publisher).await?;
    let domain = crate::dns::normalise_domain(&request.domain)
        .map_err(|error| Problem::invalid(error.to_string()))?;
    check_publisher_name(&state, &publisher.name).await?;
    caller.require_fresh_otp(&state, &headers).await?;
    let (token, expires_at) = state
        .metadata
        .dns_challenge(publisher.id, &domain)
        .await?
        .filter(|(_, expires_at)| *expires_at > now())
        .ok_or_else(|| {
            Problem::not_found(format!(
                "there is no current DNS challenge for `{domain}`; start one with `locara publisher verify {} --dns {domain}`",
                publisher.name
            ))
        })?;
    let verifier = state.dns_verifier()?;
    verifier.verify(&domain, &token).await.map_err(|error| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "dns-verification-failed",
            "DNS verification failed",
            format!(
                "{error} (the challenge is valid until {})",
                display_time(expires_at)
            ),
        )
    })?;
    record_verification(&state, &caller, &publisher, "dns", &domain).await
}

/// An OIDC identity token proving who the publisher is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcIdentity {
    /// The issuer URL, exactly as the token's `iss`.
    #[schema(min_length = 1)]
    pub issuer: String,
    /// The signed identity token (a JWT) whose audience is this registry's public URL.
    #[schema(min_length = 1)]
    pub token: String,
}

/// Verifies a publisher by an OIDC identity: the token's issuer and subject become its public record
/// (owners, with a fresh code).
#[utoipa::path(post, path = "/api/v1/publishers/{name}/verification/oidc", request_body = OidcIdentity,
    tag = "publishers", security(("token" = [])), params(("name" = limits::Name, Path, description = "the publisher"), ("Locara-OTP" = String, Header, description = "a fresh TOTP code")),
    responses((status = 200, body = PublisherView), (status = 401, response = problem::Unauthorized),
        (status = 403, response = problem::Forbidden), (status = 404, response = problem::NotFound),
        (status = 502, response = problem::BadGateway)))]
pub async fn oidc_verification(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(name): Path<String>,
    Body(request): Body<OidcIdentity>,
) -> ApiResult<Json<PublisherView>> {
    let publisher = find_publisher(&state, &name).await?;
    check_publisher_name(&state, &publisher.name).await?;
    owner_action(&state, &caller, &headers, &publisher).await?;
    let verified =
        super::trusted::verify_oidc(&state, &request.token, &request.issuer, &state.public_url)
            .await?;
    let subject = format!("{} {}", request.issuer, verified.subject());
    record_verification(&state, &caller, &publisher, "oidc", &subject).await
}

/// A trust of an OIDC issuer for trusted publishing.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddOidcTrust {
    /// The issuer URL, exactly as tokens name it: `https://` (plain `http://` only on loopback, and only
    /// when the registry sets `oidc_allow_http_loopback`).
    #[schema(pattern = r"^https://")]
    pub issuer: String,
    /// The audience tokens must name (default: this registry's public URL).
    #[serde(default)]
    pub audience: Option<String>,
    /// Claims tokens must match; at least one.
    #[schema(min_items = 1)]
    pub claims: Vec<ClaimRuleBody>,
    /// Limit the trust to one of the publisher's apps, `publisher/app`.
    #[serde(default)]
    #[schema(value_type = Option<limits::AppName>)]
    pub app: Option<String>,
}

/// Trusts an OIDC issuer (plus claim patterns and audience) to publish for the publisher or one app
/// (owners, with a fresh code).
#[utoipa::path(post, path = "/api/v1/publishers/{name}/oidc-trusts", request_body = AddOidcTrust,
    tag = "publishers", security(("token" = [])), params(("name" = limits::Name, Path, description = "the publisher"), ("Locara-OTP" = String, Header, description = "a fresh TOTP code")),
    responses((status = 201, body = OidcTrustView), (status = 400, response = problem::InvalidRequest),
        (status = 403, response = problem::Forbidden), (status = 404, response = problem::NotFound)))]
pub async fn add_oidc_trust(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(name): Path<String>,
    Body(request): Body<AddOidcTrust>,
) -> ApiResult<(StatusCode, Json<OidcTrustView>)> {
    let publisher = find_publisher(&state, &name).await?;
    owner_checks(&state, &caller, &publisher).await?;
    if request.claims.is_empty() {
        return Err(Problem::invalid(
            "a trust needs at least one claim rule (for example repository = owner/repo), or any workflow of the issuer could publish",
        ));
    }
    for rule in &request.claims {
        if rule.claim.trim().is_empty() || rule.pattern.trim().is_empty() || rule.pattern == "*" {
            return Err(Problem::invalid(format!(
                "claim rule `{}` = `{}`: both must be non-empty and the pattern must not match everything",
                rule.claim.escape_debug(),
                rule.pattern.escape_debug()
            )));
        }
    }
    let loopback_http = request.issuer.strip_prefix("http://").is_some_and(|rest| {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        matches!(host, "127.0.0.1" | "localhost" | "[") || rest.starts_with("[::1]")
    });
    let allowed = request.issuer.starts_with("https://")
        || (loopback_http && state.config.oidc_allow_http_loopback);
    if !allowed {
        return Err(Problem::invalid(format!(
            "issuer `{}` must be an https:// URL (plain http only on loopback, and only when the registry sets oidc_allow_http_loopback)",
            request.issuer.escape_debug()
        )));
    }
    if let Some(app) = &request.app {
        let owned = state.metadata.app_by_name(app).await?;
        if owned.map(|app| app.publisher_id) != Some(publisher.id) {
            return Err(Problem::not_found(format!(
                "`{}` is not an app of `{}`",
                app.escape_debug(),
                publisher.name
            )));
        }
    }
    caller.require_fresh_otp(&state, &headers).await?;
    let audience = request
        .audience
        .clone()
        .unwrap_or_else(|| state.public_url.clone());
    let at = now();
    let claims: Vec<ClaimPattern> = request
        .claims
        .iter()
        .map(|rule| ClaimPattern {
            claim: rule.claim.clone(),
            pattern: rule.pattern.clone(),
        })
        .collect();
    let entry = entry(
        at,
        Event::OidcTrusted {
            publisher: publisher.name.clone(),
            app: request.app.clone(),
            issuer: request.issuer.clone(),
            audience: audience.clone(),
            claims,
            by: caller.account.username.clone(),
        },
    )?;
    let rules =
        serde_json::to_string(&request.claims).map_err(|error| Problem::unavailable(&error))?;
    let (trust, _) = append_event(&state, async {
        state
            .metadata
            .add_oidc_trust(
                OidcTrust {
                    id: 0,
                    publisher_id: publisher.id,
                    app: request.app.clone(),
                    issuer: request.issuer.clone(),
                    audience,
                    rules,
                    created_by: caller.account.id,
                    created_at: at,
                },
                entry,
            )
            .await
    })
    .await?;
    Ok((StatusCode::CREATED, Json(trust_view(&trust))))
}

/// Records a publisher's verification with its log entry, re-signs its apps' indexes, and answers with its
/// new public record.
async fn record_verification(
    state: &AppState,
    caller: &Caller,
    publisher: &Publisher,
    method: &str,
    subject: &str,
) -> ApiResult<Json<PublisherView>> {
    // Checked again under the name lock: two look-alikes being verified at once cannot both pass.
    let names_lock = state.names.lock().await;
    check_publisher_name(state, &publisher.name).await?;
    let at = now();
    let entry = entry(
        at,
        Event::PublisherVerified {
            publisher: publisher.name.clone(),
            method: method.to_owned(),
            subject: subject.to_owned(),
            by: caller.account.username.clone(),
        },
    )?;
    append_event(state, async {
        state
            .metadata
            .mark_verified(publisher.id, method, subject, at, entry)
            .await
    })
    .await?;
    drop(names_lock);
    refresh_indexes(state, &publisher.name).await;
    let publisher = find_publisher(state, &publisher.name).await?;
    Ok(Json(publisher_view(state, &publisher).await?))
}

/// Re-signs the indexes of a publisher's apps after its public record changed; a failure is repaired by
/// the periodic re-signing.
async fn refresh_indexes(state: &AppState, publisher: &str) {
    if let Err(error) = crate::index::refresh_publisher(state, publisher).await {
        tracing::error!(publisher, %error, "re-signing app indexes failed; the next scheduled run retries");
    }
}
