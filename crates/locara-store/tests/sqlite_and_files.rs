//! The store suite against the embedded default: [`SqliteStore`] and [`FsBlobStore`] in a temporary
//! directory.

mod suite;

use std::path::PathBuf;
use std::sync::Arc;

use locara_store::{BlobStore, FsBlobStore, MetadataStore, SqliteStore};
use tempfile::TempDir;

/// A temporary directory holding `registry.db` and `blobs/`.
struct SqliteAndFiles {
    dir: TempDir,
}

impl SqliteAndFiles {
    async fn fresh() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn blob_dir(&self) -> PathBuf {
        self.dir.path().join("blobs")
    }
}

impl suite::Fixture for SqliteAndFiles {
    async fn open_metadata(&self) -> Arc<dyn MetadataStore> {
        Arc::new(
            SqliteStore::open(self.dir.path().join("registry.db"))
                .await
                .unwrap(),
        )
    }

    async fn open_blobs(&self) -> Arc<dyn BlobStore> {
        Arc::new(FsBlobStore::open(self.blob_dir()).await.unwrap())
    }

    async fn blob_leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.blob_dir().join("tmp"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

suite::store_suite!(SqliteAndFiles::fresh());
