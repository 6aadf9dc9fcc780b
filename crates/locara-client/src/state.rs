//! The client's state database (`<data>/state.sqlite3`): per registry the last accepted trust view, the
//! installed apps with their grants, and the history of what happened to each.
//!
//! Invariants:
//! - [`State::commit`] is the only write path. A [`Change`] is applied in one `BEGIN IMMEDIATE`
//!   transaction: all of it lands or none of it does, and it is checked against what is stored under the
//!   write lock, so a racing process cannot interleave.
//! - A registry's stored checkpoint size and revocation-list version never go down, and a checkpoint of
//!   the stored size must have the stored root. The caller checks consistency before it commits; this is
//!   defence in depth against an older process writing a stale view last.
//! - Every row is parsed into typed values on read; a value that does not parse is an error naming the
//!   row and the column, never a default.
//! - The database runs in WAL mode with `synchronous=FULL` (a commit survives power loss) and foreign keys
//!   on; writers wait for each other up to [`BUSY_TIMEOUT`], so several `locara` processes may run at once.
//!   Migrations run under an exclusive lock on `<database>.lock`, so two processes opening a new database
//!   at the same moment do not both create it.

use std::fmt;
use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use locara_core::digest::Digest;
use locara_core::keys::KeyId;
use locara_core::log::Hash;
use locara_core::names::{AppName, AppSlug};
use locara_core::statement::GitCommit;
use locara_core::time::Timestamp;
use locara_core::version::Version;
use sqlx::Row as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};

use crate::store::TreeDigest;

/// How long a writer waits for another writer's lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The most connections one [`State`] opens to its file.
const MAX_CONNECTIONS: u32 = 4;

/// The schema migrations, embedded from `migrations/`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Why the state database could not be opened, read or changed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file next to the database (its directory or lock file) could not be created or locked.
    #[error(
        "cannot {action} {path}: {source}; check that the data directory is writable by this user"
    )]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The database could not be opened.
    #[error(
        "cannot open the state database {path}: {source}; check that the data directory is writable by this user"
    )]
    Open {
        /// The database file.
        path: PathBuf,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The schema migrations could not be applied.
    #[error(
        "cannot update the schema of the state database {path}: {source}; if a newer locara wrote it, use that version"
    )]
    Migrate {
        /// The database file.
        path: PathBuf,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("state database error while {operation}: {source}")]
    Database {
        /// What was being done, e.g. `reading the installs`.
        operation: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A background task (taking the migration lock) did not finish.
    #[error("the task taking the state database lock did not finish: {source}")]
    Task {
        /// The runtime's error.
        #[source]
        source: tokio::task::JoinError,
    },
    /// A stored value does not parse.
    #[error(
        "the state database's {table} row {key} has an invalid {column}: {detail}; it was changed outside locara: reinstall the app or restore the database from a backup"
    )]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row's key (app, registry or history id).
        key: String,
        /// The column.
        column: &'static str,
        /// What is wrong with the value.
        detail: String,
    },
    /// A number is too large for the database.
    #[error(
        "{what} {value} is larger than the state database can hold (2^63 - 1); nothing was written"
    )]
    TooLarge {
        /// What the number is.
        what: &'static str,
        /// Its value.
        value: u64,
    },
    /// A registry state with a smaller checkpoint than the stored one.
    #[error(
        "refusing to save checkpoint size {new} for registry {registry:?}: the state already holds size {stored}, and a log never shrinks; another locara process saved a newer view, so run the command again (nothing was written)"
    )]
    CheckpointRollback {
        /// The registry.
        registry: String,
        /// The stored size.
        stored: u64,
        /// The size in the change.
        new: u64,
    },
    /// A registry state with the stored checkpoint size but another root.
    #[error(
        "refusing to save checkpoint root {new} at size {size} for registry {registry:?}: the state holds root {stored} at that size, so the registry's log has forked; do not install from it and report this to its operator (nothing was written)"
    )]
    CheckpointFork {
        /// The registry.
        registry: String,
        /// The size both checkpoints have.
        size: u64,
        /// The stored root.
        stored: Hash,
        /// The root in the change.
        new: Hash,
    },
    /// A registry state with a lower revocation-list version than the stored one.
    #[error(
        "refusing to save revocation-list version {new} for registry {registry:?}: the state already holds version {stored}, and versions never go down; run the command again (nothing was written)"
    )]
    RevocationsRollback {
        /// The registry.
        registry: String,
        /// The stored version.
        stored: u64,
        /// The version in the change.
        new: u64,
    },
    /// A removal of an app that is not installed.
    #[error(
        "cannot remove {app}: it is not installed (another locara process may have removed it); nothing was written"
    )]
    NotInstalled {
        /// The app.
        app: AppName,
    },
    /// An install from a registry with no saved state.
    #[error(
        "cannot record {app} from registry {registry:?}: the state holds no trust view of that registry; save the registry state in the same change (nothing was written)"
    )]
    UnknownRegistry {
        /// The app.
        app: AppName,
        /// The registry it names.
        registry: String,
    },
    /// A launcher name that another app already has.
    #[error(
        "cannot give {app} the launcher {launcher}: {owner} has it; choose another launcher name (nothing was written)"
    )]
    LauncherTaken {
        /// The app.
        app: AppName,
        /// The launcher name.
        launcher: AppSlug,
        /// The app that has it.
        owner: AppName,
    },
}

fn database(operation: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StateError {
    let operation = operation.into();
    move |source| StateError::Database { operation, source }
}

fn to_db(what: &'static str, value: u64) -> Result<i64, StateError> {
    i64::try_from(value).map_err(|_| StateError::TooLarge { what, value })
}

/// A registry's trust view, as the last successful sync or install accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryState {
    /// The registry's name in the client configuration.
    pub registry: String,
    /// The size of the last accepted checkpoint.
    pub checkpoint_size: u64,
    /// Its root hash.
    pub checkpoint_root: Hash,
    /// The last accepted `timestamp.json`, byte for byte.
    pub timestamp_json: Vec<u8>,
    /// The highest revocation-list version accepted.
    pub revocations_version: u64,
    /// That revocation list (`revocations.json`), byte for byte.
    pub revocations_json: Vec<u8>,
    /// When this view was accepted.
    pub synced_at: Timestamp,
}

/// How the capabilities of an install came to be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantSource {
    /// The user answered a prompt.
    Prompt,
    /// The user passed `--yes`.
    Yes,
    /// The policy file allowed them.
    Policy,
    /// The app asks for no capability.
    NoneNeeded,
    /// A lockfile named them.
    Lockfile,
}

/// `as_str`, `Display` and `FromStr` for an enum stored as one of a fixed set of words.
macro_rules! text_enum {
    ($type:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $type {
            /// The stored text form.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $type {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(format!(
                        concat!("{:?} is not a ", $what, " (", $($text, " "),+, ")"),
                        s
                    )),
                }
            }
        }
    };
}

text_enum!(GrantSource, "grant source", {
    Prompt => "prompt",
    Yes => "yes",
    Policy => "policy",
    NoneNeeded => "none-needed",
    Lockfile => "lockfile",
});

/// Whether an installed app may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallStatus {
    /// It may run.
    Active,
    /// It may not run until repaired or updated.
    Quarantined {
        /// Why, in plain words (a revocation, a failed verification, …).
        reason: String,
    },
}

/// An installed app: what was installed, the evidence it was installed on, and what the user granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    /// The app.
    pub app: AppName,
    /// The registry it came from.
    pub registry: String,
    /// The installed version.
    pub version: Version,
    /// The artifact's digest (its store entry).
    pub artifact: Digest,
    /// The digest of the provenance envelope.
    pub provenance: Digest,
    /// The digest of `locara.toml`.
    pub manifest_digest: Digest,
    /// The `locara.toml` text.
    pub manifest: String,
    /// The source commit it was built from.
    pub commit: GitCommit,
    /// The index of its release entry in the registry's log.
    pub log_index: u64,
    /// The key that signed the release statement.
    pub key_id: KeyId,
    /// The builder id the provenance names.
    pub builder_id: String,
    /// The store entry's tree digest at install time.
    pub tree_digest: TreeDigest,
    /// The launcher name, if the app has one.
    pub launcher: Option<AppSlug>,
    /// The capabilities granted, as the plain-word lines the user saw.
    pub granted: Vec<String>,
    /// How they were granted.
    pub grant_source: GrantSource,
    /// When they were granted.
    pub granted_at: Timestamp,
    /// When this version was installed.
    pub installed_at: Timestamp,
    /// Whether it may run.
    pub status: InstallStatus,
    /// The publisher's deprecation message, if the app is deprecated.
    pub deprecated: Option<String>,
}

/// What a history entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HistoryAction {
    /// A first install.
    Install,
    /// A change of version.
    Update,
    /// A removal.
    Uninstall,
    /// The app was stopped from running.
    Quarantine,
    /// The store entry, launcher or status was restored.
    Repair,
}

text_enum!(HistoryAction, "history action", {
    Install => "install",
    Update => "update",
    Uninstall => "uninstall",
    Quarantine => "quarantine",
    Repair => "repair",
});

/// A history entry to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHistory {
    /// When it happened.
    pub at: Timestamp,
    /// The app.
    pub app: AppName,
    /// What happened.
    pub action: HistoryAction,
    /// The version before, if any.
    pub from_version: Option<Version>,
    /// The version after, if any.
    pub to_version: Option<Version>,
    /// Details in plain words.
    pub detail: String,
}

/// A stored history entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Its position; later entries have larger ids.
    pub id: u64,
    /// What was recorded.
    pub event: NewHistory,
}

/// Everything one command changes, applied by [`State::commit`] all at once or not at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    /// A registry's new trust view, if the command accepted one.
    pub registry: Option<RegistryState>,
    /// Installs to add or replace (by app).
    pub upserts: Vec<Install>,
    /// Apps to remove; each must be installed.
    pub removals: Vec<AppName>,
    /// History entries to add.
    pub history: Vec<NewHistory>,
}

/// The state database.
#[derive(Debug, Clone)]
pub struct State {
    pool: SqlitePool,
    path: PathBuf,
}

/// `SELECT <every install column> FROM installs <tail>`, as one literal.
macro_rules! select_installs {
    ($tail:literal) => {
        concat!(
            "SELECT app, registry, version, artifact, provenance, manifest_digest, manifest, commit_id, ",
            "log_index, key_id, builder_id, tree_digest, launcher, granted, grant_source, granted_at, ",
            "installed_at, status, status_reason, deprecated FROM installs ",
            $tail
        )
    };
}

impl State {
    /// Opens the database at `path`, creating it and its directory if missing, and applies any pending
    /// migrations.
    pub async fn open(path: &Path) -> Result<State, StateError> {
        let path = path.to_owned();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(parent)
                .map_err(|source| StateError::Io {
                    action: "create directory",
                    path: parent.to_owned(),
                    source,
                })?;
        }
        let mut lock_path = path.clone().into_os_string();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let migration_lock = tokio::task::spawn_blocking(move || {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .open(&lock_path)
                .and_then(|file| file.lock().map(|()| file));
            file.map_err(|source| StateError::Io {
                action: "lock",
                path: lock_path,
                source,
            })
        })
        .await
        .map_err(|source| StateError::Task { source })??;

        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|source| StateError::Open {
                path: path.clone(),
                source,
            })?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StateError::Migrate {
                path: path.clone(),
                source,
            })?;
        drop(migration_lock);
        Ok(State { pool, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The saved trust view of `registry`, if any.
    pub async fn registry_state(
        &self,
        registry: &str,
    ) -> Result<Option<RegistryState>, StateError> {
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(database("reading a registry state"))?;
        registry_state_on(&mut connection, registry).await
    }

    /// Every installed app, sorted by name.
    pub async fn installs(&self) -> Result<Vec<Install>, StateError> {
        let rows = sqlx::query(select_installs!("ORDER BY app"))
            .fetch_all(&self.pool)
            .await
            .map_err(database("reading the installs"))?;
        rows.iter().map(install_from_row).collect()
    }

    /// The install of `app`, if it is installed.
    pub async fn install(&self, app: &AppName) -> Result<Option<Install>, StateError> {
        let row = sqlx::query(select_installs!("WHERE app = ?1"))
            .bind(app.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(database(format!("reading the install of {app}")))?;
        row.as_ref().map(install_from_row).transpose()
    }

    /// The highest version of `app`'s signed index accepted from `registry`, if any.
    pub async fn index_version(
        &self,
        registry: &str,
        app: &AppName,
    ) -> Result<Option<u64>, StateError> {
        let version: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM index_versions WHERE registry = ?1 AND app = ?2",
        )
        .bind(registry)
        .bind(app.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(database(format!("reading the index version of {app}")))?;
        version
            .map(|version| {
                u64::try_from(version).map_err(|_| StateError::Corrupt {
                    table: "index_versions",
                    key: app.to_string(),
                    column: "version",
                    detail: format!("negative version {version}"),
                })
            })
            .transpose()
    }

    /// Records that these index versions were accepted from `registry`; a stored version only ever grows.
    pub async fn raise_index_versions(
        &self,
        registry: &str,
        versions: &[(AppName, u64)],
    ) -> Result<(), StateError> {
        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(database("starting to record index versions"))?;
        for (app, version) in versions {
            sqlx::query(
                "INSERT INTO index_versions (registry, app, version) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (registry, app) DO UPDATE SET version = MAX(version, excluded.version)",
            )
            .bind(registry)
            .bind(app.to_string())
            .bind(to_db("index version", *version)?)
            .execute(&mut *transaction)
            .await
            .map_err(database(format!("recording the index version of {app}")))?;
        }
        transaction
            .commit()
            .await
            .map_err(database("recording index versions"))
    }

    /// The history of `app`, or of every app, oldest first.
    pub async fn history(&self, app: Option<&AppName>) -> Result<Vec<HistoryEntry>, StateError> {
        let rows = match app {
            Some(app) => sqlx::query(
                "SELECT id, at, app, action, from_version, to_version, detail FROM history \
                 WHERE app = ?1 ORDER BY id",
            )
            .bind(app.to_string())
            .fetch_all(&self.pool)
            .await,
            None => sqlx::query(
                "SELECT id, at, app, action, from_version, to_version, detail FROM history ORDER BY id",
            )
            .fetch_all(&self.pool)
            .await,
        }
        .map_err(database("reading the history"))?;
        rows.iter().map(history_from_row).collect()
    }

    /// Applies `change` in one transaction, or nothing of it (see the module docs for what is refused).
    pub async fn commit(&self, change: &Change) -> Result<(), StateError> {
        let mut transaction = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(database("starting a state change"))?;
        if let Some(registry) = &change.registry {
            save_registry_on(&mut transaction, registry).await?;
        }
        for app in &change.removals {
            let removed = sqlx::query("DELETE FROM installs WHERE app = ?1")
                .bind(app.to_string())
                .execute(&mut *transaction)
                .await
                .map_err(database(format!("removing the install of {app}")))?;
            if removed.rows_affected() == 0 {
                return Err(StateError::NotInstalled { app: app.clone() });
            }
        }
        for install in &change.upserts {
            upsert_on(&mut transaction, install).await?;
        }
        for event in &change.history {
            sqlx::query(
                "INSERT INTO history (at, app, action, from_version, to_version, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .bind(to_db("history time", event.at.unix_seconds())?)
            .bind(event.app.to_string())
            .bind(event.action.as_str())
            .bind(event.from_version.as_ref().map(Version::to_string))
            .bind(event.to_version.as_ref().map(Version::to_string))
            .bind(&event.detail)
            .execute(&mut *transaction)
            .await
            .map_err(database(format!("adding history for {}", event.app)))?;
        }
        transaction
            .commit()
            .await
            .map_err(database("committing a state change"))
    }
}

async fn registry_state_on(
    connection: &mut SqliteConnection,
    registry: &str,
) -> Result<Option<RegistryState>, StateError> {
    let row = sqlx::query(
        "SELECT registry, checkpoint_size, checkpoint_root, timestamp_json, revocations_version, \
         revocations_json, synced_at FROM registries WHERE registry = ?1",
    )
    .bind(registry)
    .fetch_optional(connection)
    .await
    .map_err(database(format!(
        "reading the state of registry {registry:?}"
    )))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let reader = RowReader {
        row: &row,
        table: "registries",
        key: registry.to_owned(),
    };
    Ok(Some(RegistryState {
        registry: reader.get("registry")?,
        checkpoint_size: reader.unsigned("checkpoint_size")?,
        checkpoint_root: reader.parsed("checkpoint_root")?,
        timestamp_json: reader.get("timestamp_json")?,
        revocations_version: reader.unsigned("revocations_version")?,
        revocations_json: reader.get("revocations_json")?,
        synced_at: reader.timestamp("synced_at")?,
    }))
}

/// Saves `new` unless it would roll the stored view back (see [`StateError::CheckpointRollback`] and its
/// siblings).
async fn save_registry_on(
    connection: &mut SqliteConnection,
    new: &RegistryState,
) -> Result<(), StateError> {
    if let Some(stored) = registry_state_on(&mut *connection, &new.registry).await? {
        if new.checkpoint_size < stored.checkpoint_size {
            return Err(StateError::CheckpointRollback {
                registry: new.registry.clone(),
                stored: stored.checkpoint_size,
                new: new.checkpoint_size,
            });
        }
        if new.checkpoint_size == stored.checkpoint_size
            && new.checkpoint_root != stored.checkpoint_root
        {
            return Err(StateError::CheckpointFork {
                registry: new.registry.clone(),
                size: new.checkpoint_size,
                stored: stored.checkpoint_root,
                new: new.checkpoint_root,
            });
        }
        if new.revocations_version < stored.revocations_version {
            return Err(StateError::RevocationsRollback {
                registry: new.registry.clone(),
                stored: stored.revocations_version,
                new: new.revocations_version,
            });
        }
    }
    sqlx::query(
        "INSERT INTO registries (registry, checkpoint_size, checkpoint_root, timestamp_json, \
         revocations_version, revocations_json, synced_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (registry) DO UPDATE SET checkpoint_size = excluded.checkpoint_size, \
         checkpoint_root = excluded.checkpoint_root, timestamp_json = excluded.timestamp_json, \
         revocations_version = excluded.revocations_version, \
         revocations_json = excluded.revocations_json, synced_at = excluded.synced_at",
    )
    .bind(&new.registry)
    .bind(to_db("checkpoint size", new.checkpoint_size)?)
    .bind(new.checkpoint_root.to_hex())
    .bind(&new.timestamp_json)
    .bind(to_db("revocation-list version", new.revocations_version)?)
    .bind(&new.revocations_json)
    .bind(to_db("sync time", new.synced_at.unix_seconds())?)
    .execute(connection)
    .await
    .map_err(database(format!(
        "saving the state of registry {:?}",
        new.registry
    )))?;
    Ok(())
}

async fn upsert_on(connection: &mut SqliteConnection, install: &Install) -> Result<(), StateError> {
    let app = install.app.to_string();
    let known_registry: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM registries WHERE registry = ?1")
            .bind(&install.registry)
            .fetch_optional(&mut *connection)
            .await
            .map_err(database(format!("checking the registry of {app}")))?;
    if known_registry.is_none() {
        return Err(StateError::UnknownRegistry {
            app: install.app.clone(),
            registry: install.registry.clone(),
        });
    }
    if let Some(launcher) = &install.launcher {
        let owner: Option<String> =
            sqlx::query_scalar("SELECT app FROM installs WHERE launcher = ?1 AND app != ?2")
                .bind(launcher.as_str())
                .bind(&app)
                .fetch_optional(&mut *connection)
                .await
                .map_err(database(format!("checking the launcher of {app}")))?;
        if let Some(owner) = owner {
            return Err(StateError::LauncherTaken {
                app: install.app.clone(),
                launcher: launcher.clone(),
                owner: parse_column("installs", &owner, "app", &owner)?,
            });
        }
    }
    let (status, status_reason) = match &install.status {
        InstallStatus::Active => ("active", None),
        InstallStatus::Quarantined { reason } => ("quarantined", Some(reason.as_str())),
    };
    sqlx::query(
        "INSERT INTO installs (app, registry, version, artifact, provenance, manifest_digest, manifest, \
         commit_id, log_index, key_id, builder_id, tree_digest, launcher, granted, grant_source, \
         granted_at, installed_at, status, status_reason, deprecated) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20) \
         ON CONFLICT (app) DO UPDATE SET registry = excluded.registry, version = excluded.version, \
         artifact = excluded.artifact, provenance = excluded.provenance, \
         manifest_digest = excluded.manifest_digest, manifest = excluded.manifest, \
         commit_id = excluded.commit_id, log_index = excluded.log_index, key_id = excluded.key_id, \
         builder_id = excluded.builder_id, tree_digest = excluded.tree_digest, \
         launcher = excluded.launcher, granted = excluded.granted, \
         grant_source = excluded.grant_source, granted_at = excluded.granted_at, \
         installed_at = excluded.installed_at, status = excluded.status, \
         status_reason = excluded.status_reason, deprecated = excluded.deprecated",
    )
    .bind(&app)
    .bind(&install.registry)
    .bind(install.version.to_string())
    .bind(install.artifact.to_string())
    .bind(install.provenance.to_string())
    .bind(install.manifest_digest.to_string())
    .bind(&install.manifest)
    .bind(install.commit.as_str())
    .bind(to_db("log index", install.log_index)?)
    .bind(install.key_id.hex())
    .bind(&install.builder_id)
    .bind(install.tree_digest.to_string())
    .bind(install.launcher.as_ref().map(AppSlug::as_str))
    .bind(serde_json::Value::from(install.granted.clone()).to_string())
    .bind(install.grant_source.as_str())
    .bind(to_db("grant time", install.granted_at.unix_seconds())?)
    .bind(to_db("install time", install.installed_at.unix_seconds())?)
    .bind(status)
    .bind(status_reason)
    .bind(&install.deprecated)
    .execute(connection)
    .await
    .map_err(database(format!("saving the install of {app}")))?;
    Ok(())
}

/// Parses a stored text value, naming the row and column if it does not parse.
fn parse_column<T>(
    table: &'static str,
    key: &str,
    column: &'static str,
    text: &str,
) -> Result<T, StateError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    text.parse().map_err(|error: T::Err| StateError::Corrupt {
        table,
        key: key.to_owned(),
        column,
        detail: error.to_string(),
    })
}

/// Reads typed values from one row, naming the row in every error.
struct RowReader<'a> {
    row: &'a SqliteRow,
    table: &'static str,
    key: String,
}

impl RowReader<'_> {
    fn corrupt(&self, column: &'static str, detail: impl fmt::Display) -> StateError {
        StateError::Corrupt {
            table: self.table,
            key: self.key.clone(),
            column,
            detail: detail.to_string(),
        }
    }

    fn get<T>(&self, column: &'static str) -> Result<T, StateError>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
    {
        self.row
            .try_get(column)
            .map_err(|error| self.corrupt(column, error))
    }

    fn parsed<T>(&self, column: &'static str) -> Result<T, StateError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let text: String = self.get(column)?;
        parse_column(self.table, &self.key, column, &text)
    }

    fn parsed_optional<T>(&self, column: &'static str) -> Result<Option<T>, StateError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let text: Option<String> = self.get(column)?;
        text.map(|text| parse_column(self.table, &self.key, column, &text))
            .transpose()
    }

    fn unsigned(&self, column: &'static str) -> Result<u64, StateError> {
        let value: i64 = self.get(column)?;
        u64::try_from(value).map_err(|_| self.corrupt(column, format!("{value} is negative")))
    }

    fn timestamp(&self, column: &'static str) -> Result<Timestamp, StateError> {
        Timestamp::from_unix_seconds(self.unsigned(column)?)
            .map_err(|error| self.corrupt(column, error))
    }
}

fn install_from_row(row: &SqliteRow) -> Result<Install, StateError> {
    let key: String = row.try_get("app").unwrap_or_else(|_| "?".to_owned());
    let reader = RowReader {
        row,
        table: "installs",
        key,
    };
    let granted_text: String = reader.get("granted")?;
    let granted = serde_json::from_str(&granted_text).map_err(|error| {
        reader.corrupt("granted", format!("not a JSON list of strings: {error}"))
    })?;
    let status_text: String = reader.get("status")?;
    let status_reason: Option<String> = reader.get("status_reason")?;
    let status = match (status_text.as_str(), status_reason) {
        ("active", None) => InstallStatus::Active,
        ("quarantined", Some(reason)) => InstallStatus::Quarantined { reason },
        (other, reason) => {
            return Err(reader.corrupt(
                "status",
                format!("{other:?} with reason {reason:?} is not a valid status"),
            ));
        }
    };
    Ok(Install {
        app: reader.parsed("app")?,
        registry: reader.get("registry")?,
        version: reader.parsed("version")?,
        artifact: reader.parsed("artifact")?,
        provenance: reader.parsed("provenance")?,
        manifest_digest: reader.parsed("manifest_digest")?,
        manifest: reader.get("manifest")?,
        commit: reader.parsed("commit_id")?,
        log_index: reader.unsigned("log_index")?,
        key_id: reader.parsed("key_id")?,
        builder_id: reader.get("builder_id")?,
        tree_digest: reader.parsed("tree_digest")?,
        launcher: reader.parsed_optional("launcher")?,
        granted,
        grant_source: reader.parsed("grant_source")?,
        granted_at: reader.timestamp("granted_at")?,
        installed_at: reader.timestamp("installed_at")?,
        status,
        deprecated: reader.get("deprecated")?,
    })
}

fn history_from_row(row: &SqliteRow) -> Result<HistoryEntry, StateError> {
    let id: i64 = row.try_get("id").unwrap_or(-1);
    let reader = RowReader {
        row,
        table: "history",
        key: id.to_string(),
    };
    Ok(HistoryEntry {
        id: reader.unsigned("id")?,
        event: NewHistory {
            at: reader.timestamp("at")?,
            app: reader.parsed("app")?,
            action: reader.parsed("action")?,
            from_version: reader.parsed_optional("from_version")?,
            to_version: reader.parsed_optional("to_version")?,
            detail: reader.get("detail")?,
        },
    })
}
