#![no_main]
//! Fuzz target: `locara.toml` parsing. No input may panic, and every manifest that parses must
//! render to canonical TOML that parses back to an equal manifest and renders to the same bytes.

use libfuzzer_sys::fuzz_target;
use locara_core::manifest::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Manifest::parse(text) {
        Ok(manifest) => {
            let rendered = manifest.to_toml_string();
            let reparsed = match Manifest::parse(&rendered) {
                Ok(reparsed) => reparsed,
                Err(error) => panic!("rendering does not parse: {error}\n{rendered}"),
            };
            assert_eq!(
                reparsed, manifest,
                "rendering changed the manifest:\n{rendered}"
            );
            assert_eq!(
                reparsed.to_toml_string(),
                rendered,
                "rendering is not canonical"
            );
        }
        Err(error) => {
            assert!(!error.problems.is_empty(), "an error must name a problem");
            let _ = error.to_string();
        }
    }
});
