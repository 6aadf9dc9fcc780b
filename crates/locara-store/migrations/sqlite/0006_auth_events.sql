-- Security-relevant sign-in and second-factor failures, shown to the account's owner and counted for the
-- failure budgets (docs/decisions/0067, 0068). They replace `auth_failures`, which counted every failure
-- against the whole account, so an attacker's bad codes locked the owner out too. Each row names the
-- client address and the token or session used (NULL for a password sign-in); never a secret or a code.
-- Bounded: the store keeps an account's newest 1000 rows and none older than 90 days.
DROP TABLE auth_failures;

CREATE TABLE auth_events (
    id             INTEGER PRIMARY KEY,
    account_id     INTEGER NOT NULL REFERENCES accounts (id),
    at             INTEGER NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN
                       ('password-failed', 'code-failed', 'code-replayed', 'recovery-code-failed', 'locked')),
    client_address TEXT NOT NULL,
    token_id       INTEGER REFERENCES api_tokens (id)
) STRICT;
CREATE INDEX auth_events_by_account ON auth_events (account_id, at);
