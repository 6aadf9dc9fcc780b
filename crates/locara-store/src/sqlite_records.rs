//! The SQLite side of the registry's records (see [`crate::records`]). Each write that changes security
//! state runs in one `BEGIN IMMEDIATE` transaction together with its log entry.

use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{AssertSqlSafe, Row, Sqlite, Transaction};

use crate::error::StoreError;
use crate::records::{
    AUTH_EVENT_RETENTION_SECONDS, AUTH_EVENTS_KEPT_PER_ACCOUNT, Account, AccountId, App, AuthEvent,
    AuthEventKind, Member, MemberRole, NewAccount, NewApp, NewAuthEvent, NewToken, OidcTrust,
    Publisher, PublisherId, PublisherKey, PublisherKind, TokenKind, TokenRecord, Verification,
    parse_publisher_kind,
};
use crate::sqlite::{append_on, from_db, to_db};

type Result<T> = std::result::Result<T, StoreError>;

/// Maps a uniqueness violation to [`StoreError::Conflict`] with `what`, anything else to a database error.
fn conflict(
    operation: &'static str,
    what: impl Into<String>,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    let what = what.into();
    move |error| match &error {
        sqlx::Error::Database(database) if database.is_unique_violation() => {
            StoreError::Conflict { what }
        }
        _ => StoreError::Database {
            operation,
            source: error,
        },
    }
}

async fn begin(pool: &SqlitePool, operation: &'static str) -> Result<Transaction<'static, Sqlite>> {
    pool.begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(StoreError::database(operation))
}

async fn commit(transaction: Transaction<'static, Sqlite>, operation: &'static str) -> Result<()> {
    transaction
        .commit()
        .await
        .map_err(StoreError::database(operation))
}

/// Appends one entry inside `connection`'s transaction, returning its index.
async fn append_one(connection: &mut SqliteConnection, entry: Vec<u8>) -> Result<u64> {
    Ok(append_on(connection, &[entry]).await?.first_index)
}

fn time(what: &'static str, value: i64) -> Result<u64> {
    from_db(what, value)
}

fn optional_time(what: &'static str, value: Option<i64>) -> Result<Option<u64>> {
    value.map(|value| from_db(what, value)).transpose()
}

fn corrupt(detail: String) -> StoreError {
    StoreError::Corrupt { detail }
}

const ACCOUNT_COLUMNS: &str =
    "id, username, password_hash, totp_secret, totp_enabled, totp_last_step, created_at";

fn account_from(row: &SqliteRow) -> Result<Account> {
    Ok(Account {
        id: row.get("id"),
        username: row.get("username"),
        password_hash: row.get("password_hash"),
        totp_secret: row.get("totp_secret"),
        totp_enabled: row.get::<i64, _>("totp_enabled") == 1,
        totp_last_step: optional_time("TOTP step", row.get("totp_last_step"))?,
        created_at: time("account creation time", row.get("created_at"))?,
    })
}

pub(crate) async fn create_account(
    pool: &SqlitePool,
    account: NewAccount,
    publisher_canonical: &str,
    entry: Vec<u8>,
) -> Result<(Account, u64)> {
    let operation = "creating an account";
    let mut transaction = begin(pool, operation).await?;
    let created_at = to_db("time", account.created_at)?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO accounts (username, password_hash, created_at) VALUES (?1, ?2, ?3) RETURNING id",
    )
    .bind(&account.username)
    .bind(&account.password_hash)
    .bind(created_at)
    .fetch_one(&mut *transaction)
    .await
    .map_err(conflict(operation, format!("the username `{}` is taken", account.username)))?;
    let publisher_id = insert_publisher(
        &mut transaction,
        &account.username,
        publisher_canonical,
        PublisherKind::User,
        created_at,
    )
    .await?;
    insert_member(
        &mut transaction,
        publisher_id,
        id,
        MemberRole::Owner,
        created_at,
    )
    .await?;
    let index = append_one(&mut transaction, entry).await?;
    commit(transaction, operation).await?;
    Ok((
        Account {
            id,
            username: account.username,
            password_hash: account.password_hash,
            totp_secret: None,
            totp_enabled: false,
            totp_last_step: None,
            created_at: account.created_at,
        },
        index,
    ))
}

async fn insert_publisher(
    connection: &mut SqliteConnection,
    name: &str,
    canonical: &str,
    kind: PublisherKind,
    created_at: i64,
) -> Result<PublisherId> {
    let operation = "creating a publisher";
    // Say which rule refused the name: an exact match, or a different name with the same canonical form.
    let existing: Option<String> =
        sqlx::query_scalar("SELECT name FROM publishers WHERE name = ?1 OR canonical = ?2")
            .bind(name)
            .bind(canonical)
            .fetch_optional(&mut *connection)
            .await
            .map_err(StoreError::database(operation))?;
    if let Some(existing) = existing {
        let what = if existing == name {
            format!("the publisher name `{name}` is taken")
        } else {
            format!(
                "the publisher name `{name}` looks the same as the existing publisher `{existing}` once case, separators and look-alike characters are folded; choose a clearly different name"
            )
        };
        return Err(StoreError::Conflict { what });
    }
    sqlx::query_scalar(
        "INSERT INTO publishers (name, canonical, kind, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING id",
    )
    .bind(name)
    .bind(canonical)
    .bind(kind.as_str())
    .bind(created_at)
    .fetch_one(&mut *connection)
    .await
    .map_err(conflict(operation, format!("the publisher name `{name}` is taken")))
}

async fn insert_member(
    connection: &mut SqliteConnection,
    publisher: PublisherId,
    account: AccountId,
    role: MemberRole,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO members (publisher_id, account_id, role, added_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (publisher_id, account_id) DO UPDATE SET role = excluded.role",
    )
    .bind(publisher)
    .bind(account)
    .bind(role.as_str())
    .bind(at)
    .execute(&mut *connection)
    .await
    .map_err(StoreError::database("adding a member"))?;
    Ok(())
}

pub(crate) async fn account_where(
    pool: &SqlitePool,
    condition: &str,
    value: impl for<'q> sqlx::Encode<'q, Sqlite> + sqlx::Type<Sqlite> + Send,
) -> Result<Option<Account>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {condition}"
    )))
    .bind(value)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::database("reading an account"))?;
    row.as_ref().map(account_from).transpose()
}

pub(crate) async fn set_pending_totp(
    pool: &SqlitePool,
    account: AccountId,
    secret: &[u8],
) -> Result<bool> {
    let done =
        sqlx::query("UPDATE accounts SET totp_secret = ?2 WHERE id = ?1 AND totp_enabled = 0")
            .bind(account)
            .bind(secret)
            .execute(pool)
            .await
            .map_err(StoreError::database("storing a TOTP secret"))?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn enable_totp(
    pool: &SqlitePool,
    account: AccountId,
    step: u64,
    recovery_hashes: &[String],
) -> Result<bool> {
    let operation = "enabling TOTP";
    let mut transaction = begin(pool, operation).await?;
    let done = sqlx::query(
        "UPDATE accounts SET totp_enabled = 1, totp_last_step = ?2 \
         WHERE id = ?1 AND totp_enabled = 0 AND totp_secret IS NOT NULL",
    )
    .bind(account)
    .bind(to_db("TOTP step", step)?)
    .execute(&mut *transaction)
    .await
    .map_err(StoreError::database(operation))?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = ?1")
        .bind(account)
        .execute(&mut *transaction)
        .await
        .map_err(StoreError::database(operation))?;
    for hash in recovery_hashes {
        sqlx::query("INSERT INTO recovery_codes (account_id, code_hash) VALUES (?1, ?2)")
            .bind(account)
            .bind(hash)
            .execute(&mut *transaction)
            .await
            .map_err(StoreError::database(operation))?;
    }
    commit(transaction, operation).await?;
    Ok(true)
}

pub(crate) async fn consume_totp_step(
    pool: &SqlitePool,
    account: AccountId,
    step: u64,
) -> Result<bool> {
    // One statement: two requests with the same code cannot both see the old last step.
    let done = sqlx::query(
        "UPDATE accounts SET totp_last_step = ?2 \
         WHERE id = ?1 AND totp_enabled = 1 AND (totp_last_step IS NULL OR totp_last_step < ?2)",
    )
    .bind(account)
    .bind(to_db("TOTP step", step)?)
    .execute(pool)
    .await
    .map_err(StoreError::database("recording a TOTP step"))?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn consume_recovery_code(
    pool: &SqlitePool,
    account: AccountId,
    code_hash: &str,
    at: u64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE recovery_codes SET used_at = ?3 WHERE account_id = ?1 AND code_hash = ?2 AND used_at IS NULL",
    )
    .bind(account)
    .bind(code_hash)
    .bind(to_db("time", at)?)
    .execute(pool)
    .await
    .map_err(StoreError::database("using a recovery code"))?;
    Ok(done.rows_affected() == 1)
}

const AUTH_EVENT_COLUMNS: &str = "id, account_id, at, kind, client_address, token_id";

fn auth_event_from(row: &SqliteRow) -> Result<AuthEvent> {
    let kind: String = row.get("kind");
    Ok(AuthEvent {
        id: row.get("id"),
        event: NewAuthEvent {
            account_id: row.get("account_id"),
            at: time("event time", row.get("at"))?,
            kind: AuthEventKind::parse(&kind)
                .ok_or_else(|| corrupt(format!("unknown account event kind `{kind}`")))?,
            client_address: row.get("client_address"),
            token_id: row.get("token_id"),
        },
    })
}

pub(crate) async fn record_auth_event(pool: &SqlitePool, event: NewAuthEvent) -> Result<AuthEvent> {
    let operation = "recording an account event";
    let mut transaction = begin(pool, operation).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO auth_events (account_id, at, kind, client_address, token_id) \
         VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
    )
    .bind(event.account_id)
    .bind(to_db("time", event.at)?)
    .bind(event.kind.as_str())
    .bind(&event.client_address)
    .bind(event.token_id)
    .fetch_one(&mut *transaction)
    .await
    .map_err(StoreError::database(operation))?;
    // Retention: the newest rows per account, none older than the retention period.
    sqlx::query(
        "DELETE FROM auth_events WHERE account_id = ?1 AND (at < ?2 OR id NOT IN \
         (SELECT id FROM auth_events WHERE account_id = ?1 ORDER BY id DESC LIMIT ?3))",
    )
    .bind(event.account_id)
    .bind(to_db(
        "time",
        event.at.saturating_sub(AUTH_EVENT_RETENTION_SECONDS),
    )?)
    .bind(to_db("event count", AUTH_EVENTS_KEPT_PER_ACCOUNT as u64)?)
    .execute(&mut *transaction)
    .await
    .map_err(StoreError::database(operation))?;
    commit(transaction, operation).await?;
    Ok(AuthEvent { id, event })
}

pub(crate) async fn auth_events_since(
    pool: &SqlitePool,
    account: AccountId,
    since: u64,
) -> Result<Vec<AuthEvent>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {AUTH_EVENT_COLUMNS} FROM auth_events WHERE account_id = ?1 AND at >= ?2 ORDER BY id"
    )))
    .bind(account)
    .bind(to_db("time", since)?)
    .fetch_all(pool)
    .await
    .map_err(StoreError::database("reading account events"))?;
    rows.iter().map(auth_event_from).collect()
}

pub(crate) async fn recent_auth_events(
    pool: &SqlitePool,
    account: AccountId,
    limit: usize,
) -> Result<Vec<AuthEvent>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {AUTH_EVENT_COLUMNS} FROM auth_events WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2"
    )))
    .bind(account)
    .bind(to_db("event count", limit as u64)?)
    .fetch_all(pool)
    .await
    .map_err(StoreError::database("reading account events"))?;
    rows.iter().map(auth_event_from).collect()
}

const TOKEN_COLUMNS: &str =
    "id, account_id, name, kind, scopes, app, created_at, expires_at, revoked_at, last_used_at";

fn token_from(row: &SqliteRow) -> Result<TokenRecord> {
    let kind: String = row.get("kind");
    let scopes: String = row.get("scopes");
    Ok(TokenRecord {
        id: row.get("id"),
        account_id: row.get("account_id"),
        name: row.get("name"),
        kind: TokenKind::parse(&kind).ok_or_else(|| corrupt(format!("token kind {kind:?}")))?,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        app: row.get("app"),
        created_at: time("token creation time", row.get("created_at"))?,
        expires_at: time("token expiry", row.get("expires_at"))?,
        revoked_at: optional_time("token revocation time", row.get("revoked_at"))?,
        last_used_at: optional_time("token use time", row.get("last_used_at"))?,
    })
}

pub(crate) async fn create_token(pool: &SqlitePool, token: NewToken) -> Result<TokenRecord> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO api_tokens (account_id, token_hash, name, kind, scopes, app, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING {TOKEN_COLUMNS}"
    )))
    .bind(token.account_id)
    .bind(&token.token_hash)
    .bind(&token.name)
    .bind(token.kind.as_str())
    .bind(token.scopes.join(" "))
    .bind(&token.app)
    .bind(to_db("time", token.created_at)?)
    .bind(to_db("time", token.expires_at)?)
    .fetch_one(pool)
    .await
    .map_err(StoreError::database("creating a token"))?;
    token_from(&row)
}

pub(crate) async fn token_by_hash(
    pool: &SqlitePool,
    token_hash: &str,
) -> Result<Option<TokenRecord>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ?1"
    )))
    .bind(token_hash)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::database("reading a token"))?;
    row.as_ref().map(token_from).transpose()
}

pub(crate) async fn touch_token(pool: &SqlitePool, id: i64, at: u64) -> Result<()> {
    sqlx::query("UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1")
        .bind(id)
        .bind(to_db("time", at)?)
        .execute(pool)
        .await
        .map_err(StoreError::database("noting a token's use"))?;
    Ok(())
}

pub(crate) async fn tokens_of(pool: &SqlitePool, account: AccountId) -> Result<Vec<TokenRecord>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE account_id = ?1 ORDER BY id DESC"
    )))
    .bind(account)
    .fetch_all(pool)
    .await
    .map_err(StoreError::database("listing tokens"))?;
    rows.iter().map(token_from).collect()
}

pub(crate) async fn revoke_token(
    pool: &SqlitePool,
    account: AccountId,
    id: i64,
    at: u64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at = ?3 WHERE id = ?1 AND account_id = ?2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(account)
    .bind(to_db("time", at)?)
    .execute(pool)
    .await
    .map_err(StoreError::database("revoking a token"))?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn create_organisation(
    pool: &SqlitePool,
    name: &str,
    canonical: &str,
    owner: AccountId,
    created_at: u64,
    entry: Vec<u8>,
) -> Result<(Publisher, u64)> {
    let operation = "creating an organisation";
    let mut transaction = begin(pool, operation).await?;
    let at = to_db("time", created_at)?;
    let id = insert_publisher(
        &mut transaction,
        name,
        canonical,
        PublisherKind::Organisation,
        at,
    )
    .await?;
    insert_member(&mut transaction, id, owner, MemberRole::Owner, at).await?;
    let index = append_one(&mut transaction, entry).await?;
    commit(transaction, operation).await?;
    Ok((
        Publisher {
            id,
            name: name.to_owned(),
            kind: PublisherKind::Organisation,
            created_at,
            verification: None,
        },
        index,
    ))
}

pub(crate) const PUBLISHER_COLUMNS: &str =
    "p.id, p.name, p.kind, p.created_at, p.verified_method, p.verified_subject, p.verified_at";

pub(crate) fn publisher_from(row: &SqliteRow) -> Result<Publisher> {
    let kind: String = row.get("kind");
    let method: Option<String> = row.get("verified_method");
    let verification = match method {
        Some(method) => Some(Verification {
            method,
            subject: row
                .get::<Option<String>, _>("verified_subject")
                .unwrap_or_default(),
            at: optional_time("verification time", row.get("verified_at"))?.unwrap_or(0),
        }),
        None => None,
    };
    Ok(Publisher {
        id: row.get("id"),
        name: row.get("name"),
        kind: parse_publisher_kind(&kind)
            .ok_or_else(|| corrupt(format!("publisher kind {kind:?}")))?,
        created_at: time("publisher creation time", row.get("created_at"))?,
        verification,
    })
}

pub(crate) async fn publisher_by_name(pool: &SqlitePool, name: &str) -> Result<Option<Publisher>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {PUBLISHER_COLUMNS} FROM publishers p WHERE p.name = ?1"
    )))
    .bind(name)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::database("reading a publisher"))?;
    row.as_ref().map(publisher_from).transpose()
}

pub(crate) async fn publisher_names(pool: &SqlitePool) -> Result<Vec<String>> {
    sqlx::query_scalar("SELECT name FROM publishers ORDER BY name")
        .fetch_all(pool)
        .await
        .map_err(StoreError::database("listing publishers"))
}

pub(crate) async fn verified_publisher_names(pool: &SqlitePool) -> Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT name FROM publishers WHERE verified_method IS NOT NULL ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .map_err(StoreError::database("listing verified publishers"))
}

fn role_from(text: &str) -> Result<MemberRole> {
    MemberRole::parse(text).ok_or_else(|| corrupt(format!("member role {text:?}")))
}

pub(crate) async fn publishers_of(
    pool: &SqlitePool,
    account: AccountId,
) -> Result<Vec<(Publisher, MemberRole)>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {PUBLISHER_COLUMNS}, m.role FROM publishers p JOIN members m ON m.publisher_id = p.id \
         WHERE m.account_id = ?1 ORDER BY p.name"
    )))
    .bind(account)
    .fetch_all(pool)
    .await
    .map_err(StoreError::database("listing an account's publishers"))?;
    rows.iter()
        .map(|row| Ok((publisher_from(row)?, role_from(row.get("role"))?)))
        .collect()
}

pub(crate) async fn members(pool: &SqlitePool, publisher: PublisherId) -> Result<Vec<Member>> {
    let rows = sqlx::query(
        "SELECT m.account_id, a.username, m.role, m.added_at FROM members m \
         JOIN accounts a ON a.id = m.account_id WHERE m.publisher_id = ?1 ORDER BY a.username",
    )
    .bind(publisher)
    .fetch_all(pool)
    .await
    .map_err(StoreError::database("listing members"))?;
    rows.iter()
        .map(|row| {
            Ok(Member {
                account_id: row.get("account_id"),
                username: row.get("username"),
                role: role_from(row.get("role"))?,
                added_at: time("member time", row.get("added_at"))?,
            })
        })
        .collect()
}

async fn owner_count(connection: &mut SqliteConnection, publisher: PublisherId) -> Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE publisher_id = ?1 AND role = 'owner'")
        .bind(publisher)
        .fetch_one(&mut *connection)
        .await
        .map_err(StoreError::database("counting owners"))
}

async fn role_of(
    connection: &mut SqliteConnection,
    publisher: PublisherId,
    account: AccountId,
) -> Result<Option<MemberRole>> {
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM members WHERE publisher_id = ?1 AND account_id = ?2")
            .bind(publisher)
            .bind(account)
            .fetch_optional(&mut *connection)
            .await
            .map_err(StoreError::database("reading a membership"))?;
    role.as_deref().map(role_from).transpose()
}

const LAST_OWNER: &str = "a publisher must keep at least one owner; add another owner before removing or demoting this one";

pub(crate) async fn put_member(
    pool: &SqlitePool,
    publisher: PublisherId,
    account: AccountId,
    role: MemberRole,
    at: u64,
    entry: Vec<u8>,
) -> Result<u64> {
    let operation = "changing membership";
    let mut transaction = begin(pool, operation).await?;
    if role == MemberRole::Maintainer
        && role_of(&mut transaction, publisher, account).await? == Some(MemberRole::Owner)
        && owner_count(&mut transaction, publisher).await? <= 1
    {
        return Err(StoreError::Conflict {
            what: LAST_OWNER.to_owned(),
        });
    }
    insert_member(
        &mut transaction,
        publisher,
        account,
        role,
        to_db("time", at)?,
    )
    .await?;
    let index = append_one(&mut transaction, entry).await?;
    commit(transaction, operation).await?;
    Ok(index)
}

pub(crate) async fn remove_member(
    pool: &SqlitePool,
    publisher: PublisherId,
    account: AccountId,
    entry: Vec<u8>,
) -> Result<u64> {
    let operation = "removing a member";
    let mut transaction = begin(pool, operation).await?;
    match role_of(&mut transaction, publisher, account).await? {
        None => {
            return Err(StoreError::Conflict {
                what: "that account is not a member of this publisher".to_owned(),
            });
        }
        Some(MemberRole::Owner) if owner_count(&mut transaction, publisher).await? <= 1 => {
            return Err(StoreError::Conflict {
                what: LAST_OWNER.to_owned(),
            });
        }
        Some(_) => {}
    }
    sqlx::query("DELETE FROM members WHERE publisher_id = ?1 AND account_id = ?2")
        .bind(publisher)
        .bind(account)
        .execute(&mut *transaction)
        .await
        .map_err(StoreError::database(operation))?;
    let index = append_one(&mut transaction, entry).await?;
    commit(transaction, operation).await?;
    Ok(index)
}

pub(crate) async fn put_dns_challenge(
    pool: &SqlitePool,
    publisher: PublisherId,
    domain: &str,
    token: &str,
    expires_at: u64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO dns_challenges (publisher_id, domain, token, expires_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (publisher_id, domain) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at",
    )
    .bind(publisher)
    .bind(domain)
    .bind(token)
    .bind(to_db("time", expires_at)?)
    .execute(pool)
    .await
    .map_err(StoreError::database("storing a DNS challenge"))?;
    Ok(())
}

pub(crate) async fn dns_challenge(
    pool: &SqlitePool,
    publisher: PublisherId,
    domain: &str,
) -> Result<Option<(String, u64)>> {
    let row: Option<(String, i64)> = sqlx::query_as(
        "SELECT token, expires_at FROM dns_challenges WHERE publisher_id = ?1 AND domain = ?2",
    )
    .bind(publisher)
    .bind(domain)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::database("reading a DNS challenge"))?;
    row.map(|(token, expires)| Ok((token, time("challenge expiry", expires)?)))
        .transpose()
}

pub(crate) async fn mark_verified(
    pool: &SqlitePool,
    publisher: PublisherId,
    method: &str,
    subject: &str,
    at: u64,
    entry: Vec<u8>,
) -> Result<u64> {
    let operation = "verifying a publisher";
    let mut transaction = begin(pool, operation).await?;
    sqlx::query(
        "UPDATE publishers SET verified_method = ?2, verified_subject = ?3, verified_at = ?4 WHERE id = ?1",
    )
    .bind(publisher)
    .bind(method)
    .bind(subject)
    .bind(to_db("time", at)?)
    .execute(&mut *transaction)
    .await
    .map_err(StoreError::database(operation))?;
    let index = append_one(&mut transaction, entry).await?;
    commit(transaction, operation).await?;
    Ok(index)
}

fn oidc_trust_from(row: &SqliteRow) -> Result<OidcTrust> {
    Ok(OidcTrust {
        id: row.get("id"),
        publisher_id: row.get("publisher_id"),
        app: row.get("app"),
        issuer: row.get("issuer"),
        audience: row.get("audience"),
        rules: row.get("rules"),
        created_by: row.get("created_by"),
        created_at: time("trust time", row.get("created_at"))?,
    })
}

pub(crate) async fn add_oidc_trust(
    pool: &SqlitePool,
    trust: OidcTrust,
    entry: Vec<u8>,
) -> Result<(OidcTrust, u64)> {
    let operation = "adding an OIDC trust";
    let mut transaction = begin(pool, operation).await?;
    let row = sqlx::query(
        "INSERT INTO oidc_trusts (publisher_id, app, issuer, audience, rules, created_by, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         RETURNING id, publisher_id, app, issuer, audience, rules, created_by, created_at",
    )
    .bind(trust.publisher_id)
    .bind(&trust.app)
    .bind(&trust.issuer)
    .bind(&trust.audience)
    .bind(&trust.rules)
    .bind(trust.created_by)
    .bind(to_db("time", trust.created_at)?)
    .fetch_one(&mut *transaction)
    .await
    .map_err(StoreError::database(operation))?;
    let stored = oidc_trust_from(&row)?;
    let index = append_one(&mut transaction, entry).await?;
    commit(transaction, operation).await?;
    Ok((stored, index))
}

pub(crate) async fn oidc_trusts(
    pool: &SqlitePool,
    publisher: PublisherId,
) -> Result<Vec<OidcTrust>> {
    let rows = sqlx::query(
        "SELECT id, publisher_id, app, issuer, audience, rules, created_by, created_at FROM oidc_trusts \
         WHERE publisher_id = ?1 AND removed_at IS NULL ORDER BY id",
    )
    .bind(publisher)
    .fetch_all(pool)
    .await
    .map_err(StoreError::database("listing OIDC trusts"))?;
    rows.iter().map(oidc_trust_from).collect()
}

pub(crate) async fn register_key(
    pool: &SqlitePool,
    publisher: PublisherId,
    key_id: &str,
    public_key: &str,
    at: u64,
    entry: Vec<u8>,
) -> Result<u64> {
    let operation = "registering a key";
    let mut transaction = begin(pool, operation).await?;
    let index = append_one(&mut transaction, entry).await?;
    sqlx::query(
        "INSERT INTO publisher_keys (key_id, publisher_id, public_key, created_at, log_index) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(key_id)
    .bind(publisher)
    .bind(public_key)
    .bind(to_db("time", at)?)
    .bind(to_db("log index", index)?)
    .execute(&mut *transaction)
    .await
    .map_err(conflict(
        operation,
        format!(
            "the key {key_id} was registered before; key ids are never reused, generate a new key"
        ),
    ))?;
    commit(transaction, operation).await?;
    Ok(index)
}

pub(crate) async fn publisher_keys(
    pool: &SqlitePool,
    publisher: PublisherId,
) -> Result<Vec<PublisherKey>> {
    let rows = sqlx::query(
        "SELECT key_id, publisher_id, public_key, created_at, log_index, revoked_at, revoked_log_index \
         FROM publisher_keys WHERE publisher_id = ?1 ORDER BY created_at, key_id",
    )
    .bind(publisher)
    .fetch_all(pool)
    .await
    .map_err(StoreError::database("listing keys"))?;
    rows.iter()
        .map(|row| {
            Ok(PublisherKey {
                key_id: row.get("key_id"),
                publisher_id: row.get("publisher_id"),
                public_key: row.get("public_key"),
                created_at: time("key time", row.get("created_at"))?,
                log_index: from_db("log index", row.get("log_index"))?,
                revoked_at: optional_time("key revocation time", row.get("revoked_at"))?,
                revoked_log_index: optional_time("log index", row.get("revoked_log_index"))?,
            })
        })
        .collect()
}

pub(crate) async fn revoke_key(
    pool: &SqlitePool,
    publisher: PublisherId,
    key_id: &str,
    at: u64,
    entry: Vec<u8>,
) -> Result<Option<u64>> {
    let operation = "revoking a key";
    let mut transaction = begin(pool, operation).await?;
    let live: Option<String> = sqlx::query_scalar(
        "SELECT key_id FROM publisher_keys WHERE publisher_id = ?1 AND key_id = ?2 AND revoked_at IS NULL",
    )
    .bind(publisher)
    .bind(key_id)
    .fetch_optional(&mut *transaction)
    .await
    .map_err(StoreError::database(operation))?;
    if live.is_none() {
        return Ok(None);
    }
    let index = append_one(&mut transaction, entry).await?;
    sqlx::query(
        "UPDATE publisher_keys SET revoked_at = ?3, revoked_log_index = ?4 WHERE publisher_id = ?1 AND key_id = ?2",
    )
    .bind(publisher)
    .bind(key_id)
    .bind(to_db("time", at)?)
    .bind(to_db("log index", index)?)
    .execute(&mut *transaction)
    .await
    .map_err(StoreError::database(operation))?;
    commit(transaction, operation).await?;
    Ok(Some(index))
}

const APP_COLUMNS: &str = "id, publisher_id, name, repository, created_at, log_index";

fn app_from(row: &SqliteRow) -> Result<App> {
    Ok(App {
        id: row.get("id"),
        publisher_id: row.get("publisher_id"),
        name: row.get("name"),
        repository: row.get("repository"),
        created_at: time("app time", row.get("created_at"))?,
        log_index: from_db("log index", row.get("log_index"))?,
    })
}

pub(crate) async fn register_app(pool: &SqlitePool, app: NewApp, entry: Vec<u8>) -> Result<App> {
    let operation = "registering an app";
    let mut transaction = begin(pool, operation).await?;
    let existing: Option<String> =
        sqlx::query_scalar("SELECT name FROM apps WHERE name = ?1 OR canonical = ?2")
            .bind(&app.name)
            .bind(&app.canonical)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(StoreError::database(operation))?;
    if let Some(existing) = existing {
        let what = if existing == app.name {
            format!("the app `{}` is already registered", app.name)
        } else {
            format!(
                "`{}` looks the same as the existing app `{existing}` once case, separators and look-alike characters are folded; choose a clearly different name",
                app.name
            )
        };
        return Err(StoreError::Conflict { what });
    }
    let index = append_one(&mut transaction, entry).await?;
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO apps (publisher_id, name, canonical, repository, created_at, log_index) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {APP_COLUMNS}"
    )))
    .bind(app.publisher_id)
    .bind(&app.name)
    .bind(&app.canonical)
    .bind(&app.repository)
    .bind(to_db("time", app.created_at)?)
    .bind(to_db("log index", index)?)
    .fetch_one(&mut *transaction)
    .await
    .map_err(conflict(
        operation,
        format!("the app `{}` is already registered", app.name),
    ))?;
    let stored = app_from(&row)?;
    commit(transaction, operation).await?;
    Ok(stored)
}

pub(crate) async fn app_by_name(pool: &SqlitePool, name: &str) -> Result<Option<App>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {APP_COLUMNS} FROM apps WHERE name = ?1"
    )))
    .bind(name)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::database("reading an app"))?;
    row.as_ref().map(app_from).transpose()
}

pub(crate) async fn app_names(pool: &SqlitePool) -> Result<Vec<String>> {
    sqlx::query_scalar("SELECT name FROM apps ORDER BY name")
        .fetch_all(pool)
        .await
        .map_err(StoreError::database("listing apps"))
}

pub(crate) async fn apps_of(pool: &SqlitePool, publisher: PublisherId) -> Result<Vec<App>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {APP_COLUMNS} FROM apps WHERE publisher_id = ?1 ORDER BY name"
    )))
    .bind(publisher)
    .fetch_all(pool)
    .await
    .map_err(StoreError::database("listing apps"))?;
    rows.iter().map(app_from).collect()
}
