//! `locara keys generate|list|register|revoke`: release keys on this machine, and registered with a
//! publisher.

use std::io::{self, Write};
use std::path::PathBuf;

use locara_core::keys::{KeyFileError, KeyId, PublicKey, SigningKey};
use locara_core::names::PublisherName;
use serde::Serialize;

use crate::cli::KeysCommand;
use crate::commands::Context;
use crate::commands::publisher::{describe_publisher, verification_of};
use crate::error::UsageError;
use crate::keys;
use crate::names::KeyName;
use crate::output::{Render, write_table};
use crate::prompt::CodeSource;
use crate::publisher::{self, RegisteredKey, Verification};

/// Runs a `locara keys` command.
pub async fn run(context: &Context, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Generate { name } => generate(context, &name),
        KeysCommand::List {
            publisher: Some(publisher),
            ..
        } => list_registered(context, &publisher).await,
        KeysCommand::List { local: true, .. } => list_local(context),
        KeysCommand::List { local: false, .. } => Err(UsageError::new(
            "say which keys: --local for the key files on this machine, or --publisher NAME for the keys registered for a publisher",
        )
        .into()),
        KeysCommand::Register {
            name,
            publisher,
            otp,
        } => {
            let code = CodeSource::choose(otp.otp, &context.output)?;
            register(context, &name, &publisher, &code).await
        }
        KeysCommand::Revoke {
            key_id,
            publisher,
            otp,
        } => {
            let code = CodeSource::choose(otp.otp, &context.output)?;
            revoke(context, &key_id, &publisher, &code).await
        }
    }
}

/// The result of `keys generate`.
#[derive(Debug, Serialize)]
pub struct Generated {
    /// The key's local name.
    pub name: KeyName,
    /// The key id (hex SHA-256 of the public key's text form).
    pub key_id: KeyId,
    /// The public key, `ed25519:<base64>`.
    pub public_key: PublicKey,
    /// The private key file (mode 0600).
    pub path: PathBuf,
}

impl Render for Generated {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "Generated release key {}", self.name)?;
        writeln!(out, "  key id:     {}", self.key_id)?;
        writeln!(out, "  public key: {}", self.public_key)?;
        writeln!(out, "  file:       {} (mode 0600)", self.path.display())?;
        writeln!(
            out,
            "Back this file up somewhere safe: it is the only copy of the private key."
        )
    }
}

fn generate(context: &Context, name: &KeyName) -> anyhow::Result<()> {
    let (key, path) = keys::generate(&context.dirs, name)?;
    context.output.print(&Generated {
        name: name.clone(),
        key_id: *key.key_id(),
        public_key: key.public_key().clone(),
        path,
    })?;
    Ok(())
}

/// One row of `keys list --local`.
#[derive(Debug, Serialize)]
pub struct ListedKey {
    /// The key's local name.
    pub name: KeyName,
    /// The key file.
    pub path: PathBuf,
    /// The key id, if the file could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<KeyId>,
    /// The public key, if the file could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKey>,
    /// Why the file could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The result of `keys list --local`: a JSON array.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct KeyListing(pub Vec<ListedKey>);

impl Render for KeyListing {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.0.is_empty() {
            return writeln!(
                out,
                "No release keys on this machine. Create one with `locara keys generate`."
            );
        }
        let width = self
            .0
            .iter()
            .map(|key| key.name.as_str().len())
            .max()
            .unwrap_or(0)
            .max(4);
        writeln!(out, "{:width$}  {:64}  PUBLIC KEY", "NAME", "KEY ID")?;
        for key in &self.0 {
            match (&key.key_id, &key.public_key) {
                (Some(key_id), Some(public_key)) => {
                    writeln!(out, "{:width$}  {key_id}  {public_key}", key.name.as_str())?
                }
                _ => writeln!(
                    out,
                    "{:width$}  unreadable: {}",
                    key.name.as_str(),
                    key.error.as_deref().unwrap_or("unknown error")
                )?,
            }
        }
        Ok(())
    }
}

fn list_local(context: &Context) -> anyhow::Result<()> {
    let found = keys::list(&context.dirs)?;
    let mut unreadable = 0;
    let rows = found
        .into_iter()
        .map(|local| match local.key {
            Ok(key) => ListedKey {
                name: local.name,
                path: local.path,
                key_id: Some(*key.key_id()),
                public_key: Some(key.public_key().clone()),
                error: None,
            },
            Err(error) => {
                unreadable += 1;
                ListedKey {
                    name: local.name,
                    path: local.path,
                    key_id: None,
                    public_key: None,
                    error: Some(error.to_string()),
                }
            }
        })
        .collect();
    context.output.print(&KeyListing(rows))?;
    if unreadable > 0 {
        anyhow::bail!("{unreadable} key file(s) could not be read; see the listing above");
    }
    Ok(())
}

/// The release keys on this machine, by key id, for marking registered keys that are local.
fn local_key_names(context: &Context) -> Vec<(KeyId, KeyName)> {
    keys::list(&context.dirs)
        .map(|found| {
            found
                .into_iter()
                .filter_map(|local| Some((*local.key.ok()?.key_id(), local.name)))
                .collect()
        })
        .unwrap_or_default()
}

/// One registered key in `keys list --publisher`.
#[derive(Debug, Serialize)]
pub struct ListedRegisteredKey {
    /// The key as the registry records it.
    #[serde(flatten)]
    pub key: RegisteredKey,
    /// The name of the key file on this machine holding its private half, if there is one.
    pub local_name: Option<KeyName>,
}

/// The result of `keys list --publisher`.
#[derive(Debug, Serialize)]
pub struct RegisteredKeyListing {
    /// The publisher.
    pub publisher: PublisherName,
    /// How it is verified (`null`: not verified).
    pub verification: Option<Verification>,
    /// Its keys, revoked ones included.
    pub keys: Vec<ListedRegisteredKey>,
}

impl Render for RegisteredKeyListing {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        let publisher = describe_publisher(&self.publisher, Some(self.verification.as_ref()));
        if self.keys.is_empty() {
            return writeln!(
                out,
                "Publisher {publisher} has no release keys. Register one with `locara keys register --publisher {}`.",
                self.publisher
            );
        }
        writeln!(out, "Release keys of publisher {publisher}:")?;
        let rows: Vec<Vec<String>> = self
            .keys
            .iter()
            .map(|listed| {
                let key = &listed.key;
                vec![
                    key.key_id.to_string(),
                    match key.revoked_at {
                        Some(at) => format!("revoked {at}"),
                        None => format!("registered {}", key.registered_at),
                    },
                    listed
                        .local_name
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), ToString::to_string),
                ]
            })
            .collect();
        write_table(out, &["KEY ID", "STATUS", "LOCAL NAME"], &rows)
    }
}

async fn list_registered(context: &Context, publisher: &PublisherName) -> anyhow::Result<()> {
    let connected = context.connect_anonymously(None).await?;
    let record = publisher::show_publisher(&connected.client, publisher).await?;
    let local = local_key_names(context);
    let keys = record
        .keys
        .into_iter()
        .map(|key| ListedRegisteredKey {
            local_name: local
                .iter()
                .find(|(key_id, _)| *key_id == key.key_id)
                .map(|(_, name)| name.clone()),
            key,
        })
        .collect();
    context.output.print(&RegisteredKeyListing {
        publisher: record.name,
        verification: record.verification,
        keys,
    })?;
    Ok(())
}

/// The result of `keys register` and `keys revoke`.
#[derive(Debug, Serialize)]
pub struct KeyChanged {
    /// The publisher.
    pub publisher: PublisherName,
    /// How it is verified (`null`: not verified); absent when the registry could not be asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publisher_verification: Option<Option<Verification>>,
    /// The key file's name on this machine (for `register`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_name: Option<KeyName>,
    /// The key as the registry records it now.
    #[serde(flatten)]
    pub key: RegisteredKey,
}

impl Render for KeyChanged {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        let publisher = describe_publisher(
            &self.publisher,
            self.publisher_verification.as_ref().map(Option::as_ref),
        );
        match self.key.revoked_at {
            Some(at) => {
                writeln!(out, "Revoked release key {}", self.key.key_id)?;
                writeln!(out, "  publisher:  {publisher}")?;
                writeln!(
                    out,
                    "  revoked:    {at} (log entry {})",
                    self.key
                        .revoked_log_index
                        .map_or_else(|| "?".to_owned(), |index| index.to_string())
                )?;
                writeln!(out, "Releases signed by this key are refused from now on.")
            }
            None => {
                writeln!(out, "Registered release key {}", self.key.key_id)?;
                writeln!(out, "  publisher:  {publisher}")?;
                if let Some(name) = &self.local_name {
                    writeln!(out, "  local key:  {name}")?;
                }
                writeln!(out, "  public key: {}", self.key.public_key)?;
                writeln!(
                    out,
                    "  registered: {} (log entry {})",
                    self.key.registered_at, self.key.log_index
                )
            }
        }
    }
}

/// Loads the local key `name`, saying how to make one if there is none.
pub(crate) fn load_local_key(context: &Context, name: &KeyName) -> anyhow::Result<SigningKey> {
    let path = context.dirs.key_file(name);
    SigningKey::load(&path).map_err(|error| match error {
        KeyFileError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
            anyhow::anyhow!(
                "there is no release key named {name} on this machine ({}); create it with `locara keys generate --name {name}`",
                path.display()
            )
        }
        other => other.into(),
    })
}

async fn register(
    context: &Context,
    name: &KeyName,
    publisher: &PublisherName,
    code: &CodeSource,
) -> anyhow::Result<()> {
    let key = load_local_key(context, name)?;
    let connected = context.connect(None).await?;
    connected.require_login()?;
    let client = &connected.client;
    let code = code.code(&format!("to register key {name} for {publisher}"))?;
    let registered = publisher::register_key(client, publisher, key.public_key(), &code).await?;
    if registered.key_id != *key.key_id() || registered.public_key != *key.public_key() {
        anyhow::bail!(
            "the registry answered with key {} for the key {} sent; check `locara keys list --publisher {publisher}`",
            registered.key_id,
            key.key_id()
        );
    }
    let publisher_verification = verification_of(context, client, publisher).await;
    context.output.print(&KeyChanged {
        publisher: publisher.clone(),
        publisher_verification,
        local_name: Some(name.clone()),
        key: registered,
    })?;
    Ok(())
}

async fn revoke(
    context: &Context,
    key_id: &KeyId,
    publisher: &PublisherName,
    code: &CodeSource,
) -> anyhow::Result<()> {
    let connected = context.connect(None).await?;
    connected.require_login()?;
    let client = &connected.client;
    let code = code.code(&format!("to revoke the key of {publisher}"))?;
    let revoked = publisher::revoke_key(client, publisher, key_id, &code).await?;
    if revoked.key_id != *key_id || revoked.revoked_at.is_none() {
        anyhow::bail!(
            "the registry did not answer with key {key_id} revoked; check `locara keys list --publisher {publisher}`"
        );
    }
    let publisher_verification = verification_of(context, client, publisher).await;
    context.output.print(&KeyChanged {
        publisher: publisher.clone(),
        publisher_verification,
        local_name: None,
        key: revoked,
    })?;
    Ok(())
}
