#![no_main]
//! Fuzz target: C2SP signed notes, checkpoints, verifier key strings and tile paths. None of these may panic
//! on any input, and whatever parses must re-encode to the same bytes.

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use locara_core::log::tile::Tile;
use locara_core::log::{Checkpoint, Note, SignerKey, VerifierKey, verify_checkpoint};

const ORIGIN: &str = "example.test/log";

fn verifier() -> &'static VerifierKey {
    static VERIFIER: OnceLock<VerifierKey> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let seed: [u8; 32] = std::array::from_fn(|byte| byte as u8);
        SignerKey::from_seed(ORIGIN, &seed)
            .expect("fixed signer")
            .verifier()
            .clone()
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(note) = Note::parse(data) {
        assert_eq!(
            note.to_bytes(),
            data,
            "a parsed note re-encodes to its bytes"
        );
        let _ = note.verify(std::slice::from_ref(verifier()));
    }
    let _ = verify_checkpoint(data, ORIGIN, verifier());
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(checkpoint) = Checkpoint::parse(text) {
            assert_eq!(
                checkpoint.to_text(),
                text,
                "a parsed checkpoint re-encodes to its text"
            );
        }
        if let Ok(key) = text.parse::<VerifierKey>() {
            assert_eq!(
                key.to_string(),
                text,
                "a parsed verifier key re-encodes to its text"
            );
        }
        if let Ok(tile) = Tile::parse_path(text) {
            assert_eq!(
                tile.path(),
                text,
                "a parsed tile path re-encodes to its text"
            );
        }
    }
});
