//! `locara registry add|list|remove|default|refresh`.

use std::io::{self, Write};

use anyhow::Context as _;
use locara_core::digest::Digest;
use locara_core::time::Timestamp;
use serde::Serialize;

use crate::api::ApiClient;
use crate::cli::{AddArgs, RegistryCommand};
use crate::commands::{Connected, Context};
use crate::credentials::CredentialStore;
use crate::error::UsageError;
use crate::names::RegistryName;
use crate::output::Render;
use crate::registry::{Registries, RegistryEntry, RegistryUrl};
use crate::trust;

/// Runs a `locara registry` command.
pub async fn run(context: &Context, command: RegistryCommand) -> anyhow::Result<()> {
    match command {
        RegistryCommand::Add(args) => add(context, args).await,
        RegistryCommand::List => list(context),
        RegistryCommand::Remove { name } => remove(context, &name),
        RegistryCommand::Default { name } => set_default(context, &name),
        RegistryCommand::Refresh { name } => refresh(context, name).await,
    }
}

/// The result of `registry add`.
#[derive(Debug, Serialize)]
pub struct Added {
    /// The registry's name.
    pub name: RegistryName,
    /// Its base URL.
    pub url: RegistryUrl,
    /// The pinned digest.
    pub pinned_root: Digest,
    /// The version of the pinned root.
    pub pinned_version: u64,
    /// The version trusted now (after following rotations).
    pub root_version: u64,
    /// The digest of the root trusted now.
    pub root_digest: Digest,
    /// When the root trusted now expires.
    pub root_expires: Timestamp,
    /// Whether this registry is the default.
    pub default: bool,
}

impl Render for Added {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "Added registry {} ({})", self.name, self.url)?;
        writeln!(
            out,
            "  pinned root:  {} (version {})",
            self.pinned_root, self.pinned_version
        )?;
        if self.root_version != self.pinned_version {
            writeln!(
                out,
                "  rotations:    followed {} -> {}",
                self.pinned_version, self.root_version
            )?;
        }
        writeln!(
            out,
            "  trusted root: version {}, {}",
            self.root_version, self.root_digest
        )?;
        writeln!(out, "  expires:      {}", self.root_expires)?;
        if self.default {
            writeln!(
                out,
                "  default:      yes (used when --registry is not given)"
            )?;
        }
        Ok(())
    }
}

async fn add(context: &Context, args: AddArgs) -> anyhow::Result<()> {
    let AddArgs { name, url, root } = args;
    let dirs = &context.dirs;
    let mut registries = Registries::load(dirs)?;
    if let Some(existing) = registries.get(&name) {
        anyhow::bail!(crate::registry::RegistryError::Duplicate {
            name: name.clone(),
            url: existing.url.clone(),
        });
    }
    let not_added = || format!("registry {name} was not added; nothing was saved");
    let client = ApiClient::new(&url)?;
    let chain = trust::pin_root(&client, &root, Timestamp::now())
        .await
        .with_context(not_added)?;
    let entry = RegistryEntry {
        name: name.clone(),
        url: url.clone(),
        pinned_root: root,
        pinned_version: chain.pinned().version(),
    };
    // A token left by an earlier registry of this name (an interrupted remove) must never reach this one.
    if CredentialStore::new(dirs).delete(&name)? {
        context.output.warn(format_args!(
            "removed a stored API token for {name} left from an earlier registry of that name"
        ));
    }
    trust::store_chain(dirs, &entry, &chain).with_context(not_added)?;
    registries.add(entry).with_context(not_added)?;
    registries.save(dirs).with_context(not_added)?;
    let latest = chain.latest();
    context.output.print(&Added {
        default: registries.default_name() == Some(&name),
        name,
        url,
        pinned_root: root,
        pinned_version: chain.pinned().version(),
        root_version: latest.version(),
        root_digest: *latest.digest(),
        root_expires: latest.expires(),
    })?;
    Ok(())
}

/// One row of `registry list`.
#[derive(Debug, Serialize)]
pub struct Listed {
    /// The registry's name.
    pub name: RegistryName,
    /// Its base URL.
    pub url: RegistryUrl,
    /// Whether it is the default.
    pub default: bool,
    /// The pinned digest.
    pub pinned_root: Digest,
    /// The version of the pinned root.
    pub pinned_version: u64,
    /// The newest root stored on this machine (not refreshed); `null` if the stored chain is damaged.
    pub root_version: Option<u64>,
    /// When that root expires.
    pub root_expires: Option<Timestamp>,
}

/// The result of `registry list`: a JSON array.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct Listing(pub Vec<Listed>);

impl Render for Listing {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.0.is_empty() {
            return writeln!(
                out,
                "No registries configured. Add one with `locara registry add NAME URL --root DIGEST`."
            );
        }
        let name_width = self
            .0
            .iter()
            .map(|row| row.name.as_str().len())
            .max()
            .unwrap_or(0)
            .max(4);
        let url_width = self
            .0
            .iter()
            .map(|row| row.url.as_str().len())
            .max()
            .unwrap_or(0)
            .max(3);
        writeln!(
            out,
            "  {:name_width$}  {:url_width$}  ROOT  EXPIRES",
            "NAME", "URL"
        )?;
        for row in &self.0 {
            let marker = if row.default { '*' } else { ' ' };
            let version = row
                .root_version
                .map_or_else(|| "?".to_owned(), |version| format!("v{version}"));
            let expires = row.root_expires.map_or_else(
                || "damaged, see warning".to_owned(),
                |time| time.to_string(),
            );
            writeln!(
                out,
                "{marker} {:name_width$}  {:url_width$}  {version:4}  {expires}",
                row.name.as_str(),
                row.url.as_str()
            )?;
        }
        Ok(())
    }
}

fn list(context: &Context) -> anyhow::Result<()> {
    let registries = Registries::load(&context.dirs)?;
    let mut rows = Vec::new();
    for entry in registries.entries() {
        let root = match trust::load_root(&context.dirs, entry) {
            Ok(root) => Some(root),
            Err(error) => {
                context.output.warn(error);
                None
            }
        };
        rows.push(Listed {
            name: entry.name.clone(),
            url: entry.url.clone(),
            default: registries.default_name() == Some(&entry.name),
            pinned_root: entry.pinned_root,
            pinned_version: entry.pinned_version,
            root_version: root.as_ref().map(|root| root.version()),
            root_expires: root.as_ref().map(|root| root.expires()),
        });
    }
    context.output.print(&Listing(rows))?;
    Ok(())
}

/// The result of `registry remove`.
#[derive(Debug, Serialize)]
pub struct Removed {
    /// The registry's name.
    pub name: RegistryName,
    /// Its base URL.
    pub url: RegistryUrl,
    /// Whether a stored API token was deleted.
    pub removed_token: bool,
    /// The default registry now, if any remain.
    pub default: Option<RegistryName>,
}

impl Render for Removed {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        write!(out, "Removed registry {} ({})", self.name, self.url)?;
        if self.removed_token {
            write!(out, " and its stored API token")?;
        }
        writeln!(out)?;
        match &self.default {
            Some(default) => writeln!(out, "Default registry: {default}"),
            None => writeln!(out, "No registries remain."),
        }
    }
}

fn remove(context: &Context, name: &RegistryName) -> anyhow::Result<()> {
    let dirs = &context.dirs;
    let mut registries = Registries::load(dirs)?;
    // Fails on an unknown name before anything is deleted.
    let removed = registries.remove(name)?;
    // The secret goes first, so an interruption never leaves a token without its registry.
    let removed_token = CredentialStore::new(dirs).delete(name)?;
    registries.save(dirs)?;
    crate::files::remove_directory_if_present(&dirs.registry_dir(name))?;
    context.output.print(&Removed {
        name: removed.name,
        url: removed.url,
        removed_token,
        default: registries.default_name().cloned(),
    })?;
    Ok(())
}

/// The result of `registry default`.
#[derive(Debug, Serialize)]
pub struct DefaultSet {
    /// The default registry now.
    pub default: RegistryName,
}

impl Render for DefaultSet {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "Default registry: {}", self.default)
    }
}

fn set_default(context: &Context, name: &RegistryName) -> anyhow::Result<()> {
    let mut registries = Registries::load(&context.dirs)?;
    registries.set_default(name)?;
    registries.save(&context.dirs)?;
    context.output.print(&DefaultSet {
        default: name.clone(),
    })?;
    Ok(())
}

/// The result of `registry refresh`.
#[derive(Debug, Serialize)]
pub struct Refreshed {
    /// The registry's name.
    pub name: RegistryName,
    /// The version trusted before.
    pub previous_version: u64,
    /// The version trusted now.
    pub root_version: u64,
    /// The digest of the root trusted now.
    pub root_digest: Digest,
    /// When it expires.
    pub root_expires: Timestamp,
}

impl Render for Refreshed {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.root_version == self.previous_version {
            writeln!(
                out,
                "Registry {}: root version {} is current (expires {})",
                self.name, self.root_version, self.root_expires
            )
        } else {
            writeln!(
                out,
                "Registry {}: followed root rotation {} -> {} (expires {})",
                self.name, self.previous_version, self.root_version, self.root_expires
            )?;
            writeln!(out, "  trusted root: {}", self.root_digest)
        }
    }
}

async fn refresh(context: &Context, name: Option<RegistryName>) -> anyhow::Result<()> {
    let selected = match (name, &context.global.registry) {
        (Some(name), Some(flag)) if &name != flag => {
            return Err(UsageError::new(format!(
                "`registry refresh {name}` and `--registry {flag}` name different registries; give one of them"
            ))
            .into());
        }
        (Some(name), _) => Some(name),
        (None, flag) => flag.clone(),
    };
    let Connected { entry, refresh, .. } = context.connect(selected.as_ref()).await?;
    context.output.print(&Refreshed {
        name: entry.name,
        previous_version: refresh.previous_version,
        root_version: refresh.root.version(),
        root_digest: *refresh.root.digest(),
        root_expires: refresh.root.expires(),
    })?;
    Ok(())
}
