//! Example apps for `serve --demo` in tests: small C programs the builder compiles in well under a second.

use std::path::Path;
use std::time::{Duration, Instant};

use super::api::Api;

/// Writes a C example app `demo/<slug>` described as `description` into `examples/<slug>`.
pub fn write_example(examples: &Path, slug: &str, version: &str, description: &str) {
    let directory = examples.join(slug);
    std::fs::create_dir_all(&directory).unwrap();
    std::fs::write(
        directory.join("hello.c"),
        format!("#include <stdio.h>\nint main(void) {{ puts(\"{slug}\"); return 0; }}\n"),
    )
    .unwrap();
    std::fs::write(
        directory.join("locara.toml"),
        format!(
            "[app]\nname = \"demo/{slug}\"\nversion = \"{version}\"\ndescription = \"{description}\"\n\
             license = \"MIT\"\nsource = \"https://git.example.com/demo/{slug}\"\n\n[build]\n\
             command = [\"cc\", \"-O2\", \"-o\", \"hello\", \"hello.c\"]\noutputs = {{ \"bin/hello\" = \"hello\" }}\n\
             entry = \"bin/hello\"\n"
        ),
    )
    .unwrap();
}

/// Waits until `app` has an available release of `version`, and returns it.
pub async fn wait_available(api: &Api, app: &str, version: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let releases = api.get(&format!("/api/v1/apps/{app}/releases")).await.body;
        if let Some(release) = releases.as_array().and_then(|releases| {
            releases
                .iter()
                .find(|release| release["version"] == version && release["state"] == "available")
        }) {
            return release.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{app} {version} was not released: {releases}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
