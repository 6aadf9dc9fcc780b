//! The behaviour every store implementation must have, written once over the traits (STYLE rule 5).
//!
//! An implementation's test file provides a [`Fixture`] and instantiates every test with
//! [`store_suite!`]; adding a test here adds it for every implementation. A PostgreSQL + S3 instantiation is
//! one more file, `tests/postgres_and_s3.rs`, whose fixture reads the server URL from `LOCARA_TEST_POSTGRES`
//! and gives each test a fresh schema and bucket prefix.

pub mod blobs;
pub mod builds;
pub mod metadata;
pub mod records;

use std::future::Future;
use std::sync::Arc;

use locara_store::{BlobStore, MetadataStore};

/// A fresh, empty set of stores of one implementation.
pub trait Fixture: Send + Sync {
    /// A new handle to this fixture's metadata store (for SQLite, a new connection pool to the same file).
    fn open_metadata(&self) -> impl Future<Output = Arc<dyn MetadataStore>> + Send;

    /// A new handle to this fixture's blob store.
    fn open_blobs(&self) -> impl Future<Output = Arc<dyn BlobStore>> + Send;

    /// Temporary or partial objects left in the blob store (files in `tmp/`, unfinished uploads).
    fn blob_leftovers(&self) -> impl Future<Output = Vec<String>> + Send;
}

/// Instantiates every suite test for one implementation; `$fresh` is an expression whose value is a future
/// of a fresh [`Fixture`].
macro_rules! store_suite {
    ($fresh:expr) => {
        $crate::suite::store_suite!(@each $fresh;
            metadata: [
                empty_log_has_size_zero_and_the_empty_root,
                appended_batches_match_the_memory_store_for_every_size_up_to_300,
                proofs_match_the_memory_store_and_verify,
                hash_tiles_match_the_memory_store,
                entries_read_back_exactly_and_ranges_past_the_end_are_refused,
                empty_batch_changes_nothing,
                checkpoint_sizes_never_go_backwards,
                roots_and_proofs_past_the_log_are_refused,
                settings_round_trip_and_overwrite,
                parallel_appenders_never_share_an_index,
                log_survives_reopening,
            ];
            builds: [
                a_killed_workers_job_is_taken_over_and_finished_once,
                a_job_whose_workers_keep_dying_fails_and_frees_the_version,
                notifications_wait_in_the_outbox_until_delivered,
                a_state_change_keeps_the_release_sets_its_message_and_logs_once,
                listings_find_apps_by_name_or_latest_installable_manifest,
                a_revocation_is_final_recorded_with_its_entry_and_listed_forever,
                a_lease_has_one_holder_until_it_is_given_up_or_runs_out,
            ];
            records: [
                accounts_come_with_a_personal_publisher_and_a_log_entry,
                a_totp_step_is_accepted_once_even_by_racing_requests,
                tokens_are_found_by_hash_listed_and_revoked_once,
                a_publisher_always_keeps_an_owner,
                keys_are_never_reused_and_revocation_is_logged_once,
                apps_are_unique_by_name_and_canonical_form,
                account_events_are_kept_per_account_bounded_and_listed_newest_first,
                only_verified_publishers_are_listed_as_verified,
            ];
            blobs: [
                put_then_get_returns_the_same_bytes,
                get_range_returns_the_slice_and_refuses_ranges_past_the_end,
                wrong_expected_digest_is_refused_and_leaves_nothing_behind,
                failing_reader_leaves_nothing_behind,
                putting_the_same_blob_twice_is_a_no_op,
                missing_blobs_and_files_are_none,
                traversal_paths_never_reach_put_immutable,
                immutable_file_is_never_overwritten_with_different_bytes,
                mutable_file_is_replaced_whole,
                large_blob_streams_in_chunks,
            ]
        );
    };
    (@each $fresh:expr; $($module:ident: [$($test:ident),* $(,)?]);*) => {
        $($(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let fixture = $fresh.await;
                $crate::suite::$module::$test(&fixture).await;
            }
        )*)*
    };
}
pub(crate) use store_suite;

/// SplitMix64: a small deterministic generator, so a failing run can be repeated from its seed.
pub struct Random(u64);

impl Random {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}
