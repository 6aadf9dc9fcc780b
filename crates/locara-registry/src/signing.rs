//! The signing lease: the server, its build workers and the operator's commands share one data directory,
//! and each of them may sign the documents clients read together — the checkpoint, the revocation list,
//! `timestamp.json` (which names the other two by digest) and the app indexes.
//!
//! Invariant: every read-sign-store of those documents runs while holding the store's `signing` lease, so
//! two processes never interleave: no version number is used twice, and a `timestamp.json` is never
//! stored naming a revocation list or checkpoint older than the ones stored before it. The lease runs out
//! after [`LEASE_SECONDS`], so a holder that was killed delays signing by at most that long; signing
//! takes milliseconds, far less than the lease.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use locara_core::time::Timestamp;
use locara_store::{MetadataStore, StoreError};

/// The lease's name in the store.
pub const SIGNING_LEASE: &str = "signing";
/// How long one acquisition holds the lease unless given up earlier.
pub const LEASE_SECONDS: u64 = 10;
/// How long to wait for another holder before giving up: longer than a lease, so a killed holder's
/// lease runs out first.
const WAIT: Duration = Duration::from_secs(LEASE_SECONDS + 5);
/// How often a waiter asks again.
const POLL: Duration = Duration::from_millis(20);

/// Why the signing lease could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another process kept the lease for longer than a lease lasts.
    #[error(
        "another process held the signing lease for {waited_seconds} s; is a clock wrong or a signer stuck?"
    )]
    Busy {
        /// How long this process waited.
        waited_seconds: u64,
    },
}

/// Runs `work` while holding the signing lease, then gives it up. Never nest: a holder waiting for itself
/// waits until its own lease runs out.
pub async fn with_signing_lease<T>(
    metadata: &dyn MetadataStore,
    work: impl Future<Output = T>,
) -> Result<T, LeaseError> {
    static ACQUISITIONS: AtomicU64 = AtomicU64::new(0);
    let mut random = [0u8; 8];
    // Without randomness the process id and the acquisition's number still tell holders apart.
    let _ = getrandom::fill(&mut random);
    let holder = format!(
        "{}-{}-{}",
        std::process::id(),
        ACQUISITIONS.fetch_add(1, Ordering::Relaxed),
        hex::encode(random)
    );
    let started = Instant::now();
    loop {
        let now = Timestamp::now().unix_seconds();
        if metadata
            .acquire_lease(SIGNING_LEASE, &holder, now, now + LEASE_SECONDS)
            .await?
        {
            break;
        }
        if started.elapsed() >= WAIT {
            return Err(LeaseError::Busy {
                waited_seconds: started.elapsed().as_secs(),
            });
        }
        tokio::time::sleep(POLL).await;
    }
    let value = work.await;
    if let Err(error) = metadata.release_lease(SIGNING_LEASE, &holder).await {
        tracing::warn!(%error, "giving up the signing lease failed; it runs out by itself");
    }
    Ok(value)
}
