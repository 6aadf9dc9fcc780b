//! The command line: every command, flag and argument, parsed into typed values.
//!
//! Names, URLs, digests and codes are parsed here, at the boundary, into [`RegistryName`], [`RegistryUrl`],
//! [`Digest`], [`KeyName`], [`KeyId`], [`Username`], [`PublisherName`], [`AppName`], [`ClaimRule`] and
//! [`OneTimeCode`]; a malformed one is a usage error (exit code 2) reported by clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use locara_core::digest::Digest;
use locara_core::keys::KeyId;
use locara_core::names::{AppName, PublisherName};

use crate::account::{MemberRole, TokenScope, Username};
use crate::names::{KeyName, RegistryName};
use crate::publisher::ClaimRule;
use crate::registry::RegistryUrl;
use crate::second_factor::{OneTimeCode, RecoveryCode};

/// How long a new API token lives unless `--expires-in-days` says otherwise.
pub const DEFAULT_TOKEN_DAYS: u32 = 90;

/// Locara: install, run and publish local apps built from source by a registry you trust.
#[derive(Debug, Parser)]
#[command(
    name = "locara",
    version,
    propagate_version = true,
    after_help = "Files live under $LOCARA_HOME when it is set, otherwise in ~/.config/locara and ~/.local/share/locara.\nExit codes: 0 success, 1 a failed check or other failure, 2 a usage error."
)]
pub struct Cli {
    /// Global flags.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Print results as JSON on stdout (errors and warnings still go to stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// Use this configured registry instead of the default one.
    #[arg(long, global = true, value_name = "NAME")]
    pub registry: Option<RegistryName>,
    /// No progress bars or progress lines (results and errors are still printed).
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Configure the registries this client trusts, each pinned by the digest of its root of trust.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Manage release signing keys: on this machine, and registered with a publisher.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Create an account on the registry (then `locara login` and `locara 2fa enable`).
    #[command(
        after_help = "The password is asked for twice on a terminal; scripts write it to standard input with --password-stdin.\nThe username is also the name of the account's personal publisher."
    )]
    Signup(SignupArgs),
    /// Sign in and store the session token on this machine (mode 0600).
    #[command(
        after_help = "For an account with two-factor authentication the one-time code is asked for on a terminal;\nwithout one pass --otp CODE (or --recovery-code CODE if the authenticator is lost).\n\nExample (CI):\n  printf '%s' \"$PASSWORD\" | locara login --username alice --password-stdin --otp 123456"
    )]
    Login(LoginArgs),
    /// Sign out: revoke the stored session token on the registry and delete it from this machine.
    Logout,
    /// Two-factor authentication with an authenticator app (TOTP).
    #[command(name = "2fa", subcommand)]
    TwoFactor(TwoFactorCommand),
    /// Scoped, expiring API tokens for CI and scripts.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Your account: its security events (failed sign-ins and codes, locks).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Publishers: organisations, members, verification, trusted publishing.
    #[command(subcommand)]
    Publisher(PublisherCommand),
    /// App names.
    #[command(subcommand)]
    App(AppCommand),
    /// Publish a release: sign a release statement for a commit and have the registry build it.
    #[command(
        after_help = "Run it in the app's git work tree (or pass --path): the commit is HEAD of a clean work tree unless\n--commit names one, and the app, version and repository come from its locara.toml. The repository in\nthe statement must be the one the app is registered with (--repository overrides the manifest's\n`source`, e.g. file:///abs/path for a registry on this machine).\n\nExamples:\n  locara publish --wait\n  locara publish --commit v1.4.2 --key ci --oidc-token-file \"$ID_TOKEN_FILE\"   # trusted publishing from CI"
    )]
    Publish(PublishArgs),
    /// Builds of release requests: their state and logs (for members of the app's publisher).
    #[command(subcommand)]
    Build(BuildCommand),
    /// Show an app, its verified publisher, repository and releases, checked against its signed index.
    Info(InfoArgs),
    /// Install apps: every check of the trust chain before anything is unpacked, then consent.
    #[command(
        after_help = "Each app is publisher/app, optionally @VERSION: @1.2.3 is exactly that version; @1, @1.2, @^1.2,\n@~1.2.3 or @\">=1.2, <2\" are requirements. Yanked, revoked and cooling-down releases are not chosen, nor\nreleases younger than the minimum release age (policy file, default 24h; --min-age 0 for this command).\nNothing is unpacked before every check passed; declining installs nothing.\n\nExamples:\n  locara install acme/notes-search\n  locara install acme/notes-search@1.4 demo/hello-c --yes\n  locara install --locked              # exactly what ./locara.lock names"
    )]
    Install(InstallArgs),
    /// Remove installed apps (their launchers, then their store entries; the history stays).
    Uninstall(UninstallArgs),
    /// List installed apps, their versions, status and granted capabilities.
    List(ListArgs),
    /// Update installed apps under the update policy (patch releases apply; bigger ones and any new capability ask).
    Update(UpdateArgs),
    /// Fetch each registry's checkpoint, revocation list and indexes; quarantine revoked apps; apply updates that need no yes.
    Sync(SyncArgs),
    /// Re-check every installed app against the store and the transparency log (exit 1 on any finding).
    Verify(VerifyInstalledArgs),
    /// Write locara.lock from the installed apps, so `install --locked` installs identical bytes elsewhere.
    Lock(LockArgs),
    /// Run an installed app (the sandboxed runtime arrives in a later version; this says so).
    Run(RunArgs),
    /// Find apps by name or description.
    Search(SearchArgs),
    /// Yank a release: no new install or update chooses it; installed copies and lockfiles keep working.
    Yank(YankArgs),
    /// Deprecate a release: it stays installable, and clients show your message.
    Deprecate(DeprecateArgs),
}

/// `locara search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Text to find in app names and descriptions.
    pub query: String,
    /// How many results at most (1-100).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub limit: u32,
}

/// `locara yank`.
#[derive(Debug, Args)]
pub struct YankArgs {
    /// The release: `publisher/app@VERSION`.
    #[arg(value_name = "APP@VERSION")]
    pub release: crate::resolve::AppRequest,
    /// Why (recorded in the transparency log).
    #[arg(long)]
    pub reason: Option<String>,
    /// The fresh one-time code.
    #[command(flatten)]
    pub otp: OtpArg,
}

/// `locara deprecate`.
#[derive(Debug, Args)]
pub struct DeprecateArgs {
    /// The release: `publisher/app@VERSION`.
    #[arg(value_name = "APP@VERSION")]
    pub release: crate::resolve::AppRequest,
    /// What users are told (why, and what to use instead); at most 500 characters.
    #[arg(long)]
    pub message: String,
    /// The fresh one-time code.
    #[command(flatten)]
    pub otp: OtpArg,
}

/// `locara install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Apps to install: `publisher/app[@VERSION]`.
    #[arg(value_name = "APP")]
    pub apps: Vec<crate::resolve::AppRequest>,
    /// Install exactly what the lockfile names (and fail if anything differs).
    #[arg(long)]
    pub locked: bool,
    /// The lockfile to read (default: ./locara.lock).
    #[arg(long, value_name = "PATH")]
    pub lockfile: Option<PathBuf>,
    /// Grant what the apps ask for without a question (for unattended machines; see also the policy file).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// The minimum release age for this command (e.g. 0, 90m, 24h, 7d), instead of the policy's.
    #[arg(long, value_name = "DURATION")]
    pub min_age: Option<String>,
}

/// `locara uninstall`.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Apps to remove.
    #[arg(value_name = "APP", required = true)]
    pub apps: Vec<AppName>,
}

/// `locara list`.
#[derive(Debug, Args)]
pub struct ListArgs {}

/// `locara update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Apps to update (default: every installed app).
    #[arg(value_name = "APP")]
    pub apps: Vec<AppName>,
    /// Answer yes to every question (bigger releases and new capabilities).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// The minimum release age for this command, instead of the policy's.
    #[arg(long, value_name = "DURATION")]
    pub min_age: Option<String>,
}

/// `locara sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The minimum release age for this command, instead of the policy's.
    #[arg(long, value_name = "DURATION")]
    pub min_age: Option<String>,
}

/// `locara verify`.
#[derive(Debug, Args)]
pub struct VerifyInstalledArgs {}

/// `locara lock`.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// The lockfile to write (default: ./locara.lock).
    #[arg(long, value_name = "PATH")]
    pub lockfile: Option<PathBuf>,
}

/// `locara run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The installed app.
    pub app: AppName,
    /// Arguments for the app.
    #[arg(last = true)]
    pub args: Vec<std::ffi::OsString>,
}

/// `--otp CODE`, for actions that change security state.
#[derive(Debug, Clone, Args)]
pub struct OtpArg {
    /// A fresh one-time code from your authenticator app (asked for on a terminal when not given).
    #[arg(long, value_name = "CODE")]
    pub otp: Option<OneTimeCode>,
}

/// Arguments of `locara signup`.
#[derive(Debug, Args)]
pub struct SignupArgs {
    /// The username (asked for on a terminal when not given).
    #[arg(long, value_name = "NAME")]
    pub username: Option<Username>,
    /// Read the password from standard input instead of asking for it.
    #[arg(long)]
    pub password_stdin: bool,
}

/// Arguments of `locara login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The username (asked for on a terminal when not given).
    #[arg(long, value_name = "NAME")]
    pub username: Option<Username>,
    /// Read the password from standard input instead of asking for it.
    #[arg(long)]
    pub password_stdin: bool,
    /// The one-time code your authenticator app shows now (for an account with two-factor authentication).
    #[arg(long, value_name = "CODE", conflicts_with = "recovery_code")]
    pub otp: Option<OneTimeCode>,
    /// A single-use recovery code, instead of a one-time code.
    #[arg(long, value_name = "CODE")]
    pub recovery_code: Option<RecoveryCode>,
}

/// `locara 2fa …`.
#[derive(Debug, Subcommand)]
pub enum TwoFactorCommand {
    /// Enable two-factor authentication: shows the secret for your authenticator app, then confirms it
    /// with a first code and shows the recovery codes (once).
    #[command(
        after_help = "On a terminal the first code is asked for. Without one (or with --json) the command stops after\nshowing the secret; run `locara 2fa enable --otp CODE` to confirm that enrolment.\nAccounts without two-factor authentication can only read."
    )]
    Enable {
        /// Confirm the enrolment started earlier with the code your authenticator app shows now.
        #[arg(long, value_name = "CODE")]
        otp: Option<OneTimeCode>,
    },
}

/// `locara token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token; its secret is shown once.
    #[command(
        after_help = "Example:\n  locara token create --name ci --scope publish --app acme/notes --expires-in-days 30"
    )]
    Create {
        /// A name to recognise the token by.
        #[arg(long)]
        name: String,
        /// What the token may do (repeat for several).
        #[arg(long = "scope", value_name = "SCOPE", value_enum, required = true)]
        scopes: Vec<TokenScope>,
        /// Limit the token to one app.
        #[arg(long, value_name = "PUBLISHER/APP")]
        app: Option<AppName>,
        /// Days until the token expires (at most the registry's limit).
        #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_TOKEN_DAYS, value_parser = clap::value_parser!(u32).range(1..))]
        expires_in_days: u32,
        /// The one-time code.
        #[command(flatten)]
        otp: OtpArg,
    },
    /// List the account's tokens (never their secrets).
    List,
    /// Revoke a token.
    Revoke {
        /// The token's id, as `locara token list` shows it.
        id: u64,
    },
}

/// `locara account …`.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Show recent failed sign-ins, failed or replayed one-time codes and locks, newest first, with the
    /// client address and token each came from.
    #[command(
        after_help = "An event you do not recognise means someone has your password or a token: revoke the token\n(`locara token revoke ID`), change your password, and check `locara token list`.\nThe registry keeps the newest 1000 events of the last 90 days."
    )]
    Events,
}

/// `locara publisher …`.
#[derive(Debug, Subcommand)]
pub enum PublisherCommand {
    /// Create an organisation, with you as its first owner.
    Create {
        /// The organisation's name: 2 to 64 lower-case letters, digits and '-', starting with a letter.
        name: PublisherName,
        /// The fresh one-time code.
        #[command(flatten)]
        otp: OtpArg,
    },
    /// Show a publisher: how it is verified, members, keys, apps, trusted issuers.
    Show {
        /// The publisher.
        name: PublisherName,
    },
    /// Verify a publisher by a DNS record or an OIDC identity; only verified publishers can register apps.
    #[command(
        after_help = "DNS, in two steps:\n  locara publisher verify acme --dns acme.example           # shows the TXT record to create\n  locara publisher verify acme --dns acme.example --check   # once the record is published\n\nOIDC identity:\n  locara publisher verify acme --oidc-issuer https://token.actions.githubusercontent.com --oidc-token-file id-token.jwt"
    )]
    Verify(VerifyArgs),
    /// Add or remove members of an organisation.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Trust an OIDC issuer to publish for the publisher (trusted publishing from CI).
    #[command(
        after_help = "Example:\n  locara publisher trust acme --issuer https://token.actions.githubusercontent.com \\\n    --claim repository=acme/notes --claim ref=refs/tags/v*"
    )]
    Trust(TrustArgs),
}

/// Arguments of `locara publisher verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The publisher.
    pub name: PublisherName,
    /// Verify by a TXT record at `_locara-challenge.<DOMAIN>`.
    #[arg(
        long,
        value_name = "DOMAIN",
        required_unless_present = "oidc_issuer",
        conflicts_with = "oidc_issuer"
    )]
    pub dns: Option<String>,
    /// Ask the registry to check the TXT record (after creating it).
    #[arg(long, requires = "dns")]
    pub check: bool,
    /// Verify by an OIDC identity token from this issuer.
    #[arg(long, value_name = "URL", requires = "oidc_token_file")]
    pub oidc_issuer: Option<String>,
    /// A file holding the OIDC identity token (a JWT whose audience is the registry's URL).
    #[arg(long, value_name = "FILE", requires = "oidc_issuer")]
    pub oidc_token_file: Option<PathBuf>,
    /// The one-time code (for --check and OIDC).
    #[command(flatten)]
    pub otp: OtpArg,
}

/// `locara publisher member …`.
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a member to an organisation, or change a member's role.
    Add {
        /// The organisation.
        name: PublisherName,
        /// The member's username.
        user: Username,
        /// The role.
        #[arg(long, value_enum, default_value_t = MemberRole::Maintainer)]
        role: MemberRole,
        /// The one-time code.
        #[command(flatten)]
        otp: OtpArg,
    },
    /// Remove a member from an organisation (never the last owner).
    Remove {
        /// The organisation.
        name: PublisherName,
        /// The member's username.
        user: Username,
        /// The one-time code.
        #[command(flatten)]
        otp: OtpArg,
    },
}

/// Arguments of `locara publisher trust`.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// The publisher.
    pub name: PublisherName,
    /// The issuer URL, exactly as its tokens name it.
    #[arg(long, value_name = "URL")]
    pub issuer: String,
    /// A claim tokens must match, `CLAIM=PATTERN` (`*` matches any run of characters); repeat for several.
    #[arg(long = "claim", value_name = "CLAIM=PATTERN", required = true)]
    pub claims: Vec<ClaimRule>,
    /// The audience tokens must name [default: the registry's URL].
    #[arg(long, value_name = "AUDIENCE")]
    pub audience: Option<String>,
    /// Limit the trust to one of the publisher's apps.
    #[arg(long, value_name = "PUBLISHER/APP")]
    pub app: Option<AppName>,
    /// The one-time code.
    #[command(flatten)]
    pub otp: OtpArg,
}

/// `locara app …`.
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Register an app name for a verified publisher, with the repository the builder will build from.
    #[command(
        after_help = "Example:\n  locara app register acme/notes --repository https://git.example/acme/notes"
    )]
    Register {
        /// `publisher/app`.
        name: AppName,
        /// The source repository: an https:// URL (file:// only for a registry on the same machine).
        #[arg(long, value_name = "URL")]
        repository: String,
        /// The fresh one-time code.
        #[command(flatten)]
        otp: OtpArg,
    },
}

/// Arguments of `locara publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The app's git work tree, whose top holds locara.toml.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub path: PathBuf,
    /// The commit to release: a full or abbreviated id, a tag or a branch [default: HEAD of a clean work
    /// tree].
    #[arg(long, value_name = "SHA")]
    pub commit: Option<String>,
    /// The repository the registry builds from [default: the manifest's `source`]; it must be the
    /// repository the app is registered with.
    #[arg(long, value_name = "URL")]
    pub repository: Option<String>,
    /// The local release key to sign with, as `locara keys generate --name` made it.
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub key: KeyName,
    /// A fresh one-time code from your authenticator app (asked for on a terminal when not given).
    #[arg(long, value_name = "CODE", conflicts_with = "oidc_token_file")]
    pub otp: Option<OneTimeCode>,
    /// Trusted publishing: a file holding the CI job's OIDC identity token, exchanged for a token that can
    /// publish this app only (no login or one-time code needed).
    #[arg(long, value_name = "FILE")]
    pub oidc_token_file: Option<PathBuf>,
    /// Wait for the build to finish, showing its state changes, then show its log.
    #[arg(long)]
    pub wait: bool,
}

/// `locara build …`.
#[derive(Debug, Subcommand)]
pub enum BuildCommand {
    /// Show a build's state.
    Status {
        /// The build id, as `locara publish` prints it.
        id: u64,
    },
    /// Show a finished build's log.
    Logs {
        /// The build id, as `locara publish` prints it.
        id: u64,
    },
}

/// Arguments of `locara info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// `publisher/app`.
    pub name: AppName,
}

/// `locara registry …`.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Add a registry, pinning its root of trust by digest and following its rotations.
    #[command(
        after_help = "The digest is the SHA-256 of the registry's root.json: a registry prints it when it starts\n(`root.json: sha256:…`) and its operator publishes it. The client fetches URL/root.json, checks the\ndigest, then follows every root rotation the registry has published since.\n\nExample:\n  locara registry add main https://registry.example.com --root sha256:0123…"
    )]
    Add(AddArgs),
    /// List the configured registries (`*` marks the default).
    List,
    /// Remove a registry, its stored root of trust and its stored API token.
    Remove {
        /// The registry's local name.
        name: RegistryName,
    },
    /// Make a registry the default (used when --registry is not given).
    Default {
        /// The registry's local name.
        name: RegistryName,
    },
    /// Follow the registry's root rotations now and show the root trusted afterwards.
    Refresh {
        /// The registry's local name [default: --registry, else the default registry].
        name: Option<RegistryName>,
    },
}

/// Arguments of `locara registry add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// A local name for the registry: 1 to 32 lower-case letters, digits and '-'.
    pub name: RegistryName,
    /// The registry's base URL: https://…, or http://… only for 127.0.0.1, ::1 or localhost.
    pub url: RegistryUrl,
    /// The SHA-256 of the registry's root.json, `sha256:<64 hex digits>`.
    #[arg(long, value_name = "DIGEST")]
    pub root: Digest,
}

/// `locara keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate an ed25519 release key into the keys directory (never overwrites one).
    Generate {
        /// The key's local name: 1 to 32 lower-case letters, digits and '-'.
        #[arg(long, default_value = "default", value_name = "NAME")]
        name: KeyName,
    },
    /// List release keys: the key files on this machine (--local) or a publisher's registered keys.
    #[command(group = clap::ArgGroup::new("which").required(true).args(["local", "publisher"]))]
    List {
        /// List the key files on this machine.
        #[arg(long)]
        local: bool,
        /// List the keys registered for this publisher.
        #[arg(long, value_name = "NAME")]
        publisher: Option<PublisherName>,
    },
    /// Register a local key's public half with a publisher, so releases signed by it are accepted.
    Register {
        /// The local key, as `locara keys generate --name` made it.
        #[arg(long, default_value = "default", value_name = "NAME")]
        name: KeyName,
        /// The publisher.
        #[arg(long, value_name = "NAME")]
        publisher: PublisherName,
        /// The one-time code.
        #[command(flatten)]
        otp: OtpArg,
    },
    /// Revoke a publisher's key: releases signed by it are refused from now on (the record stays).
    Revoke {
        /// The key id (64 hex digits), as `locara keys list` shows it.
        key_id: KeyId,
        /// The publisher.
        #[arg(long, value_name = "NAME")]
        publisher: PublisherName,
        /// The one-time code.
        #[command(flatten)]
        otp: OtpArg,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_before_or_after_the_command() {
        let cli = Cli::try_parse_from(["locara", "registry", "list", "--json"]).unwrap();
        assert!(cli.global.json);
        let cli = Cli::try_parse_from(["locara", "--registry", "work", "keys", "list", "--local"])
            .unwrap();
        assert_eq!(cli.global.registry.unwrap().as_str(), "work");
    }

    #[test]
    fn malformed_names_urls_and_digests_are_usage_errors() {
        for args in [
            &[
                "locara",
                "registry",
                "add",
                "Main",
                "https://r.example",
                "--root",
                DIGEST,
            ][..],
            &[
                "locara",
                "registry",
                "add",
                "main",
                "http://r.example",
                "--root",
                DIGEST,
            ],
            &[
                "locara",
                "registry",
                "add",
                "main",
                "https://r.example",
                "--root",
                "sha256:xyz",
            ],
            &["locara", "registry", "add", "main", "https://r.example"],
            &["locara", "keys", "generate", "--name", "../x"],
        ] {
            let error = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }

    const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
}
