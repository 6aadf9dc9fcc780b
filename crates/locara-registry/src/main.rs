//! `locara-registry`: the Locara registry server binary.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use locara_core::keys::{PublicKey, SigningKey};
use locara_core::time::Timestamp;
use locara_registry::config::{Config, Overrides};
use locara_registry::dns::TxtVerifier;
use locara_registry::http::{AppState, router};
use locara_registry::offline;
use locara_registry::oidc::{OidcSettings, OidcVerifier};
use locara_registry::trust::Trust;
use locara_store::{FsBlobStore, SqliteStore};

/// The Locara registry.
#[derive(Debug, Parser)]
#[command(name = "locara-registry", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the registry (no set-up needed: SQLite and files under ./locara-data).
    Serve {
        /// Data directory [default: ./locara-data; env LOCARA_REGISTRY_DATA].
        #[arg(long)]
        data: Option<PathBuf>,
        /// Address to listen on [default: 127.0.0.1:7070; env LOCARA_REGISTRY_LISTEN].
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// TOML configuration file [env LOCARA_REGISTRY_CONFIG].
        #[arg(long)]
        config: Option<PathBuf>,
        /// Seed a `demo` publisher and publish the example apps through the real builder; every start
        /// commits examples that changed and releases a new version if their manifest has one.
        #[arg(long)]
        demo: bool,
        /// Where the demo's example apps are (each a directory with a locara.toml).
        #[arg(long, default_value = "examples", requires = "demo")]
        demo_apps: PathBuf,
    },
    /// Run build workers only (no HTTP): they take jobs from the same database as `serve`.
    Worker {
        /// Data directory shared with `serve` [default: ./locara-data; env LOCARA_REGISTRY_DATA].
        #[arg(long)]
        data: Option<PathBuf>,
        /// TOML configuration file [env LOCARA_REGISTRY_CONFIG].
        #[arg(long)]
        config: Option<PathBuf>,
        /// How many builds to run at once.
        #[arg(long, default_value_t = 1)]
        workers: u32,
    },
    /// Revoke a release (security team, on the registry host; works while `serve` runs on the same data).
    ///
    /// Records it in the log, adds it to a new version of the signed revocation list, and re-signs the
    /// checkpoint, timestamp.json and the app's index before it exits: clients that sync quarantine it.
    Revoke {
        /// Data directory shared with `serve`; its keys/security.key signs the list [default:
        /// ./locara-data; env LOCARA_REGISTRY_DATA].
        #[arg(long)]
        data: Option<PathBuf>,
        /// TOML configuration file [env LOCARA_REGISTRY_CONFIG].
        #[arg(long)]
        config: Option<PathBuf>,
        /// The release, as PUBLISHER/APP@VERSION.
        release: locara_registry::revoke::ReleaseName,
        /// Why, in one line users will read (at most 500 characters).
        #[arg(long)]
        reason: String,
        /// The advisory describing it, e.g. LOCARA-2026-0001.
        #[arg(long)]
        advisory: Option<String>,
        /// Who revokes it, as the log records it.
        #[arg(long, default_value = locara_registry::revoke::DEFAULT_REVOKER)]
        by: String,
    },
    /// Make a production root of trust offline (see docs/registry.md, "A production root").
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Generate one ed25519 key into a new file (mode 0600); prints its public key.
    Generate {
        /// The key file to create (refuses to overwrite).
        #[arg(long)]
        out: PathBuf,
    },
    /// Create the server's online role keys in DATA/keys and write their public half to a JSON file.
    Online {
        /// The server's data directory.
        #[arg(long)]
        data: PathBuf,
        /// The transparency log's origin line, e.g. registry.example.com/log.
        #[arg(long)]
        log_origin: String,
        /// Where to write the public keys, for the offline signers.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a root.json naming the root keys (k of n) and the online keys, signed by the given keys.
    Root {
        /// The root's version: 1 for a new registry, previous + 1 for a rotation.
        #[arg(long, default_value_t = 1)]
        version: u64,
        /// A root key's public key (`ed25519:<base64>`); repeat for each of the n keys.
        #[arg(long = "root-public", required = true)]
        root_public: Vec<PublicKey>,
        /// How many root keys must sign (k).
        #[arg(long)]
        threshold: u32,
        /// The online keys file `keys online` wrote.
        #[arg(long)]
        online: PathBuf,
        /// Days until the root expires.
        #[arg(long, default_value_t = 365)]
        expires_days: u32,
        /// A root key file to sign with now; repeat, or add signatures later with `keys sign`.
        #[arg(long = "sign")]
        sign: Vec<PathBuf>,
        /// The root file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Add one key's signature to a root file, in place.
    Sign {
        /// The root file.
        #[arg(long)]
        root: PathBuf,
        /// The root key file to sign with.
        #[arg(long)]
        key: PathBuf,
        /// For a rotation: the root it replaces (whose keys must sign too).
        #[arg(long)]
        previous: Option<PathBuf>,
    },
    /// Check that a root file is complete and unexpired (and, with --previous, a valid rotation).
    Verify {
        /// The root file.
        #[arg(long)]
        root: PathBuf,
        /// For a rotation: the root it replaces.
        #[arg(long)]
        previous: Option<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    // The build sandbox's launcher: this binary, re-executed by a worker, confines itself and execs the
    // build command. It runs before anything else (no logging, no runtime, one thread).
    let mut arguments = std::env::args_os();
    if arguments.nth(1).as_deref()
        == Some(std::ffi::OsStr::new(locara_registry::SANDBOX_SUBCOMMAND))
    {
        locara_builder::sandbox::exec_main(arguments.collect());
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOCARA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // One JSON object per line for log collectors; readable text otherwise.
    if std::env::var("LOCARA_LOG_FORMAT").is_ok_and(|format| format == "json") {
        logs.json().with_current_span(true).init();
    } else {
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            data,
            listen,
            config,
            demo,
            demo_apps,
        } => serve(
            config,
            Overrides { listen, data },
            demo.then_some(demo_apps),
        ),
        Command::Worker {
            data,
            config,
            workers,
        } => work(config, Overrides { listen: None, data }, workers),
        Command::Revoke {
            data,
            config,
            release,
            reason,
            advisory,
            by,
        } => revoke(
            config,
            Overrides { listen: None, data },
            locara_registry::revoke::RevokeRequest {
                release,
                reason,
                advisory,
                by,
            },
        ),
        Command::Keys(command) => keys(command),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("locara-registry: error: {}", report(&error));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes, leaving out a cause whose text the message before it already holds (our
/// error types print their source inline).
fn report(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if !text.contains(&message) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&message);
        }
    }
    text
}

fn serve(
    config_file: Option<PathBuf>,
    flags: Overrides,
    demo: Option<PathBuf>,
) -> anyhow::Result<()> {
    let config = Config::load(config_file.as_deref(), std::env::vars(), &flags)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let bound = listener.local_addr().context("cannot read the bound address")?;
        let public_url = config.public_url_for(bound);
        let trust = Trust::open_or_create(
            &config.data,
            &config.log_origin_for(&public_url),
            config.root_expiry_days,
            Timestamp::now(),
        )
        .with_context(|| format!("cannot set up the root of trust in {}", config.data.display()))?;
        let metadata = SqliteStore::open(config.data.join("registry.sqlite3"))
            .await
            .with_context(|| format!("cannot open the database in {}", config.data.display()))?;
        let blobs = FsBlobStore::open(config.data.join("blobs"))
            .await
            .with_context(|| format!("cannot open the blob store in {}", config.data.display()))?;
        let freshness = Duration::from_secs(u64::from(config.freshness_hours) * 3600);
        locara_registry::signing::with_signing_lease(&metadata, async {
            locara_registry::log::checkpoint_current_size(
                &metadata,
                &trust.root().log().origin,
                trust.log_signer(),
            )
            .await
            .context("cannot sign the log's checkpoint")?;
            locara_registry::freshness::sign_timestamp(
                &trust,
                &metadata,
                &blobs,
                freshness,
                Timestamp::now(),
            )
            .await
            .context("cannot sign timestamp.json")
        })
        .await
        .context("cannot sign the log's checkpoint and timestamp.json")??;
        let mut banner = String::new();
        if trust.created() {
            banner.push_str(&format!(
                "created a development key set and root.json in {} (one key per role, root key included: for development only)\n",
                config.data.display()
            ));
        }
        banner.push_str(&format!("Locara registry listening on {public_url}\n"));
        banner.push_str(&format!("root.json: {}\n", trust.first_root_digest()));
        banner.push_str(&format!(
            "pin it:    locara registry add NAME {public_url} --root {}\n",
            trust.first_root_digest()
        ));
        // The banner is for whoever started the server; a closed stdout must not stop it.
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(banner.as_bytes()).and_then(|()| stdout.flush());
        drop(stdout);
        tracing::info!(%bound, data = %config.data.display(), root_version = trust.root().version(), "serving");
        let dns = match dns_server(&config) {
            Some(server) => Some(
                TxtVerifier::new(server)
                    .with_context(|| format!("cannot set up the DNS resolver for {server}"))?,
            ),
            None => {
                tracing::warn!("no DNS server configured or found in /etc/resolv.conf; DNS verification is off until dns_resolver is set");
                None
            }
        };
        let oidc = OidcVerifier::new(OidcSettings {
            allow_http_loopback: config.oidc_allow_http_loopback,
            ..OidcSettings::default()
        })
        .context("cannot set up the OIDC verifier")?;
        let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .context("cannot install the metrics recorder")?;
        let state = Arc::new(AppState {
            trust,
            metadata: Arc::new(metadata),
            blobs: Arc::new(blobs),
            public_url: public_url.clone(),
            names: tokio::sync::Mutex::new(()),
            signing: tokio::sync::Mutex::new(()),
            dns,
            oidc,
            metrics: Some(metrics),
            builds_waiting: tokio::sync::Notify::new(),
            outbox_waiting: tokio::sync::Notify::new(),
            config: config.clone(),
        });
        locara_registry::index::ensure_all(&state)
            .await
            .context("cannot sign the app indexes")?;
        tokio::spawn(resign_periodically(
            state.clone(),
            Duration::from_secs(config.timestamp_interval_seconds),
        ));
        if let Some(examples) = &demo {
            let queued = locara_registry::demo::seed(&state, &config.data, examples)
                .await
                .context("cannot seed the demo")?;
            let mut stdout = std::io::stdout().lock();
            let mut text = format!(
                "demo: publisher `demo` seeded; {} release(s) queued for the builder{}\n",
                queued.len(),
                if queued.is_empty() { String::new() } else { format!(": {}", queued.join(", ")) }
            );
            text.push_str("demo: then try `locara info demo/hello-c`\n");
            let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
        }
        let workers = if demo.is_some() { config.build_workers.max(1) } else { config.build_workers };
        start_workers(&state, &config, workers)?;
        tokio::spawn(locara_registry::outbox::run(state.clone()));
        let app = router(state);
        // No Nagle: a response goes out as a header write and a body write, and with Nagle the body of
        // every request after the first on a connection waited for the client's delayed ACK (~40 ms per
        // blob; bench/install.sh).
        let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::warn!(%error, "could not set TCP_NODELAY on a connection");
            }
        });
        // Peer addresses reach the handlers: failures are counted and shown per client address.
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
            .await
            .context("the server stopped")
    })
}

fn keys(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Generate { out } => {
            let key = offline::generate(&out)?;
            println!("wrote {} (mode 0600)", out.display());
            println!("key id:     {}", key.key_id());
            println!("public key: {}", key.public_key());
        }
        KeysCommand::Online {
            data,
            log_origin,
            out,
        } => {
            let online = offline::online(&data, &log_origin, &out)?;
            println!(
                "online keys in {}; public keys written to {}",
                data.join("keys").display(),
                out.display()
            );
            for (role, key) in &online.keys {
                println!("{:<10} {key}", role.as_str());
            }
        }
        KeysCommand::Root {
            version,
            root_public,
            threshold,
            online,
            expires_days,
            sign,
            out,
        } => {
            let expires = Timestamp::now()
                .checked_add_seconds(u64::from(expires_days) * 86_400)
                .context("--expires-days lies past the year 9999")?;
            let plan = offline::RootPlan {
                version,
                expires,
                root_keys: root_public,
                threshold,
                online: offline::read_online(&online)?,
            };
            let signers = sign
                .iter()
                .map(|path| SigningKey::load(path))
                .collect::<Result<Vec<_>, _>>()?;
            offline::write_root(&plan, &signers, &out)?;
            println!(
                "wrote {} (version {version}, {threshold} of {} root keys must sign; signed by {})",
                out.display(),
                plan.root_keys.len(),
                signers.len()
            );
        }
        KeysCommand::Sign {
            root,
            key,
            previous,
        } => {
            let key = SigningKey::load(&key)?;
            offline::sign(&root, &key, previous.as_deref())?;
            println!(
                "added a signature by {} to {}",
                key.key_id(),
                root.display()
            );
        }
        KeysCommand::Verify { root, previous } => {
            let verified = offline::verify(&root, previous.as_deref(), Timestamp::now())?;
            println!(
                "{} is complete: version {}, expires {}, digest {}",
                root.display(),
                verified.version(),
                verified.expires(),
                verified.digest()
            );
        }
    }
    Ok(())
}

/// Re-signs the checkpoint (if the log grew) and `timestamp.json` every `interval`, so clients' views stay
/// fresh while the server runs; a failed round is logged and retried at the next tick.
async fn resign_periodically(state: Arc<AppState>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate; start-up has just signed
    loop {
        ticker.tick().await;
        {
            let _signing = state.signing.lock().await;
            match state.resign().await {
                Ok(()) => tracing::info!("re-signed the checkpoint and timestamp.json"),
                Err(error) => {
                    tracing::error!(error = %format!("{error:#}"), "re-signing timestamp.json failed; retrying next interval")
                }
            }
        }
        match locara_registry::index::ensure_all(&state).await {
            Ok(0) => {}
            Ok(signed) => tracing::info!(signed, "re-signed app indexes"),
            Err(error) => {
                tracing::error!(%error, "re-signing app indexes failed; retrying next interval")
            }
        }
    }
}

/// Starts `count` build workers on `state`.
fn start_workers(state: &Arc<AppState>, config: &Config, count: u32) -> anyhow::Result<()> {
    if count == 0 {
        return Ok(());
    }
    let toolchain = locara_registry::worker::Toolchain::detect();
    for _ in 0..count {
        let worker = locara_registry::worker::Worker::new(&config.data, toolchain.clone())
            .context("cannot set up a build worker")?;
        tokio::spawn(locara_registry::worker::run(state.clone(), worker));
    }
    Ok(())
}

/// The state of a process that shares an existing data directory with `serve` (a worker, an operator
/// command): its root of trust and keys, database and blob store, without HTTP.
async fn shared_state(config: &Config) -> anyhow::Result<Arc<AppState>> {
    let trust = Trust::load(&config.data, Timestamp::now()).with_context(|| {
        format!(
            "cannot load the root of trust in {}; start `locara-registry serve` on it first",
            config.data.display()
        )
    })?;
    let metadata = SqliteStore::open(config.data.join("registry.sqlite3"))
        .await
        .with_context(|| format!("cannot open the database in {}", config.data.display()))?;
    let blobs = FsBlobStore::open(config.data.join("blobs"))
        .await
        .with_context(|| format!("cannot open the blob store in {}", config.data.display()))?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| config.public_url_for(config.listen));
    Ok(Arc::new(AppState {
        trust,
        metadata: Arc::new(metadata),
        blobs: Arc::new(blobs),
        public_url,
        names: tokio::sync::Mutex::new(()),
        signing: tokio::sync::Mutex::new(()),
        dns: None,
        oidc: OidcVerifier::new(OidcSettings::default())
            .context("cannot set up the OIDC verifier")?,
        metrics: None,
        builds_waiting: tokio::sync::Notify::new(),
        outbox_waiting: tokio::sync::Notify::new(),
        config: config.clone(),
    }))
}

/// `locara-registry revoke`: revokes a release and publishes the revocation before it returns.
fn revoke(
    config_file: Option<PathBuf>,
    flags: Overrides,
    request: locara_registry::revoke::RevokeRequest,
) -> anyhow::Result<()> {
    let config = Config::load(config_file.as_deref(), std::env::vars(), &flags)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let state = shared_state(&config).await?;
        let revoked =
            locara_registry::revoke::revoke(&state, &request, Timestamp::now()).await?;
        let revocation = &revoked.revocation;
        println!(
            "revoked {} {} (artifact {})",
            revocation.app, revocation.version, revocation.artifact
        );
        println!(
            "log entry {}, covered by the signed checkpoint of size {}",
            revocation.log_index, revoked.checkpoint_size
        );
        println!(
            "revocation list version {}, named by timestamp.json version {}; clients quarantine it at their next `locara sync`",
            revoked.revocations_version, revoked.timestamp_version
        );
        Ok(())
    })
}

/// `locara-registry worker`: build workers on the shared database and blob store, without HTTP.
fn work(config_file: Option<PathBuf>, flags: Overrides, workers: u32) -> anyhow::Result<()> {
    let config = Config::load(config_file.as_deref(), std::env::vars(), &flags)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let state = shared_state(&config).await?;
        start_workers(&state, &config, workers.max(1))?;
        tokio::spawn(locara_registry::outbox::run(state.clone()));
        tracing::info!(workers, data = %config.data.display(), "build workers running");
        shutdown_signal().await;
        Ok(())
    })
}

/// The DNS server publisher domains are checked through: the configured one, else the first
/// `nameserver` of `/etc/resolv.conf`.
fn dns_server(config: &Config) -> Option<SocketAddr> {
    if let Some(server) = config.dns_resolver {
        return Some(server);
    }
    let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .find_map(|rest| rest.trim().parse::<std::net::IpAddr>().ok())
        .map(|address| SocketAddr::new(address, 53))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler can be installed");
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
}
