//! The SQLite side of builds, releases and the notification outbox (see [`crate::records`]).

use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{AssertSqlSafe, Row, Sqlite, Transaction};

use crate::error::StoreError;
use crate::records::{
    AccountId, App, AppListing, Build, BuildState, NewBuild, NewRelease, NewRevocation,
    Notification, Release, RevocationRecord,
};
use crate::sqlite::{append_on, from_db, to_db};
use crate::sqlite_records::{PUBLISHER_COLUMNS, publisher_from};

type Result<T> = std::result::Result<T, StoreError>;

async fn begin(pool: &SqlitePool, operation: &'static str) -> Result<Transaction<'static, Sqlite>> {
    pool.begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(StoreError::database(operation))
}

fn optional(what: &'static str, value: Option<i64>) -> Result<Option<u64>> {
    value.map(|value| from_db(what, value)).transpose()
}

const BUILD_COLUMNS: &str = "b.id, b.app_id, a.name AS app, b.version, b.repository, b.git_commit, \
    b.statement, b.key_id, b.requested_by, b.state, b.lease_owner, b.lease_expires_at, b.attempts, \
    b.error, b.log_digest, b.created_at, b.started_at, b.finished_at";

fn build_from(row: &SqliteRow) -> Result<Build> {
    let state: String = row.get("state");
    Ok(Build {
        id: row.get("id"),
        app_id: row.get("app_id"),
        app: row.get("app"),
        version: row.get("version"),
        repository: row.get("repository"),
        commit: row.get("git_commit"),
        statement: row.get("statement"),
        key_id: row.get("key_id"),
        requested_by: row.get("requested_by"),
        state: BuildState::parse(&state).ok_or_else(|| StoreError::Corrupt {
            detail: format!("build state {state:?}"),
        })?,
        lease_owner: row.get("lease_owner"),
        lease_expires_at: optional("lease expiry", row.get("lease_expires_at"))?,
        attempts: u32::try_from(row.get::<i64, _>("attempts")).unwrap_or(u32::MAX),
        error: row.get("error"),
        log_digest: row.get("log_digest"),
        created_at: from_db("build time", row.get("created_at"))?,
        started_at: optional("build start", row.get("started_at"))?,
        finished_at: optional("build end", row.get("finished_at"))?,
    })
}

async fn build_on(connection: &mut sqlx::SqliteConnection, id: i64) -> Result<Option<Build>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {BUILD_COLUMNS} FROM builds b JOIN apps a ON a.id = b.app_id WHERE b.id = ?1"
    )))
    .bind(id)
    .fetch_optional(&mut *connection)
    .await
    .map_err(StoreError::database("reading a build"))?;
    row.as_ref().map(build_from).transpose()
}

pub(crate) async fn build(pool: &SqlitePool, id: i64) -> Result<Option<Build>> {
    let mut connection = pool
        .acquire()
        .await
        .map_err(StoreError::database("reading a build"))?;
    build_on(&mut connection, id).await
}

pub(crate) async fn enqueue_build(pool: &SqlitePool, build: NewBuild) -> Result<Build> {
    let operation = "queueing a build";
    let mut transaction = begin(pool, operation).await?;
    let released: Option<i64> =
        sqlx::query_scalar("SELECT id FROM releases WHERE app_id = ?1 AND version = ?2")
            .bind(build.app_id)
            .bind(&build.version)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(StoreError::database(operation))?;
    if released.is_some() {
        return Err(StoreError::Conflict {
            what: format!(
                "version {} was released before; versions are never reused, publish a higher one",
                build.version
            ),
        });
    }
    let running: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM builds WHERE app_id = ?1 AND version = ?2 AND state IN ('queued', 'building')",
    )
    .bind(build.app_id)
    .bind(&build.version)
    .fetch_optional(&mut *transaction)
    .await
    .map_err(StoreError::database(operation))?;
    if let Some(running) = running {
        return Err(StoreError::Conflict {
            what: format!(
                "build {running} of version {} is already queued or running",
                build.version
            ),
        });
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO builds (app_id, version, repository, git_commit, statement, key_id, requested_by, state, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8) RETURNING id",
    )
    .bind(build.app_id)
    .bind(&build.version)
    .bind(&build.repository)
    .bind(&build.commit)
    .bind(&build.statement)
    .bind(&build.key_id)
    .bind(build.requested_by)
    .bind(to_db("time", build.created_at)?)
    .fetch_one(&mut *transaction)
    .await
    .map_err(StoreError::database(operation))?;
    let stored = build_on(&mut transaction, id)
        .await?
        .ok_or_else(|| StoreError::Corrupt {
            detail: "a queued build vanished".to_owned(),
        })?;
    transaction
        .commit()
        .await
        .map_err(StoreError::database(operation))?;
    Ok(stored)
}

pub(crate) async fn claim_build(
    pool: &SqlitePool,
    worker: &str,
    now: u64,
    lease_until: u64,
    max_attempts: u32,
) -> Result<Option<Build>> {
    let operation = "claiming a build";
    let mut transaction = begin(pool, operation).await?;
    let now_db = to_db("time", now)?;
    // Jobs whose workers died too often fail rather than loop forever.
    sqlx::query(
        "UPDATE builds SET state = 'failed', finished_at = ?1, lease_owner = NULL, \
         error = 'the build worker stopped (killed or crashed) ' || attempts || ' times; publish again to retry' \
         WHERE state = 'building' AND lease_expires_at < ?1 AND attempts >= ?2",
    )
    .bind(now_db)
    .bind(i64::from(max_attempts))
    .execute(&mut *transaction)
    .await
    .map_err(StoreError::database(operation))?;
    let id: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM builds WHERE state = 'queued' OR (state = 'building' AND lease_expires_at < ?1) \
         ORDER BY id LIMIT 1",
    )
    .bind(now_db)
    .fetch_optional(&mut *transaction)
    .await
    .map_err(StoreError::database(operation))?;
    let Some(id) = id else {
        transaction
            .commit()
            .await
            .map_err(StoreError::database(operation))?;
        return Ok(None);
    };
    sqlx::query(
        "UPDATE builds SET state = 'building', lease_owner = ?2, lease_expires_at = ?3, \
         attempts = attempts + 1, started_at = COALESCE(started_at, ?4) WHERE id = ?1",
    )
    .bind(id)
    .bind(worker)
    .bind(to_db("time", lease_until)?)
    .bind(now_db)
    .execute(&mut *transaction)
    .await
    .map_err(StoreError::database(operation))?;
    let claimed = build_on(&mut transaction, id).await?;
    transaction
        .commit()
        .await
        .map_err(StoreError::database(operation))?;
    Ok(claimed)
}

pub(crate) async fn renew_build_lease(
    pool: &SqlitePool,
    id: i64,
    worker: &str,
    lease_until: u64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE builds SET lease_expires_at = ?3 WHERE id = ?1 AND lease_owner = ?2 AND state = 'building'",
    )
    .bind(id)
    .bind(worker)
    .bind(to_db("time", lease_until)?)
    .execute(pool)
    .await
    .map_err(StoreError::database("renewing a build lease"))?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn fail_build(
    pool: &SqlitePool,
    id: i64,
    worker: &str,
    error: &str,
    log_digest: Option<&str>,
    at: u64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE builds SET state = 'failed', error = ?3, log_digest = ?4, finished_at = ?5, lease_owner = NULL \
         WHERE id = ?1 AND lease_owner = ?2 AND state = 'building'",
    )
    .bind(id)
    .bind(worker)
    .bind(error)
    .bind(log_digest)
    .bind(to_db("time", at)?)
    .execute(pool)
    .await
    .map_err(StoreError::database("failing a build"))?;
    Ok(done.rows_affected() == 1)
}

const RELEASE_COLUMNS: &str = "id, app_id, build_id, version, git_commit, repository, manifest, \
    manifest_digest, artifact_digest, provenance_digest, key_id, statement, capabilities, expansion, \
    state, available_at, reproducible, log_index, created_at, message, artifact_size, provenance_size";

/// A nullable size column.
fn optional_size(row: &SqliteRow, column: &'static str) -> Result<Option<u64>> {
    row.get::<Option<i64>, _>(column)
        .map(|size| from_db(column, size))
        .transpose()
}

fn release_from(row: &SqliteRow) -> Result<Release> {
    Ok(Release {
        id: row.get("id"),
        app_id: row.get("app_id"),
        build_id: row.get("build_id"),
        version: row.get("version"),
        commit: row.get("git_commit"),
        repository: row.get("repository"),
        manifest: row.get("manifest"),
        manifest_digest: row.get("manifest_digest"),
        artifact_digest: row.get("artifact_digest"),
        provenance_digest: row.get("provenance_digest"),
        key_id: row.get("key_id"),
        statement: row.get("statement"),
        capabilities: row.get("capabilities"),
        expansion: row.get("expansion"),
        state: row.get("state"),
        available_at: from_db("availability time", row.get("available_at"))?,
        reproducible: row.get::<i64, _>("reproducible") == 1,
        log_index: from_db("log index", row.get("log_index"))?,
        created_at: from_db("release time", row.get("created_at"))?,
        message: row.get("message"),
        artifact_size: optional_size(row, "artifact_size")?,
        provenance_size: optional_size(row, "provenance_size")?,
    })
}

pub(crate) async fn finish_build(
    pool: &SqlitePool,
    id: i64,
    worker: &str,
    release: NewRelease,
    log_digest: &str,
    entry: Vec<u8>,
    notifications: Vec<(AccountId, String)>,
) -> Result<Release> {
    let operation = "finishing a build";
    let mut transaction = begin(pool, operation).await?;
    let held = build_on(&mut transaction, id).await?;
    let Some(build) = held.filter(|build| {
        build.state == BuildState::Building && build.lease_owner.as_deref() == Some(worker)
    }) else {
        return Err(StoreError::Conflict {
            what: format!(
                "build {id} is not held by worker {worker}; it was finished or taken over"
            ),
        });
    };
    let now = to_db("time", release.created_at)?;
    let index = append_on(&mut transaction, &[entry]).await?.first_index;
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO releases (app_id, version, build_id, git_commit, repository, manifest, manifest_digest, \
         artifact_digest, provenance_digest, key_id, statement, capabilities, expansion, state, available_at, \
         reproducible, log_index, created_at, artifact_size, provenance_size) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20) \
         RETURNING {RELEASE_COLUMNS}"
    )))
    .bind(build.app_id)
    .bind(&release.version)
    .bind(id)
    .bind(&release.commit)
    .bind(&release.repository)
    .bind(&release.manifest)
    .bind(&release.manifest_digest)
    .bind(&release.artifact_digest)
    .bind(&release.provenance_digest)
    .bind(&release.key_id)
    .bind(&release.statement)
    .bind(&release.capabilities)
    .bind(&release.expansion)
    .bind(&release.state)
    .bind(to_db("time", release.available_at)?)
    .bind(i64::from(release.reproducible))
    .bind(to_db("log index", index)?)
    .bind(now)
    .bind(release.artifact_size.map(|size| to_db("artifact size", size)).transpose()?)
    .bind(release.provenance_size.map(|size| to_db("provenance size", size)).transpose()?)
    .fetch_one(&mut *transaction)
    .await
    .map_err(|error| match &error {
        sqlx::Error::Database(database) if database.is_unique_violation() => StoreError::Conflict {
            what: format!("version {} was released before; versions are never reused", release.version),
        },
        _ => StoreError::Database {
            operation,
            source: error,
        },
    })?;
    let stored = release_from(&row)?;
    sqlx::query(
        "UPDATE builds SET state = 'succeeded', log_digest = ?2, finished_at = ?3, lease_owner = NULL WHERE id = ?1",
    )
    .bind(id)
    .bind(log_digest)
    .bind(now)
    .execute(&mut *transaction)
    .await
    .map_err(StoreError::database(operation))?;
    for (account, body) in notifications {
        sqlx::query(
            "INSERT INTO outbox (account_id, url, body, next_attempt_at, created_at) \
             SELECT id, webhook_url, ?2, ?3, ?3 FROM accounts WHERE id = ?1 AND webhook_url IS NOT NULL",
        )
        .bind(account)
        .bind(&body)
        .bind(now)
        .execute(&mut *transaction)
        .await
        .map_err(StoreError::database(operation))?;
    }
    transaction
        .commit()
        .await
        .map_err(StoreError::database(operation))?;
    Ok(stored)
}

pub(crate) async fn releases_of(pool: &SqlitePool, app: i64) -> Result<Vec<Release>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {RELEASE_COLUMNS} FROM releases WHERE app_id = ?1 ORDER BY id"
    )))
    .bind(app)
    .fetch_all(pool)
    .await
    .map_err(StoreError::database("listing releases"))?;
    rows.iter().map(release_from).collect()
}

pub(crate) async fn change_release_state(
    pool: &SqlitePool,
    app: i64,
    version: &str,
    from: &str,
    to: &str,
    message: Option<&str>,
    entry: Vec<u8>,
) -> Result<Option<u64>> {
    let operation = "changing a release's state";
    let mut transaction = begin(pool, operation).await?;
    let done = sqlx::query(
        "UPDATE releases SET state = ?4, message = COALESCE(?5, message) \
         WHERE app_id = ?1 AND version = ?2 AND state = ?3",
    )
    .bind(app)
    .bind(version)
    .bind(from)
    .bind(to)
    .bind(message)
    .execute(&mut *transaction)
    .await
    .map_err(StoreError::database(operation))?;
    if done.rows_affected() != 1 {
        return Ok(None);
    }
    let index = append_on(&mut transaction, &[entry]).await?.first_index;
    transaction
        .commit()
        .await
        .map_err(StoreError::database(operation))?;
    Ok(Some(index))
}

pub(crate) async fn revoke_release(
    pool: &SqlitePool,
    app: i64,
    version: &str,
    revocation: NewRevocation,
    entry: Vec<u8>,
) -> Result<RevocationRecord> {
    let operation = "revoking a release";
    let mut transaction = begin(pool, operation).await?;
    let row = sqlx::query(
        "SELECT r.id, r.state, r.artifact_digest, a.name FROM releases r JOIN apps a ON a.id = r.app_id \
         WHERE r.app_id = ?1 AND r.version = ?2",
    )
    .bind(app)
    .bind(version)
    .fetch_optional(&mut *transaction)
    .await
    .map_err(StoreError::database(operation))?;
    let Some(row) = row else {
        return Err(StoreError::Conflict {
            what: format!("the app has no release {version} to revoke"),
        });
    };
    let (release_id, state, artifact, name): (i64, String, String, String) = (
        row.get("id"),
        row.get("state"),
        row.get("artifact_digest"),
        row.get("name"),
    );
    if state == "revoked" {
        return Err(StoreError::Conflict {
            what: format!("{name} {version} is already revoked; a revocation is final"),
        });
    }
    sqlx::query("UPDATE releases SET state = 'revoked' WHERE id = ?1")
        .bind(release_id)
        .execute(&mut *transaction)
        .await
        .map_err(StoreError::database(operation))?;
    let log_index = append_on(&mut transaction, &[entry]).await?.first_index;
    sqlx::query(
        "INSERT INTO revocations (release_id, app, version, artifact, reason, advisory, revoked_at, log_index) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .bind(release_id)
    .bind(&name)
    .bind(version)
    .bind(&artifact)
    .bind(&revocation.reason)
    .bind(&revocation.advisory)
    .bind(to_db("revocation time", revocation.revoked_at)?)
    .bind(to_db("log index", log_index)?)
    .execute(&mut *transaction)
    .await
    .map_err(StoreError::database(operation))?;
    transaction
        .commit()
        .await
        .map_err(StoreError::database(operation))?;
    Ok(RevocationRecord {
        app: name,
        version: version.to_owned(),
        artifact,
        reason: revocation.reason,
        advisory: revocation.advisory,
        revoked_at: revocation.revoked_at,
        log_index,
    })
}

pub(crate) async fn revocations(pool: &SqlitePool) -> Result<Vec<RevocationRecord>> {
    let operation = "reading revocations";
    let rows = sqlx::query(
        "SELECT app, version, artifact, reason, advisory, revoked_at, log_index FROM revocations \
         ORDER BY log_index",
    )
    .fetch_all(pool)
    .await
    .map_err(StoreError::database(operation))?;
    rows.iter()
        .map(|row| {
            Ok(RevocationRecord {
                app: row.get("app"),
                version: row.get("version"),
                artifact: row.get("artifact"),
                reason: row.get("reason"),
                advisory: row.get("advisory"),
                revoked_at: from_db("revocation time", row.get("revoked_at"))?,
                log_index: from_db("log index", row.get("log_index"))?,
            })
        })
        .collect()
}

pub(crate) async fn acquire_lease(
    pool: &SqlitePool,
    name: &str,
    holder: &str,
    now: u64,
    until: u64,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO leases (name, holder, until) VALUES (?1, ?2, ?4) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
         WHERE leases.until <= ?3 OR leases.holder = excluded.holder",
    )
    .bind(name)
    .bind(holder)
    .bind(to_db("time", now)?)
    .bind(to_db("lease expiry", until)?)
    .execute(pool)
    .await
    .map_err(StoreError::database("taking a lease"))?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn release_lease(pool: &SqlitePool, name: &str, holder: &str) -> Result<()> {
    sqlx::query("DELETE FROM leases WHERE name = ?1 AND holder = ?2")
        .bind(name)
        .bind(holder)
        .execute(pool)
        .await
        .map_err(StoreError::database("giving up a lease"))?;
    Ok(())
}

pub(crate) async fn app_listings(
    pool: &SqlitePool,
    needle: Option<&str>,
    now: u64,
) -> Result<Vec<AppListing>> {
    let operation = "searching apps";
    // `lower` folds ASCII only; the caller folds the needle the same way and narrows the result itself.
    let rows = sqlx::query(AssertSqlSafe(format!(
        "WITH latest AS ( \
             SELECT app_id, MAX(id) AS id FROM releases \
             WHERE state IN ('available', 'deprecated') OR (state = 'cooling-down' AND available_at <= ?2) \
             GROUP BY app_id) \
         SELECT a.id AS app_id, a.publisher_id AS app_publisher_id, a.name AS app_name, \
             a.repository AS app_repository, a.created_at AS app_created_at, a.log_index AS app_log_index, \
             l.id AS latest_id, {PUBLISHER_COLUMNS} \
         FROM apps a JOIN publishers p ON p.id = a.publisher_id \
         LEFT JOIN latest l ON l.app_id = a.id LEFT JOIN releases r ON r.id = l.id \
         WHERE ?1 IS NULL OR instr(lower(a.name), ?1) > 0 OR instr(lower(r.manifest), ?1) > 0 \
         ORDER BY a.name"
    )))
    .bind(needle.map(str::to_ascii_lowercase))
    .bind(to_db("time", now)?)
    .fetch_all(pool)
    .await
    .map_err(StoreError::database(operation))?;
    let latest_ids: Vec<i64> = rows
        .iter()
        .filter_map(|row| row.get::<Option<i64>, _>("latest_id"))
        .collect();
    let mut latest = std::collections::HashMap::new();
    // One query per batch of ids, well under SQLite's limit on bound parameters.
    for ids in latest_ids.chunks(500) {
        let placeholders = vec!["?"; ids.len()].join(", ");
        let mut query = sqlx::query(AssertSqlSafe(format!(
            "SELECT {RELEASE_COLUMNS} FROM releases WHERE id IN ({placeholders})"
        )));
        for id in ids {
            query = query.bind(*id);
        }
        for row in query
            .fetch_all(pool)
            .await
            .map_err(StoreError::database(operation))?
        {
            let release = release_from(&row)?;
            latest.insert(release.id, release);
        }
    }
    rows.iter()
        .map(|row| {
            Ok(AppListing {
                app: App {
                    id: row.get("app_id"),
                    publisher_id: row.get("app_publisher_id"),
                    name: row.get("app_name"),
                    repository: row.get("app_repository"),
                    created_at: from_db("app time", row.get("app_created_at"))?,
                    log_index: from_db("log index", row.get("app_log_index"))?,
                },
                publisher: publisher_from(row)?,
                latest: row
                    .get::<Option<i64>, _>("latest_id")
                    .and_then(|id| latest.remove(&id)),
            })
        })
        .collect()
}

pub(crate) async fn set_webhook(
    pool: &SqlitePool,
    account: AccountId,
    url: Option<&str>,
) -> Result<()> {
    sqlx::query("UPDATE accounts SET webhook_url = ?2 WHERE id = ?1")
        .bind(account)
        .bind(url)
        .execute(pool)
        .await
        .map_err(StoreError::database("setting a webhook"))?;
    Ok(())
}

pub(crate) async fn due_notifications(
    pool: &SqlitePool,
    now: u64,
    limit: u32,
) -> Result<Vec<Notification>> {
    let rows = sqlx::query(
        "SELECT id, account_id, url, body, attempts FROM outbox \
         WHERE delivered_at IS NULL AND next_attempt_at <= ?1 ORDER BY id LIMIT ?2",
    )
    .bind(to_db("time", now)?)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(StoreError::database("reading the outbox"))?;
    Ok(rows
        .iter()
        .map(|row| Notification {
            id: row.get("id"),
            account_id: row.get("account_id"),
            url: row.get("url"),
            body: row.get("body"),
            attempts: u32::try_from(row.get::<i64, _>("attempts")).unwrap_or(u32::MAX),
        })
        .collect())
}

pub(crate) async fn record_delivery(
    pool: &SqlitePool,
    id: i64,
    at: u64,
    outcome: std::result::Result<(), (String, Option<u64>)>,
) -> Result<()> {
    let at = to_db("time", at)?;
    let query = match outcome {
        Ok(()) => sqlx::query(
            "UPDATE outbox SET delivered_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
        )
        .bind(id)
        .bind(at),
        Err((error, retry_at)) => {
            // A notification given up on keeps its row (and error) with no next attempt.
            let next = match retry_at {
                Some(retry_at) => to_db("time", retry_at)?,
                None => i64::MAX,
            };
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?3, next_attempt_at = ?2 WHERE id = ?1",
            )
            .bind(id)
            .bind(next)
            .bind(error)
        }
    };
    query
        .execute(pool)
        .await
        .map_err(StoreError::database("recording a delivery"))?;
    Ok(())
}
