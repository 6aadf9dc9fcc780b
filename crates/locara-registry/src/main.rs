//! `locara-registry`: the Locara registry server binary.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use locara_core::time::Timestamp;
use locara_registry::config::{Config, Overrides};
use locara_registry::http::{AppState, router};
use locara_registry::trust::Trust;

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
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LOCARA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            data,
            listen,
            config,
        } => serve(config, Overrides { listen, data }),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("locara-registry: error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn serve(config_file: Option<PathBuf>, flags: Overrides) -> anyhow::Result<()> {
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
        let app = router(Arc::new(AppState { trust }));
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("the server stopped")
    })
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
