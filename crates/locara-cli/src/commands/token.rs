//! `locara token create|list|revoke`: scoped, expiring API tokens.
//!
//! Invariant: a token's secret is printed once, by `token create`, and never stored by the client; `list`
//! never has it (the registry keeps only a hash).

use std::io::{self, Write};

use serde::Serialize;

use crate::account::{self, NewToken, TokenRecord};
use crate::cli::TokenCommand;
use crate::commands::Context;
use crate::output::{Render, write_table};
use crate::prompt::CodeSource;
use crate::secret::Secret;

/// Runs a `locara token` command.
pub async fn run(context: &Context, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            name,
            scopes,
            app,
            expires_in_days,
            otp,
        } => {
            let code = CodeSource::choose(otp.otp, &context.output)?;
            let request = NewToken {
                name,
                scopes,
                app,
                expires_in_days,
            };
            create(context, &request, &code).await
        }
        TokenCommand::List => list(context).await,
        TokenCommand::Revoke { id } => revoke(context, id).await,
    }
}

/// The result of `token create`: the secret, shown only now, and the token's record.
#[derive(Debug, Serialize)]
pub struct Created {
    /// The secret, `locara_pat_…`.
    pub token: Secret,
    /// The token's record.
    #[serde(flatten)]
    pub record: TokenRecord,
}

impl Render for Created {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        let record = &self.record;
        writeln!(out, "Created API token {} ({:?})", record.id, record.name)?;
        writeln!(out, "  scopes:  {}", record.scopes.join(", "))?;
        writeln!(
            out,
            "  app:     {}",
            record
                .app
                .as_ref()
                .map_or_else(|| "any".to_owned(), ToString::to_string)
        )?;
        writeln!(out, "  expires: {}", record.expires_at)?;
        writeln!(out, "  token:   {}", self.token.expose())?;
        writeln!(
            out,
            "This is the only time the token is shown: store it now (for example as a CI secret)."
        )
    }
}

async fn create(context: &Context, request: &NewToken, code: &CodeSource) -> anyhow::Result<()> {
    let connected = context.connect(None).await?;
    connected.require_login()?;
    let code = code.code("to create the token")?;
    let issued = account::create_token(&connected.client, request, &code).await?;
    context.output.print(&Created {
        token: Secret::new(issued.token.expose()),
        record: issued.record,
    })?;
    Ok(())
}

/// The result of `token list`: a JSON array.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct TokenListing(pub Vec<TokenRecord>);

fn status(token: &TokenRecord) -> String {
    match token.revoked_at {
        Some(at) => format!("revoked {at}"),
        None => format!("expires {}", token.expires_at),
    }
}

impl Render for TokenListing {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.0.is_empty() {
            return writeln!(out, "No tokens.");
        }
        let rows: Vec<Vec<String>> = self
            .0
            .iter()
            .map(|token| {
                vec![
                    token.id.to_string(),
                    token.name.clone(),
                    token.kind.clone(),
                    token.scopes.join(","),
                    token
                        .app
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), ToString::to_string),
                    status(token),
                    token
                        .last_used_at
                        .map_or_else(|| "never".to_owned(), |at| at.to_string()),
                ]
            })
            .collect();
        write_table(
            out,
            &["ID", "NAME", "KIND", "SCOPES", "APP", "STATUS", "LAST USED"],
            &rows,
        )
    }
}

async fn list(context: &Context) -> anyhow::Result<()> {
    let connected = context.connect(None).await?;
    connected.require_login()?;
    let tokens = account::list_tokens(&connected.client).await?;
    context.output.print(&TokenListing(tokens))?;
    Ok(())
}

/// The result of `token revoke`.
#[derive(Debug, Serialize)]
pub struct Revoked {
    /// The token's id.
    pub id: u64,
}

impl Render for Revoked {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "Revoked token {}", self.id)
    }
}

async fn revoke(context: &Context, id: u64) -> anyhow::Result<()> {
    let connected = context.connect(None).await?;
    connected.require_login()?;
    account::revoke_token(&connected.client, id).await?;
    context.output.print(&Revoked { id })?;
    Ok(())
}
