//! `locara publish`: sign a release statement for a commit of the app's git work tree and ask the registry
//! to build and release it.
//!
//! Order of work, so that nothing is sent for a request that cannot succeed: where the second factor comes
//! from is settled first (a missing `--otp` without a terminal is a usage error before anything is read);
//! then the work tree, the commit and the manifest at that commit; then the key; only then the registry.
//! The statement is signed right before it is sent (after any prompt), so its `created_at` is fresh.

use std::io::{self, Write};
use std::path::PathBuf;

use locara_core::statement::release::ReleaseStatement;
use locara_core::time::Timestamp;
use serde::Serialize;

use crate::api::ApiError;
use crate::cli::PublishArgs;
use crate::commands::Context;
use crate::commands::build::{BuildLog, wait_for_build, write_build_details};
use crate::commands::keys::load_local_key;
use crate::commands::publisher::read_identity_token;
use crate::output::{Render, printable, printable_lines};
use crate::prompt::CodeSource;
use crate::release::{self, BuildRecord, BuildState, ReleaseAuthorisation};
use crate::secret::Secret;
use crate::source;

/// Where the release request's second factor comes from.
enum SecondFactor {
    /// A one-time code, with the stored login.
    Code(CodeSource),
    /// A CI job's OIDC identity token, exchanged for a trusted-publishing token.
    TrustedPublishing(Secret),
}

/// Runs `locara publish`.
pub async fn run(context: &Context, args: PublishArgs) -> anyhow::Result<()> {
    let second_factor = match &args.oidc_token_file {
        Some(path) => SecondFactor::TrustedPublishing(read_identity_token(path)?),
        None => SecondFactor::Code(CodeSource::choose(args.otp.clone(), &context.output)?),
    };
    let source = source::release_source(&args.path, args.commit.as_deref())?;
    let app = source.manifest.app().name().clone();
    let version = source.manifest.app().version().clone();
    let repository_given = args.repository.is_some();
    let repository = args
        .repository
        .clone()
        .unwrap_or_else(|| source.manifest.app().source().as_str().to_owned());
    let key = load_local_key(context, &args.key)?;

    let (client, code) = match second_factor {
        SecondFactor::Code(code) => {
            let connected = context.connect(None).await?;
            connected.require_login()?;
            let code = code.code(&format!("to publish {app} {version}"))?;
            (connected.client, Some(code))
        }
        SecondFactor::TrustedPublishing(identity_token) => {
            let connected = context.connect_anonymously(None).await?;
            let issued =
                release::exchange_trusted_token(&connected.client, &app, &identity_token).await?;
            (connected.client.with_token(issued.token), None)
        }
    };
    let statement = ReleaseStatement {
        app: app.clone(),
        version: version.clone(),
        repository: repository.clone(),
        commit: source.commit.clone(),
        manifest: source.manifest_digest,
        created_at: Timestamp::now(),
    };
    let envelope = statement.sign(&key);
    let authorisation = match &code {
        Some(code) => ReleaseAuthorisation::Code(code),
        None => ReleaseAuthorisation::TrustedPublishing,
    };
    let build = release::request_release(&client, &app, &version, &envelope, authorisation)
        .await
        .map_err(|error| explain_refusal(error, repository_given, &repository))?;
    if build.app != app
        || build.version != version
        || build.commit != source.commit
        || build.repository != repository
    {
        anyhow::bail!(
            "the registry answered with build {} of {} {} at {} from {}, not of {app} {version} at {} from {}; check `locara build status {}`",
            build.id,
            build.app,
            build.version,
            build.commit,
            printable(&build.repository),
            source.commit,
            printable(&repository),
            build.id
        );
    }
    let requested = Requested {
        build,
        key: format!("{} ({})", args.key, key.key_id()),
        path: source.root.clone(),
        waiting: args.wait,
    };
    if !args.wait {
        context.output.print(&requested)?;
        return Ok(());
    }
    if !context.output.is_json() {
        requested.human(&mut io::stdout().lock())?;
    }
    let (finished, shown) = wait_for_build(context, &client, requested.build.clone()).await?;
    let log = if finished.has_log {
        let bytes = release::build_log(&client, finished.id).await?;
        // What was shown live is not printed again, except in the one JSON document.
        let rest = if context.output.is_json() {
            &bytes[..]
        } else {
            &bytes[shown.min(bytes.len())..]
        };
        Some(printable_lines(rest))
    } else {
        None
    };
    let outcome = Finished {
        build: finished,
        log,
    };
    context.output.print(&outcome)?;
    match &outcome.build.state {
        BuildState::Succeeded => Ok(()),
        BuildState::Failed => anyhow::bail!(
            "build {} of {} {} failed{}",
            outcome.build.id,
            outcome.build.app,
            outcome.build.version,
            outcome
                .build
                .error
                .as_deref()
                .map(|error| format!(": {}", printable(error)))
                .unwrap_or_default()
        ),
        other => anyhow::bail!(
            "build {} ended in state {other}, which this client does not know; `locara build status {}` shows it",
            outcome.build.id,
            outcome.build.id
        ),
    }
}

/// Adds what to do to a refusal the user can fix from here.
fn explain_refusal(error: ApiError, repository_given: bool, repository: &str) -> anyhow::Error {
    if error.problem_slug() == Some("statement-refused") && !repository_given {
        let hint = format!(
            "the statement named the repository from locara.toml's `source` ({}); if the app is registered with another one (for example file:///abs/path for a registry on this machine), pass that with --repository",
            printable(repository)
        );
        return anyhow::Error::new(Hinted {
            message: format!("{error}; {hint}"),
            source: error,
        });
    }
    error.into()
}

/// A registry error with advice appended.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct Hinted {
    message: String,
    #[source]
    source: ApiError,
}

/// The result of `publish` (without `--wait`): the queued build.
#[derive(Debug, Serialize)]
pub struct Requested {
    /// The build the registry queued.
    #[serde(flatten)]
    pub build: BuildRecord,
    /// The local key that signed the statement.
    #[serde(skip)]
    pub key: String,
    /// The work tree released from.
    #[serde(skip)]
    pub path: PathBuf,
    /// Whether the command goes on to wait for the build.
    #[serde(skip)]
    pub waiting: bool,
}

impl Render for Requested {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        let build = &self.build;
        writeln!(out, "Requested release {} {}", build.app, build.version)?;
        writeln!(out, "  build:      {} ({})", build.id, build.state)?;
        writeln!(out, "  signed by:  key {}", self.key)?;
        writeln!(out, "  work tree:  {}", self.path.display())?;
        write_build_details(out, build)?;
        if !self.waiting {
            writeln!(
                out,
                "Follow it with `locara build status {}` (or pass --wait next time).",
                build.id
            )?;
        }
        Ok(())
    }
}

/// The result of `publish --wait`: the finished build and its log.
#[derive(Debug, Serialize)]
pub struct Finished {
    /// The build, finished.
    #[serde(flatten)]
    pub build: BuildRecord,
    /// Its log, if one was kept.
    pub log: Option<String>,
}

impl Render for Finished {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        let build = &self.build;
        if let Some(log) = &self.log {
            writeln!(out, "--- log of build {} ---", build.id)?;
            BuildLog {
                id: build.id,
                state: build.state.clone(),
                log: log.clone(),
            }
            .human(out)?;
            writeln!(out, "--- end of log ---")?;
        } else {
            writeln!(out, "Build {} kept no log.", build.id)?;
        }
        match build.state {
            BuildState::Succeeded => writeln!(
                out,
                "Built {} {}; `locara info {}` shows the release.",
                build.app, build.version, build.app
            ),
            _ => writeln!(out, "Build {} {}.", build.id, build.state),
        }
    }
}
