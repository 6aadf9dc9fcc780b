//! Property tests for entry bundles: encoding and decoding are inverse, every damaged bundle is refused, and
//! a bundle's entries hash to the level-0 tile of the same index and width.

use locara_core::log::tile::read_tile_data;
use locara_core::log::{
    BundleError, MemoryHashStore, Tile, decode_entry_bundle, encode_entry_bundle, leaf_hash,
    tiles_for_tree,
};
use proptest::prelude::*;

fn entries() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..=256)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn bundles_round_trip(entries in entries()) {
        let bundle = encode_entry_bundle(&entries).unwrap();
        let width = entries.len() as u16;
        let decoded = decode_entry_bundle(&bundle, width).unwrap();
        prop_assert_eq!(decoded, entries.iter().map(Vec::as_slice).collect::<Vec<_>>());
    }

    #[test]
    fn every_truncated_bundle_is_refused(entries in entries(), cut in any::<prop::sample::Index>()) {
        let bundle = encode_entry_bundle(&entries).unwrap();
        let length = cut.index(bundle.len());
        let result = decode_entry_bundle(&bundle[..length], entries.len() as u16);
        prop_assert!(
            matches!(result, Err(BundleError::Truncated { .. } | BundleError::TooFewEntries { .. })),
            "a bundle cut to {} of {} bytes gave {:?}", length, bundle.len(), result
        );
    }

    #[test]
    fn trailing_bytes_are_refused(entries in entries(), extra in prop::collection::vec(any::<u8>(), 1..40)) {
        let mut bundle = encode_entry_bundle(&entries).unwrap();
        bundle.extend_from_slice(&extra);
        prop_assert_eq!(
            decode_entry_bundle(&bundle, entries.len() as u16),
            Err(BundleError::TrailingBytes { expected: entries.len() as u16, extra: extra.len() })
        );
    }

    #[test]
    fn a_wrong_width_is_refused(entries in entries(), width in 1u16..=256) {
        prop_assume!(usize::from(width) != entries.len());
        let bundle = encode_entry_bundle(&entries).unwrap();
        let result = decode_entry_bundle(&bundle, width);
        if usize::from(width) < entries.len() {
            prop_assert!(matches!(result, Err(BundleError::TrailingBytes { .. })), "{:?}", result);
        } else {
            prop_assert!(matches!(result, Err(BundleError::TooFewEntries { .. })), "{:?}", result);
        }
    }
}

#[test]
fn bundle_entries_hash_to_the_level_zero_tile() {
    let size = 256 * 2 + 37;
    let entries: Vec<Vec<u8>> = (0..size)
        .map(|n| format!("{{\"entry\":{n}}}").into_bytes())
        .collect();
    let store = MemoryHashStore::from_leaf_hashes(entries.iter().map(|entry| leaf_hash(entry)));
    let level_zero: Vec<Tile> = tiles_for_tree(size as u64)
        .into_iter()
        .filter(|tile| tile.kind == locara_core::log::TileKind::Hashes { level: 0 })
        .collect();
    assert_eq!(level_zero.len(), 3);
    for tile in level_zero {
        let first = usize::try_from(tile.index).unwrap() * 256;
        let bundle = encode_entry_bundle(&entries[first..first + usize::from(tile.width)]).unwrap();
        let decoded = decode_entry_bundle(&bundle, tile.entries().width).unwrap();
        let hashes: Vec<u8> = decoded
            .iter()
            .flat_map(|entry| leaf_hash(entry).0)
            .collect();
        assert_eq!(
            hashes,
            read_tile_data(&store, &tile).unwrap(),
            "{}",
            tile.entries()
        );
    }
}
