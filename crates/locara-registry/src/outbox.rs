//! Delivering release notifications: each row of the outbox (written in the same transaction as the
//! release it tells of) is POSTed as JSON to the owner's webhook, retried with exponential backoff.

use std::sync::Arc;
use std::time::Duration;

use locara_core::time::Timestamp;

use crate::http::AppState;

/// Attempts before a notification is given up (its row and last error stay).
pub const MAX_ATTEMPTS: u32 = 10;
/// The wait before the first retry; it doubles with each attempt, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(30);
/// The longest wait between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// When attempt `attempts + 1` failed at `now`, when to try again (`None`: give up).
pub fn next_attempt(attempts: u32, now: u64) -> Option<u64> {
    if attempts + 1 >= MAX_ATTEMPTS {
        return None;
    }
    let backoff = FIRST_BACKOFF
        .as_secs()
        .saturating_mul(1u64 << attempts.min(20))
        .min(MAX_BACKOFF.as_secs());
    Some(now + backoff)
}

/// Delivers due notifications until the process ends.
pub async fn run(state: Arc<AppState>) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("locara-registry/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot make the webhook client; notifications stay in the outbox");
            return;
        }
    };
    loop {
        let now = Timestamp::now().unix_seconds();
        match state.metadata.due_notifications(now, 20).await {
            Ok(due) if !due.is_empty() => {
                for notification in due {
                    let result = client
                        .post(&notification.url)
                        .header("content-type", "application/json")
                        .header("x-locara-event", "release")
                        .body(notification.body.clone())
                        .send()
                        .await;
                    let outcome = match result {
                        Ok(response) if response.status().is_success() => Ok(()),
                        Ok(response) => Err(format!("the webhook answered {}", response.status())),
                        Err(error) => Err(format!("the webhook could not be reached: {error}")),
                    };
                    let now = Timestamp::now().unix_seconds();
                    let recorded = outcome.map_err(|error| {
                        tracing::warn!(id = notification.id, attempts = notification.attempts + 1, %error, "webhook delivery failed");
                        (error, next_attempt(notification.attempts, now))
                    });
                    if let Err(error) = state
                        .metadata
                        .record_delivery(notification.id, now, recorded)
                        .await
                    {
                        tracing::error!(%error, "recording a delivery failed");
                    }
                }
                continue;
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "reading the outbox failed"),
        }
        tokio::select! {
            () = state.outbox_waiting.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_limit_and_gives_up() {
        assert_eq!(next_attempt(0, 100), Some(130));
        assert_eq!(next_attempt(1, 100), Some(160));
        assert_eq!(next_attempt(8, 0), Some(MAX_BACKOFF.as_secs().min(30 << 8)));
        assert_eq!(next_attempt(MAX_ATTEMPTS - 1, 0), None);
    }
}
