//! The registry's side of the transparency log: signing checkpoints over what the store holds.
//!
//! The database is the source of truth; a checkpoint is derived from it (size and root) and signed with the
//! log key as a C2SP signed note. A start signs a checkpoint for the current size if the latest saved one is
//! older, so a log that crashed between an append and its checkpoint is covered again before serving.

use locara_core::log::{Checkpoint, SignerKey};
use locara_store::{MetadataStore, StoreError};

/// Why a checkpoint could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointingError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The checkpoint could not be signed.
    #[error("cannot sign a checkpoint: {0}")]
    Sign(String),
}

/// Signs and saves a checkpoint for the log's current size unless the latest saved one already names it;
/// returns the latest checkpoint text.
pub async fn checkpoint_current_size(
    store: &dyn MetadataStore,
    origin: &str,
    signer: &SignerKey,
) -> Result<String, CheckpointingError> {
    let size = store.log_size().await?;
    if let Some(latest) = store.latest_checkpoint().await?
        && latest.size == size
    {
        return Ok(latest.text);
    }
    let checkpoint = Checkpoint {
        origin: origin.to_owned(),
        size,
        root: store.tree_root(size).await?,
        extensions: Vec::new(),
    };
    let text = checkpoint
        .sign(signer)
        .map_err(|error| CheckpointingError::Sign(error.to_string()))?;
    store.save_checkpoint(size, &text).await?;
    Ok(text)
}
