//! `locara publisher create|show|verify|member|trust`.
//!
//! A publisher is always shown with how it is verified (method and subject, or `NOT VERIFIED`), in the
//! first line about it: that is what tells a user whose app they are looking at (DESIGN §3).

use std::fs::File;
use std::io::{self, Read as _, Write};
use std::path::Path;

use anyhow::Context as _;
use locara_core::names::PublisherName;
use serde::Serialize;

use crate::api::ApiClient;
use crate::cli::{MemberCommand, PublisherCommand, TrustArgs, VerifyArgs};
use crate::commands::Context;
use crate::error::UsageError;
use crate::output::{Render, printable};
use crate::prompt::CodeSource;
use crate::publisher::{
    self, DnsChallenge, NewTrust, OidcTrust, PublisherRecord, Verification, describe_verification,
};
use crate::secret::Secret;

/// The largest OIDC identity token file read.
pub const MAX_OIDC_TOKEN_BYTES: u64 = 64 * 1024;

/// Runs a `locara publisher` command.
pub async fn run(context: &Context, command: PublisherCommand) -> anyhow::Result<()> {
    match command {
        PublisherCommand::Create { name, otp } => {
            let code = CodeSource::choose(otp.otp, &context.output)?;
            create(context, &name, &code).await
        }
        PublisherCommand::Show { name } => show(context, &name).await,
        PublisherCommand::Verify(args) => verify(context, args).await,
        PublisherCommand::Member(command) => member(context, command).await,
        PublisherCommand::Trust(args) => trust(context, args).await,
    }
}

/// A publisher's name and how it is verified, the way every command shows a publisher:
/// `acme (verified by DNS: acme.example)`, `acme (NOT VERIFIED)`, or `acme (verification unknown)` when
/// the registry could not be asked (`verification` is `None`).
pub fn describe_publisher(
    name: &PublisherName,
    verification: Option<Option<&Verification>>,
) -> String {
    match verification {
        Some(verification) => format!(
            "{name} ({})",
            printable(&describe_verification(verification))
        ),
        None => format!("{name} (verification unknown)"),
    }
}

/// How `name` is verified, read from its public record for showing beside its name; `None` (after a
/// warning) when the registry could not be asked. Commands whose answer lacks the publisher's verification
/// use this, so a publisher's name never appears without it.
pub async fn verification_of(
    context: &Context,
    client: &ApiClient,
    name: &PublisherName,
) -> Option<Option<Verification>> {
    match publisher::show_publisher(client, name).await {
        Ok(record) => Some(record.verification),
        Err(error) => {
            context.output.warn(format_args!(
                "could not read how publisher {name} is verified: {error}"
            ));
            None
        }
    }
}

/// A publisher's public record, as `publisher show` (and every command that changes it) prints it.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct Shown(pub PublisherRecord);

impl Render for Shown {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        let record = &self.0;
        writeln!(
            out,
            "Publisher {} [{}]",
            describe_publisher(&record.name, Some(record.verification.as_ref())),
            printable(&record.kind)
        )?;
        match &record.verification {
            Some(verification) => {
                writeln!(out, "  verified:  {}", verification.verified_at)?;
            }
            None => writeln!(
                out,
                "  It cannot register apps until it is verified: `locara publisher verify {} --dns DOMAIN`",
                record.name
            )?,
        }
        writeln!(out, "  created:   {}", record.created_at)?;
        let members: Vec<String> = record
            .members
            .iter()
            .map(|member| format!("{} ({})", member.username, member.role))
            .collect();
        writeln!(out, "  members:   {}", none_if_empty(&members.join(", ")))?;
        let apps: Vec<String> = record.apps.iter().map(ToString::to_string).collect();
        writeln!(out, "  apps:      {}", none_if_empty(&apps.join(", ")))?;
        if record.keys.is_empty() {
            writeln!(out, "  keys:      none")?;
        } else {
            writeln!(out, "  keys:")?;
            for key in &record.keys {
                match key.revoked_at {
                    Some(at) => writeln!(out, "    {}  revoked {at}", key.key_id)?,
                    None => writeln!(out, "    {}  registered {}", key.key_id, key.registered_at)?,
                }
            }
        }
        if record.oidc_trusts.is_empty() {
            writeln!(out, "  trusted publishing: none")?;
        } else {
            writeln!(out, "  trusted publishing:")?;
            for trust in &record.oidc_trusts {
                write_trust(out, trust)?;
            }
        }
        Ok(())
    }
}

fn none_if_empty(text: &str) -> &str {
    if text.is_empty() { "none" } else { text }
}

fn write_trust(out: &mut dyn Write, trust: &OidcTrust) -> io::Result<()> {
    let claims: Vec<String> = trust.claims.iter().map(ToString::to_string).collect();
    writeln!(
        out,
        "    #{} {} (audience {}; {}): {}",
        trust.id,
        printable(&trust.issuer),
        printable(&trust.audience),
        trust
            .app
            .as_ref()
            .map_or_else(|| "any app".to_owned(), |app| format!("app {app}")),
        printable(&claims.join(", "))
    )
}

async fn create(context: &Context, name: &PublisherName, code: &CodeSource) -> anyhow::Result<()> {
    let connected = context.connect(None).await?;
    connected.require_login()?;
    let code = code.code(&format!("to create the organisation {name}"))?;
    let record = publisher::create_publisher(&connected.client, name, &code).await?;
    context.output.print(&Shown(record))?;
    Ok(())
}

async fn show(context: &Context, name: &PublisherName) -> anyhow::Result<()> {
    let connected = context.connect_anonymously(None).await?;
    let record = publisher::show_publisher(&connected.client, name).await?;
    context.output.print(&Shown(record))?;
    Ok(())
}

/// The result of `publisher verify NAME --dns DOMAIN`: the record to create.
#[derive(Debug, Serialize)]
pub struct Challenge {
    /// The publisher.
    pub publisher: PublisherName,
    /// The domain.
    pub domain: String,
    /// The TXT record.
    #[serde(flatten)]
    pub record: DnsChallenge,
}

impl Render for Challenge {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        let domain = printable(&self.domain);
        writeln!(
            out,
            "To verify publisher {} by DNS, publish this record:",
            self.publisher
        )?;
        writeln!(out, "  name:  {}", printable(&self.record.record_name))?;
        writeln!(out, "  type:  {}", printable(&self.record.record_type))?;
        writeln!(out, "  value: {}", printable(&self.record.record_value))?;
        writeln!(
            out,
            "The challenge is valid until {}. Once the record is published, run:",
            self.record.expires_at
        )?;
        writeln!(
            out,
            "  locara publisher verify {} --dns {domain} --check",
            self.publisher
        )
    }
}

async fn verify(context: &Context, args: VerifyArgs) -> anyhow::Result<()> {
    let VerifyArgs {
        name,
        dns,
        check,
        oidc_issuer,
        oidc_token_file,
        otp,
    } = args;
    match (dns, oidc_issuer, oidc_token_file) {
        (Some(domain), _, _) if !check => {
            let connected = context.connect(None).await?;
            connected.require_login()?;
            let record =
                publisher::start_dns_verification(&connected.client, &name, &domain).await?;
            context.output.print(&Challenge {
                publisher: name,
                domain,
                record,
            })?;
        }
        (Some(domain), _, _) => {
            let code = CodeSource::choose(otp.otp, &context.output)?;
            let connected = context.connect(None).await?;
            connected.require_login()?;
            let code = code.code("to verify the publisher")?;
            let record =
                publisher::check_dns_verification(&connected.client, &name, &domain, &code).await?;
            context.output.print(&Shown(record))?;
        }
        (None, Some(issuer), Some(token_file)) => {
            let code = CodeSource::choose(otp.otp, &context.output)?;
            let token = read_identity_token(&token_file)?;
            let connected = context.connect(None).await?;
            connected.require_login()?;
            let code = code.code("to verify the publisher")?;
            let record =
                publisher::verify_by_oidc(&connected.client, &name, &issuer, &token, &code).await?;
            context.output.print(&Shown(record))?;
        }
        _ => {
            return Err(UsageError::new(
                "say how to verify: --dns DOMAIN, or --oidc-issuer URL with --oidc-token-file FILE",
            )
            .into());
        }
    }
    Ok(())
}

/// Reads an OIDC identity token (a JWT: one line of base64url parts) from `path`; never echoes it.
pub(crate) fn read_identity_token(path: &Path) -> anyhow::Result<Secret> {
    let failed = || format!("could not read the OIDC token file {}", path.display());
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    File::open(path)
        .and_then(|file| file.take(MAX_OIDC_TOKEN_BYTES + 1).read_to_end(&mut bytes))
        .with_context(failed)?;
    if bytes.len() as u64 > MAX_OIDC_TOKEN_BYTES {
        anyhow::bail!(
            "the OIDC token file {} is larger than {MAX_OIDC_TOKEN_BYTES} bytes; it should hold one identity token",
            path.display()
        );
    }
    let text = std::str::from_utf8(&bytes)
        .ok()
        .map(str::trim)
        .filter(|text| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_graphic()))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the OIDC token file {} does not hold an identity token (one line of text, a JWT)",
                path.display()
            )
        })?;
    Ok(Secret::new(text))
}

async fn member(context: &Context, command: MemberCommand) -> anyhow::Result<()> {
    let (name, user, role, otp) = match command {
        MemberCommand::Add {
            name,
            user,
            role,
            otp,
        } => (name, user, Some(role), otp),
        MemberCommand::Remove { name, user, otp } => (name, user, None, otp),
    };
    let code = CodeSource::choose(otp.otp, &context.output)?;
    let connected = context.connect(None).await?;
    connected.require_login()?;
    let client = &connected.client;
    let record = match role {
        Some(role) => {
            let code = code.code(&format!("to make {user} a {role} of {name}"))?;
            publisher::put_member(client, &name, &user, role, &code).await?
        }
        None => {
            let code = code.code(&format!("to remove {user} from {name}"))?;
            publisher::remove_member(client, &name, &user, &code).await?
        }
    };
    context.output.print(&Shown(record))?;
    Ok(())
}

/// The result of `publisher trust`.
#[derive(Debug, Serialize)]
pub struct Trusted {
    /// The publisher.
    pub publisher: PublisherName,
    /// How the publisher is verified (`null`: not verified); absent when the registry could not be asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publisher_verification: Option<Option<Verification>>,
    /// The new trust.
    #[serde(flatten)]
    pub trust: OidcTrust,
}

impl Render for Trusted {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "Publisher {} now trusts tokens from this OIDC issuer to publish:",
            describe_publisher(
                &self.publisher,
                self.publisher_verification.as_ref().map(Option::as_ref)
            )
        )?;
        write_trust(out, &self.trust)
    }
}

async fn trust(context: &Context, args: TrustArgs) -> anyhow::Result<()> {
    let TrustArgs {
        name,
        issuer,
        claims,
        audience,
        app,
        otp,
    } = args;
    let code = CodeSource::choose(otp.otp, &context.output)?;
    let connected = context.connect(None).await?;
    connected.require_login()?;
    let client = &connected.client;
    let request = NewTrust {
        issuer,
        audience,
        claims,
        app,
    };
    let code = code.code(&format!("to trust the issuer for {name}"))?;
    let trust = publisher::add_oidc_trust(client, &name, &request, &code).await?;
    let publisher_verification = verification_of(context, client, &name).await;
    context.output.print(&Trusted {
        publisher: name,
        publisher_verification,
        trust,
    })?;
    Ok(())
}
