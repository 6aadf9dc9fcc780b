//! C2SP tlog-tiles entry bundles (<https://c2sp.org/tlog-tiles>): the log entries behind a level-0 tile.
//!
//! A bundle is, for each entry in log order, a big-endian `u16` length followed by that many bytes. So an
//! entry is at most [`MAX_ENTRY_SIZE`] (65535) bytes, and a bundle holds 1 to 256 entries: 256 for a full
//! bundle, the tile's width `W` for `tile/entries/<N>.p/<W>`.
//!
//! Invariants: [`encode_entry_bundle`] and [`decode_entry_bundle`] are inverse. Decoding is strict: a bundle
//! that is cut short, holds fewer or more entries than its width, or has bytes after its last entry is
//! refused, so every list of entries has exactly one encoding and every accepted bundle re-encodes to
//! the same bytes.

use super::tile::TILE_WIDTH;

/// The largest entry an entry bundle can hold, in bytes: its length must fit the `u16` prefix.
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// Why entries could not be bundled, or a bundle was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// An entry is longer than a `u16` length prefix can say.
    #[error(
        "entry {position} of the bundle is {size} bytes; entry bundles hold entries of at most {MAX_ENTRY_SIZE} bytes"
    )]
    EntryTooLarge {
        /// The entry's position in the bundle, from 0.
        position: usize,
        /// The entry's length in bytes.
        size: usize,
    },
    /// The number of entries (or the width asked for) is not 1 to 256.
    #[error("an entry bundle holds 1 to {TILE_WIDTH} entries, found {found}")]
    Width {
        /// The number of entries, or the width given.
        found: usize,
    },
    /// The bundle ends inside an entry's length prefix or its bytes.
    #[error(
        "entry bundle is truncated: entry {position} at byte {offset} needs {needed} more bytes, {available} remain"
    )]
    Truncated {
        /// The entry being read, from 0.
        position: usize,
        /// Where the unfinished part (length prefix or entry bytes) starts.
        offset: usize,
        /// How many bytes that part needs.
        needed: usize,
        /// How many bytes the bundle has left.
        available: usize,
    },
    /// The bundle ends cleanly, but before the tile's width worth of entries.
    #[error("entry bundle holds {found} entries, expected {expected}")]
    TooFewEntries {
        /// The tile's width.
        expected: u16,
        /// The entries the bundle holds.
        found: usize,
    },
    /// Bytes follow the last entry the tile's width allows.
    #[error("entry bundle has {extra} bytes after its {expected} entries")]
    TrailingBytes {
        /// The tile's width.
        expected: u16,
        /// How many bytes follow.
        extra: usize,
    },
}

/// Encodes `entries` (1 to 256 of them, in log order) as an entry bundle.
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, BundleError> {
    if entries.is_empty() || entries.len() > usize::from(TILE_WIDTH) {
        return Err(BundleError::Width {
            found: entries.len(),
        });
    }
    let mut bundle = Vec::with_capacity(
        entries
            .iter()
            .map(|entry| 2 + entry.as_ref().len())
            .sum::<usize>(),
    );
    for (position, entry) in entries.iter().enumerate() {
        let entry = entry.as_ref();
        let length = u16::try_from(entry.len()).map_err(|_| BundleError::EntryTooLarge {
            position,
            size: entry.len(),
        })?;
        bundle.extend_from_slice(&length.to_be_bytes());
        bundle.extend_from_slice(entry);
    }
    Ok(bundle)
}

/// Decodes an entry bundle that must hold exactly `width` (1 to 256) entries; the entries borrow from
/// `bundle`.
pub fn decode_entry_bundle(bundle: &[u8], width: u16) -> Result<Vec<&[u8]>, BundleError> {
    if width == 0 || width > TILE_WIDTH {
        return Err(BundleError::Width {
            found: usize::from(width),
        });
    }
    let mut entries = Vec::with_capacity(usize::from(width));
    let mut offset = 0;
    while entries.len() < usize::from(width) {
        let position = entries.len();
        let rest = &bundle[offset..];
        if rest.is_empty() {
            return Err(BundleError::TooFewEntries {
                expected: width,
                found: position,
            });
        }
        let truncated = |offset: usize, needed: usize, available: usize| BundleError::Truncated {
            position,
            offset,
            needed,
            available,
        };
        let [high, low, body @ ..] = rest else {
            return Err(truncated(offset, 2, rest.len()));
        };
        let length = usize::from(u16::from_be_bytes([*high, *low]));
        let entry = body
            .get(..length)
            .ok_or_else(|| truncated(offset + 2, length, body.len()))?;
        entries.push(entry);
        offset += 2 + length;
    }
    if offset != bundle.len() {
        return Err(BundleError::TrailingBytes {
            expected: width,
            extra: bundle.len() - offset,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_length_prefixed_entries_in_order() {
        let bundle = encode_entry_bundle(&[&b"ab"[..], b"", b"xyz"]).unwrap();
        assert_eq!(bundle, b"\x00\x02ab\x00\x00\x00\x03xyz");
        assert_eq!(
            decode_entry_bundle(&bundle, 3).unwrap(),
            vec![&b"ab"[..], b"", b"xyz"]
        );
    }

    #[test]
    fn an_entry_of_exactly_max_size_round_trips() {
        let entry = vec![7u8; MAX_ENTRY_SIZE];
        let bundle = encode_entry_bundle(&[&entry]).unwrap();
        assert_eq!(&bundle[..2], &[0xff, 0xff]);
        assert_eq!(decode_entry_bundle(&bundle, 1).unwrap(), vec![&entry[..]]);
    }

    #[test]
    fn refuses_an_entry_over_max_size() {
        let entries = [vec![1u8; 10], vec![2u8; MAX_ENTRY_SIZE + 1]];
        assert_eq!(
            encode_entry_bundle(&entries),
            Err(BundleError::EntryTooLarge {
                position: 1,
                size: 65536
            })
        );
    }

    #[test]
    fn refuses_empty_and_oversized_bundles() {
        let none: [&[u8]; 0] = [];
        assert_eq!(
            encode_entry_bundle(&none),
            Err(BundleError::Width { found: 0 })
        );
        let too_many = vec![b"x"; 257];
        assert_eq!(
            encode_entry_bundle(&too_many),
            Err(BundleError::Width { found: 257 })
        );
        assert_eq!(
            decode_entry_bundle(b"", 0),
            Err(BundleError::Width { found: 0 })
        );
        assert_eq!(
            decode_entry_bundle(b"", 257),
            Err(BundleError::Width { found: 257 })
        );
    }

    #[test]
    fn refuses_a_bundle_cut_inside_a_length_prefix() {
        assert_eq!(
            decode_entry_bundle(b"\x00\x01a\x00", 2),
            Err(BundleError::Truncated {
                position: 1,
                offset: 3,
                needed: 2,
                available: 1
            })
        );
    }

    #[test]
    fn refuses_a_bundle_cut_inside_an_entry() {
        assert_eq!(
            decode_entry_bundle(b"\x00\x05abc", 1),
            Err(BundleError::Truncated {
                position: 0,
                offset: 2,
                needed: 5,
                available: 3
            })
        );
    }

    #[test]
    fn refuses_fewer_entries_than_the_width() {
        assert_eq!(
            decode_entry_bundle(b"\x00\x01a\x00\x01b", 3),
            Err(BundleError::TooFewEntries {
                expected: 3,
                found: 2
            })
        );
        assert_eq!(
            decode_entry_bundle(b"", 1),
            Err(BundleError::TooFewEntries {
                expected: 1,
                found: 0
            })
        );
    }

    #[test]
    fn refuses_more_entries_than_the_width_or_trailing_bytes() {
        assert_eq!(
            decode_entry_bundle(b"\x00\x01a\x00\x01b", 1),
            Err(BundleError::TrailingBytes {
                expected: 1,
                extra: 3
            })
        );
        assert_eq!(
            decode_entry_bundle(b"\x00\x01a\x00", 1),
            Err(BundleError::TrailingBytes {
                expected: 1,
                extra: 1
            })
        );
    }
}
