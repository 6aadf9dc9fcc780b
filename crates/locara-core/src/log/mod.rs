//! Transparency-log math: RFC 9162 Merkle hashing and proofs, C2SP signed notes, checkpoints and tiles.
//!
//! Everything here is pure and deterministic. The registry's sequencer and the client call the same
//! functions, so the proof a client checks is the proof the registry generated.
//!
//! - [`hash`]: leaf and interior node hashes (RFC 9162 §2.1.1) and the [`Hash`](struct@Hash) newtype.
//! - [`store`]: the stored-hash index (as in Go's `sumdb/tlog`), the [`HashStore`] trait a registry
//!   implements over its database or tiles, and [`MemoryHashStore`].
//! - [`proof`]: inclusion and consistency proofs, generated from a store in O(log n) reads and verified
//!   with the RFC 9162 §2.1.3.2 / §2.1.4.2 algorithms.
//! - [`note`]: C2SP signed notes with ed25519 keys.
//! - [`checkpoint`]: C2SP tlog-checkpoint bodies, signed as notes.
//! - [`tile`]: C2SP tlog-tiles coordinates, paths and hash lookup.
//! - [`bundle`]: C2SP tlog-tiles entry bundles (length-prefixed entries behind a level-0 tile).

pub mod bundle;
pub mod checkpoint;
pub mod hash;
pub mod note;
pub mod proof;
pub mod store;
pub mod tile;

pub use bundle::{BundleError, MAX_ENTRY_SIZE, decode_entry_bundle, encode_entry_bundle};
pub use checkpoint::{Checkpoint, CheckpointError, verify_checkpoint};
pub use hash::{EMPTY_ROOT, Hash, HashParseError, leaf_hash, node_hash, root_from_leaf_hashes};
pub use note::{Note, NoteError, NoteSignature, SignerKey, VerifierKey};
pub use proof::{
    ProofError, ProveError, consistency_proof, inclusion_proof, verify_consistency,
    verify_inclusion,
};
pub use store::{
    HashStore, MemoryHashStore, MemoryStoreError, StoreReadError, stored_hash_index,
    stored_hashes_for_record, tree_root,
};
pub use tile::{Tile, TileError, TileKind, new_tiles, tile_for_stored_hash, tiles_for_tree};
