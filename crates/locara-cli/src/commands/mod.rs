//! One module per command group; each turns parsed arguments into a [`crate::output::Render`] result.

pub mod account;
pub mod app;
pub mod build;
pub mod info;
pub mod install;
pub mod keys;
pub mod lifecycle;
pub mod publish;
pub mod publisher;
pub mod registry;
pub mod token;
pub mod two_factor;
pub mod update;
pub mod verify;

use anyhow::Context as _;
use locara_core::time::Timestamp;

use crate::api::ApiClient;
use crate::cli::{Command, GlobalArgs};
use crate::credentials::CredentialStore;
use crate::dirs::Dirs;
use crate::names::RegistryName;
use crate::output::Output;
use crate::registry::{Registries, RegistryEntry};
use crate::trust::{self, RootRefresh};

/// What every command gets: the client's directories, the renderer and the global flags.
#[derive(Debug, Clone)]
pub struct Context {
    /// Where the client's files are.
    pub dirs: Dirs,
    /// Where results go.
    pub output: Output,
    /// `--json`, `--registry`.
    pub global: GlobalArgs,
}

/// A configured registry ready for use: a client (with the stored token, if any) and a fresh root.
#[derive(Debug)]
pub struct Connected {
    /// The registry's configuration.
    pub entry: RegistryEntry,
    /// The HTTP client for it.
    pub client: ApiClient,
    /// Its root of trust, rotations followed just now.
    pub refresh: RootRefresh,
}

impl Context {
    /// Connects to `name`, else the `--registry` registry, else the default: loads its stored token and
    /// follows its root rotations (refusing an expired root). Every command that talks to a registry
    /// starts here.
    pub async fn connect(&self, name: Option<&RegistryName>) -> anyhow::Result<Connected> {
        self.connect_with(name, true).await
    }

    /// [`Context::connect`] without the stored token: for signing up and logging in, which must work
    /// whatever state a stored token is in.
    pub async fn connect_anonymously(
        &self,
        name: Option<&RegistryName>,
    ) -> anyhow::Result<Connected> {
        self.connect_with(name, false).await
    }

    /// The registry `name`, else the `--registry` registry, else the default, without connecting.
    pub fn select_registry(&self, name: Option<&RegistryName>) -> anyhow::Result<RegistryEntry> {
        let registries = Registries::load(&self.dirs)?;
        Ok(registries
            .select(name.or(self.global.registry.as_ref()))?
            .clone())
    }

    async fn connect_with(
        &self,
        name: Option<&RegistryName>,
        with_token: bool,
    ) -> anyhow::Result<Connected> {
        let entry = self.select_registry(name)?;
        let mut client = ApiClient::new(&entry.url)?;
        if with_token && let Some(token) = CredentialStore::new(&self.dirs).load(&entry.name)? {
            client = client.with_token(token);
        }
        let refresh = trust::refresh_root(&self.dirs, &entry, &client, Timestamp::now())
            .await
            .with_context(|| {
                format!(
                    "could not refresh the root of trust of registry {}",
                    entry.name
                )
            })?;
        Ok(Connected {
            entry,
            client,
            refresh,
        })
    }
}

impl Connected {
    /// Refuses, before any request, when no token is stored for this registry.
    pub fn require_login(&self) -> anyhow::Result<()> {
        if self.client.has_token() {
            Ok(())
        } else {
            anyhow::bail!(
                "not logged in to registry {}: run `locara login` first",
                self.entry.name
            )
        }
    }
}

/// Runs one command.
pub async fn dispatch(context: &Context, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Registry(command) => registry::run(context, command).await,
        Command::Keys(command) => keys::run(context, command).await,
        Command::Signup(args) => account::signup(context, args).await,
        Command::Login(args) => account::login(context, args).await,
        Command::Logout => account::logout(context).await,
        Command::TwoFactor(command) => two_factor::run(context, command).await,
        Command::Token(command) => token::run(context, command).await,
        Command::Account(command) => account::run(context, command).await,
        Command::Publisher(command) => publisher::run(context, command).await,
        Command::App(command) => app::run(context, command).await,
        Command::Publish(args) => publish::run(context, args).await,
        Command::Build(command) => build::run(context, command).await,
        Command::Info(args) => info::run(context, args).await,
        Command::Install(args) => install::install(context, args).await,
        Command::Uninstall(args) => install::uninstall(context, args).await,
        Command::List(args) => install::list(context, args).await,
        Command::Update(args) => update::update(context, args).await,
        Command::Sync(args) => update::sync(context, args).await,
        Command::Verify(args) => verify::verify(context, args).await,
        Command::Lock(args) => install::lock(context, args).await,
        Command::Run(args) => install::run(context, args).await,
        Command::Search(args) => lifecycle::search(context, args).await,
        Command::Yank(args) => lifecycle::yank(context, args).await,
        Command::Deprecate(args) => lifecycle::deprecate(context, args).await,
    }
}
