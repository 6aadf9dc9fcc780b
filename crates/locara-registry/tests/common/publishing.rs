//! Publishing in tests: a verified publisher with an app, a release key and a real git repository, and
//! the real builder turning release requests into releases.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use locara_core::digest::Digest;
use locara_core::events::LogEntry;
use locara_core::keys::SigningKey;
use locara_core::statement::release::ReleaseStatement;
use locara_core::time::Timestamp;
use locara_testkit::dns::DnsServer;
use serde_json::{Value, json};

use super::api::{
    Api, Reply, User, register_app, register_new_key, sign_up_with_two_factor, verify_by_dns,
};

/// A C program the sandboxed builder compiles in well under a second.
pub const HELLO_C: &str =
    "#include <stdio.h>\nint main(void) { puts(\"hello from alice\"); return 0; }\n";

/// A manifest for `app` building [`HELLO_C`], asking for `network` (TOML array items).
pub fn manifest_for(app: &str, version: &str, network: &str) -> String {
    manifest_building_for(
        app,
        version,
        network,
        r#""cc", "-O2", "-o", "hello", "hello.c""#,
        "",
    )
}

/// A manifest for `app` whose build command is `command` (TOML array items) with extra `outputs` entries.
pub fn manifest_building_for(
    app: &str,
    version: &str,
    network: &str,
    command: &str,
    outputs: &str,
) -> String {
    format!(
        "[app]\nname = \"{app}\"\nversion = \"{version}\"\ndescription = \"Says hello\"\nlicense = \"MIT\"\n\
         source = \"https://git.example/{app}\"\n\n[build]\ncommand = [{command}]\n\
         outputs = {{ \"bin/hello\" = \"hello\"{outputs} }}\nentry = \"bin/hello\"\n\n[capabilities]\nnetwork = [{network}]\n"
    )
}

/// Runs git in `repo` with a fixed author and date.
pub fn git(repo: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Alice")
        .env("GIT_AUTHOR_EMAIL", "alice@example.test")
        .env("GIT_COMMITTER_NAME", "Alice")
        .env("GIT_COMMITTER_EMAIL", "alice@example.test")
        .env("GIT_AUTHOR_DATE", "2026-11-01T12:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-11-01T12:00:00Z")
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Commits `manifest` (and the C source) and returns the commit and the manifest's digest.
pub fn commit(repo: &Path, manifest: &str, message: &str) -> (String, Digest) {
    std::fs::write(repo.join("hello.c"), HELLO_C).unwrap();
    std::fs::write(repo.join("locara.toml"), manifest).unwrap();
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", message]);
    (
        git(repo, &["rev-parse", "HEAD"]),
        Digest::of_bytes(manifest.as_bytes()),
    )
}

/// A running registry with `owner` (alice, with TOTP) owning a verified publisher, its app, a release
/// key, and the app's git repository.
pub struct World {
    pub data: tempfile::TempDir,
    pub dns: DnsServer,
    pub server: super::Server,
    pub api: Api,
    pub owner: User,
    pub key: SigningKey,
    pub repo: tempfile::TempDir,
    pub repository: String,
    /// `publisher/app`.
    pub app: String,
}

/// A world for `app` on a registry started with `environment`. Its publisher is alice's personal one
/// (`alice/...`) or an organisation alice creates and owns.
pub async fn world_for(environment: &[(&str, &str)], app: &str) -> World {
    let dns = DnsServer::start("example.test").await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let resolver = dns.address().to_string();
    let mut environment = environment.to_vec();
    environment.push(("LOCARA_REGISTRY_DNS_RESOLVER", &resolver));
    let server = super::start_with(data.path(), &environment);
    let api = Api::new(&server.url);
    let mut owner = sign_up_with_two_factor(&api, "alice").await;
    let publisher = app.split('/').next().unwrap();
    if publisher != "alice" {
        super::api::create_organisation(&api, &mut owner, publisher).await;
    }
    let domain = format!("{publisher}.example.test");
    verify_by_dns(&api, &dns, &mut owner, publisher, &domain).await;
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q", "-b", "main"]);
    let repository = format!("file://{}", repo.path().display());
    register_app(&api, &mut owner, app, &repository).await;
    let key = register_new_key(&api, &mut owner, publisher).await;
    World {
        data,
        dns,
        server,
        api,
        owner,
        key,
        repo,
        repository,
        app: app.to_owned(),
    }
}

impl World {
    /// Signs and sends a release request of the world's app; returns the reply.
    pub async fn publish(&mut self, version: &str, commit: &str, manifest: Digest) -> Reply {
        let code = self.owner.otp().await;
        self.publish_with(version, commit, manifest, &code).await
    }

    /// Like [`Self::publish`] with a given code (for requests refused before the code is looked at).
    pub async fn publish_with(
        &mut self,
        version: &str,
        commit: &str,
        manifest: Digest,
        code: &str,
    ) -> Reply {
        let statement = ReleaseStatement {
            app: self.app.parse().unwrap(),
            version: version.parse().unwrap(),
            repository: self.repository.clone(),
            commit: commit.parse().unwrap(),
            manifest,
            created_at: Timestamp::now(),
        };
        let envelope: Value = serde_json::from_slice(&statement.sign(&self.key).to_json()).unwrap();
        self.api
            .call(
                "POST",
                &format!("/api/v1/apps/{}/releases", self.app),
                Some(&self.owner.token.clone()),
                Some(code),
                Some(json!({"version": version, "statement": envelope})),
            )
            .await
    }

    /// Commits a manifest for `version` asking for `network`, publishes it and waits for its build to
    /// succeed.
    pub async fn release(&mut self, version: &str, network: &str) {
        let manifest = manifest_for(&self.app, version, network);
        let (commit, digest) = commit(self.repo.path(), &manifest, version);
        let reply = self.publish(version, &commit, digest).await;
        assert_eq!(reply.status, 202, "{}", reply.body);
        let build = self.wait(reply.body["id"].as_i64().unwrap()).await;
        assert_eq!(build["state"], "succeeded", "{build}");
    }

    /// Waits for build `id` to finish; returns its final view.
    pub async fn wait(&self, id: i64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let reply = self
                .api
                .call(
                    "GET",
                    &format!("/api/v1/builds/{id}"),
                    Some(&self.owner.token),
                    None,
                    None,
                )
                .await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            if matches!(reply.body["state"].as_str(), Some("succeeded" | "failed")) {
                return reply.body;
            }
            assert!(
                Instant::now() < deadline,
                "build {id} did not finish: {}",
                reply.body
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The world's app's releases, as the API lists them.
    pub async fn releases(&self) -> Value {
        let reply = self
            .api
            .get(&format!("/api/v1/apps/{}/releases", self.app))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }

    /// GETs `path`, which must answer 200, and returns its bytes.
    pub async fn bytes(&self, path: &str) -> Vec<u8> {
        let (status, bytes) = super::fetch(&format!("{}{path}", self.server.url)).await;
        assert_eq!(status, 200, "{path}");
        bytes
    }

    /// Every log entry the latest checkpoint covers, in order.
    pub async fn log_entries(&self) -> Vec<LogEntry> {
        let checkpoint = String::from_utf8(self.bytes("/log/checkpoint").await).unwrap();
        let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
        let mut entries = Vec::new();
        for index in 0..size {
            let bytes = self.bytes(&format!("/log/entries/{index}")).await;
            entries.push(LogEntry::from_bytes(&bytes).unwrap());
        }
        entries
    }
}
