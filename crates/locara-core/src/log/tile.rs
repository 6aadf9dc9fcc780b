//! C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>): tile coordinates, paths, and hashes read from tile bytes.
//!
//! Tiles have height [`TILE_HEIGHT`] = 8: a full tile holds 256 hashes. The tile at level `L`, index `N` holds
//! the stored hashes at tree level `8·L` with indexes `[256·N, 256·N + W)`; a partial tile has width `W < 256`.
//! Paths are `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`, with `N` written in zero-padded groups of
//! three digits, every group but the last prefixed with `x` (`1234067` → `x001/x234/067`). Parsing accepts only
//! the one canonical spelling of each path.

use std::fmt;
use std::ops::Range;

use super::hash::{Hash, node_hash};
use super::store::{
    HashStore, StoreReadError, read_exact, split_stored_hash_index, stored_hash_index,
};

/// Tree levels per tile.
pub const TILE_HEIGHT: u8 = 8;

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u16 = 1 << TILE_HEIGHT;

/// The highest tile level a path may name.
pub const MAX_TILE_LEVEL: u8 = 63;

/// A tile of hashes (or, with [`TileKind::Entries`], a bundle of entries) in the C2SP layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tile {
    /// Hash tile or entry bundle.
    pub kind: TileKind,
    /// The tile index `N` within its level.
    pub index: u64,
    /// How many hashes or entries the tile holds: 1 to 256.
    pub width: u16,
}

/// What a tile holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TileKind {
    /// Hashes at tree level `8 · level`.
    Hashes {
        /// The tile level `L`.
        level: u8,
    },
    /// The log entries themselves (the data of the level-0 leaves).
    Entries,
}

/// Why a tile path or tile data was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// The path is not a canonical tile path.
    #[error("not a canonical tile path ({reason}): {found:?}")]
    Path {
        /// What is wrong.
        reason: &'static str,
        /// The path.
        found: String,
    },
    /// The tile data has the wrong length for its width.
    #[error("tile data is {found} bytes, expected {expected}")]
    DataLength {
        /// `32 · width`.
        expected: usize,
        /// The data's length.
        found: usize,
    },
    /// The stored hash is not in this tile.
    #[error("stored hash {index} is in tile {expected}, not in tile {found}")]
    NotInTile {
        /// The stored-hash index.
        index: u64,
        /// The tile that holds it (at the width it needs).
        expected: String,
        /// The tile given.
        found: String,
    },
    /// The tile is an entry bundle, which holds no hashes.
    #[error("tile {found} is an entry bundle, not a hash tile")]
    NotAHashTile {
        /// The tile given.
        found: String,
    },
}

impl Tile {
    /// The hash tile at `level`, `index`, `width`.
    pub const fn hashes(level: u8, index: u64, width: u16) -> Self {
        Self {
            kind: TileKind::Hashes { level },
            index,
            width,
        }
    }

    /// Whether the tile is full (256 wide).
    pub const fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The entry bundle holding the entries of this level-0 tile's leaves.
    pub const fn entries(&self) -> Self {
        Self {
            kind: TileKind::Entries,
            index: self.index,
            width: self.width,
        }
    }

    /// The tile's URL path, e.g. `tile/0/x001/x234/067.p/8` or `tile/entries/000`.
    pub fn path(&self) -> String {
        self.to_string()
    }

    /// Parses a canonical tile path.
    pub fn parse_path(path: &str) -> Result<Self, TileError> {
        let error = |reason| TileError::Path {
            reason,
            found: path.chars().take(200).collect(),
        };
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| error("does not start with tile/"))?;
        let (level, rest) = rest.split_once('/').ok_or_else(|| error("no level"))?;
        let kind = if level == "entries" {
            TileKind::Entries
        } else {
            let level = parse_decimal(level, u64::from(MAX_TILE_LEVEL))
                .ok_or_else(|| error("level is not a decimal from 0 to 63"))?;
            TileKind::Hashes { level: level as u8 }
        };
        let (index, width) = match rest.split_once(".p/") {
            Some((index, width)) => {
                let width = parse_decimal(width, u64::from(TILE_WIDTH) - 1)
                    .filter(|&width| width > 0)
                    .ok_or_else(|| error("partial width is not a decimal from 1 to 255"))?;
                (index, width as u16)
            }
            None => (rest, TILE_WIDTH),
        };
        let index =
            parse_index(index).ok_or_else(|| error("index is not x-prefixed 3-digit groups"))?;
        let tile = Self { kind, index, width };
        if tile.path() != path {
            return Err(error("not the canonical spelling"));
        }
        Ok(tile)
    }

    /// The hash stored in this tile at stored-hash index `index`, computed from the tile's bytes `data`.
    ///
    /// Hashes at tree levels between tile levels are computed from the tile's hashes; the tile must be wide
    /// enough to cover them.
    pub fn hash_at(&self, data: &[u8], index: u64) -> Result<Hash, TileError> {
        let TileKind::Hashes { .. } = self.kind else {
            return Err(TileError::NotAHashTile { found: self.path() });
        };
        let expected = usize::from(self.width) * 32;
        if data.len() != expected {
            return Err(TileError::DataLength {
                expected,
                found: data.len(),
            });
        }
        let (needed, range) = tile_for_stored_hash(index);
        if needed.kind != self.kind || needed.index != self.index || needed.width > self.width {
            return Err(TileError::NotInTile {
                index,
                expected: needed.path(),
                found: self.path(),
            });
        }
        Ok(hash_of_tile_range(&data[range]))
    }
}

impl fmt::Display for Tile {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TileKind::Hashes { level } => write!(formatter, "tile/{level}/")?,
            TileKind::Entries => formatter.write_str("tile/entries/")?,
        }
        let digits = self.index.to_string();
        let padded = format!("{}{digits}", "0".repeat((3 - digits.len() % 3) % 3));
        let groups = padded.len() / 3;
        for group in 0..groups {
            if group + 1 < groups {
                formatter.write_str("x")?;
            }
            formatter.write_str(&padded[group * 3..group * 3 + 3])?;
            if group + 1 < groups {
                formatter.write_str("/")?;
            }
        }
        if !self.is_full() {
            write!(formatter, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

fn parse_decimal(text: &str, max: u64) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    if text.len() > 1 && text.starts_with('0') {
        return None;
    }
    text.parse::<u64>().ok().filter(|&value| value <= max)
}

fn parse_index(text: &str) -> Option<u64> {
    let groups: Vec<&str> = text.split('/').collect();
    let mut index: u64 = 0;
    for (position, group) in groups.iter().enumerate() {
        let digits = if position + 1 < groups.len() {
            group.strip_prefix('x')?
        } else {
            group
        };
        if digits.len() != 3 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        index = index
            .checked_mul(1000)?
            .checked_add(digits.parse::<u64>().ok()?)?;
    }
    Some(index)
}

/// The RFC 9162 hash of a run of hashes whose length is a power of two.
fn hash_of_tile_range(data: &[u8]) -> Hash {
    let count = data.len() / 32;
    if count == 1 {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(data);
        return Hash(bytes);
    }
    let half = count / 2 * 32;
    node_hash(
        &hash_of_tile_range(&data[..half]),
        &hash_of_tile_range(&data[half..]),
    )
}

/// The smallest tile that holds (or lets one compute) the stored hash at `index`, and the byte range of that
/// tile's data from which the hash is computed.
pub fn tile_for_stored_hash(index: u64) -> (Tile, Range<usize>) {
    let (level, n) = split_stored_hash_index(index);
    let tile_level = level / TILE_HEIGHT;
    let level_in_tile = level - tile_level * TILE_HEIGHT;
    let tile_index = (n << level_in_tile) >> TILE_HEIGHT;
    let n_in_tile = n - ((tile_index << TILE_HEIGHT) >> level_in_tile);
    let start = (n_in_tile << level_in_tile) as usize;
    let end = ((n_in_tile + 1) << level_in_tile) as usize;
    (
        Tile::hashes(tile_level, tile_index, end as u16),
        start * 32..end * 32,
    )
}

/// The tiles that change when a tree grows from `old_size` to `new_size` (every tile of the tree when
/// `old_size` is 0), lowest level first.
pub fn new_tiles(old_size: u64, new_size: u64) -> Vec<Tile> {
    let mut tiles = Vec::new();
    let mut level: u8 = 0;
    while u32::from(level) * u32::from(TILE_HEIGHT) < 64
        && new_size >> (u32::from(level) * u32::from(TILE_HEIGHT)) > 0
    {
        let shift = u32::from(level) * u32::from(TILE_HEIGHT);
        let (old_count, new_count) = (old_size >> shift, new_size >> shift);
        if old_count != new_count {
            for index in (old_count >> TILE_HEIGHT)..(new_count >> TILE_HEIGHT) {
                tiles.push(Tile::hashes(level, index, TILE_WIDTH));
            }
            let index = new_count >> TILE_HEIGHT;
            let width = (new_count - (index << TILE_HEIGHT)) as u16;
            if width > 0 {
                tiles.push(Tile::hashes(level, index, width));
            }
        }
        level += 1;
    }
    tiles
}

/// Every tile of a tree of `size` entries.
pub fn tiles_for_tree(size: u64) -> Vec<Tile> {
    new_tiles(0, size)
}

/// The bytes of hash tile `tile`, read from `store` (what a registry writes at [`Tile::path`]).
pub fn read_tile_data<S: HashStore + ?Sized>(
    store: &S,
    tile: &Tile,
) -> Result<Vec<u8>, StoreReadError<S::Error>> {
    let TileKind::Hashes { level } = tile.kind else {
        return Ok(Vec::new());
    };
    let tree_level = level * TILE_HEIGHT;
    let first = tile.index << TILE_HEIGHT;
    let indexes: Vec<u64> = (0..u64::from(tile.width))
        .map(|offset| stored_hash_index(tree_level, first + offset))
        .collect();
    let hashes = read_exact(store, &indexes)?;
    Ok(hashes.iter().flat_map(|hash| hash.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::hash::leaf_hash;
    use crate::log::store::{MemoryHashStore, stored_hash_count};

    #[test]
    fn paths_from_the_c2sp_spec_round_trip() {
        let examples = [
            ("tile/0/x001/x234/067.p/8", Tile::hashes(0, 1_234_067, 8)),
            ("tile/1/000", Tile::hashes(1, 0, 256)),
            ("tile/0/x001/000", Tile::hashes(0, 1000, 256)),
            ("tile/3/x123/x456/789", Tile::hashes(3, 123_456_789, 256)),
            ("tile/2/005.p/1", Tile::hashes(2, 5, 1)),
            (
                "tile/entries/x001/x234/067.p/8",
                Tile::hashes(0, 1_234_067, 8).entries(),
            ),
            ("tile/entries/000", Tile::hashes(0, 0, 256).entries()),
        ];
        for (path, tile) in examples {
            assert_eq!(tile.path(), path);
            assert_eq!(Tile::parse_path(path), Ok(tile), "{path}");
        }
    }

    #[test]
    fn refuses_non_canonical_tile_paths() {
        for path in [
            "tile/0/1234067",
            "tile/0/x1/x234/067",
            "tile/0/001/234",
            "tile/0/x000/001",
            "tile/0/001.p/256",
            "tile/0/001.p/0",
            "tile/0/001.p/08",
            "tile/00/001",
            "tile/64/001",
            "tile/0/001/",
            "tile//001",
            "tiles/0/001",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/entries/01",
            "tile/0/abc",
        ] {
            assert!(Tile::parse_path(path).is_err(), "{path}");
        }
    }

    #[test]
    fn new_tiles_lists_full_and_partial_tiles() {
        assert_eq!(tiles_for_tree(0), vec![]);
        assert_eq!(tiles_for_tree(1), vec![Tile::hashes(0, 0, 1)]);
        assert_eq!(
            tiles_for_tree(256 * 3 + 5),
            vec![
                Tile::hashes(0, 0, 256),
                Tile::hashes(0, 1, 256),
                Tile::hashes(0, 2, 256),
                Tile::hashes(0, 3, 5),
                Tile::hashes(1, 0, 3),
            ]
        );
        assert_eq!(
            new_tiles(256 * 3 + 5, 256 * 3 + 9),
            vec![Tile::hashes(0, 3, 9)]
        );
    }

    #[test]
    fn every_stored_hash_is_read_back_from_its_tile() {
        let size = 256 * 2 + 300 - 256 + 17;
        let store =
            MemoryHashStore::from_leaf_hashes((0..size).map(|n: u64| leaf_hash(&n.to_be_bytes())));
        let tiles = tiles_for_tree(size);
        for index in 0..stored_hash_count(size) {
            let (needed, _) = tile_for_stored_hash(index);
            let tile = tiles
                .iter()
                .find(|tile| tile.kind == needed.kind && tile.index == needed.index)
                .expect("a tile of the tree holds every stored hash");
            let data = read_tile_data(&store, tile).unwrap();
            assert_eq!(
                tile.hash_at(&data, index),
                Ok(store.stored_hashes()[index as usize]),
                "stored hash {index}"
            );
        }
    }

    #[test]
    fn refuses_wrong_data_length_and_foreign_index() {
        let tile = Tile::hashes(0, 0, 2);
        assert_eq!(
            tile.hash_at(&[0; 32], 0),
            Err(TileError::DataLength {
                expected: 64,
                found: 32
            })
        );
        assert!(matches!(
            tile.hash_at(&[0; 64], 3),
            Err(TileError::NotInTile { .. })
        ));
    }
}
