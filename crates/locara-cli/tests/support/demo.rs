//! A demo registry for the end-to-end tests: the real `locara-registry serve --demo` over its own data
//! directory and example apps, with its real build worker, behind a [`Proxy`] that gives it one address
//! across restarts and lets a test tamper with what the client receives.
//!
//! Releasing a version is what a newcomer to the demo does: change the example and restart the server;
//! the demo commits the change to the app's git repository and the builder builds and releases it.

#![allow(dead_code)] // each test file uses a part

use std::ffi::OsStr;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use locara_core::keys::SigningKey;
use serde_json::Value;

use crate::proxy::Proxy;
use crate::support::{Client, registry_binary};

/// How long a build may take before a test gives up on it (the machine may be busy).
const BUILD_DEADLINE: Duration = Duration::from_secs(120);

/// One version of an example app `demo/<slug>`: a shell build that writes a launcher script.
#[derive(Debug, Clone)]
pub struct Example {
    /// The app's name without `demo/`.
    pub slug: String,
    /// The version in its manifest.
    pub version: String,
    /// The `[capabilities]` table's body (TOML lines), empty for none.
    pub capabilities: String,
    /// Bytes of filler data the build also writes (`share/data`), to make unpacking take a while.
    pub payload_bytes: usize,
}

impl Example {
    /// `demo/<slug>` at `version`, asking for nothing.
    pub fn new(slug: &str, version: &str) -> Self {
        Self {
            slug: slug.to_owned(),
            version: version.to_owned(),
            capabilities: String::new(),
            payload_bytes: 0,
        }
    }

    /// The same app asking for `capabilities` (the body of a `[capabilities]` table).
    pub fn with_capabilities(mut self, capabilities: &str) -> Self {
        self.capabilities = capabilities.to_owned();
        self
    }

    /// The same app with `bytes` of filler data.
    pub fn with_payload(mut self, bytes: usize) -> Self {
        self.payload_bytes = bytes;
        self
    }

    /// Another version of the same app, asking for the same.
    pub fn at(&self, version: &str) -> Self {
        Self {
            version: version.to_owned(),
            ..self.clone()
        }
    }

    /// `demo/<slug>`.
    pub fn name(&self) -> String {
        format!("demo/{}", self.slug)
    }

    /// What the launcher script the build writes contains.
    pub fn script(&self) -> String {
        format!("#!/bin/sh\necho {} {}\n", self.slug, self.version)
    }

    /// The `locara.toml` (docs/manifest.md).
    pub fn manifest(&self) -> String {
        let (slug, version) = (&self.slug, &self.version);
        let (payload_command, payload_output) = if self.payload_bytes > 0 {
            (
                format!(" && yes locara | head -c {} > out/data", self.payload_bytes),
                r#", "share/data" = "out/data""#,
            )
        } else {
            (String::new(), "")
        };
        // A TOML literal string: the shell sees `\n` and printf turns it into a newline.
        let script = format!(
            r##"mkdir -p out && printf "#!/bin/sh\necho {slug} {version}\n" > out/run && chmod +x out/run{payload_command}"##
        );
        let mut manifest = format!(
            r#"[app]
name = "demo/{slug}"
version = "{version}"
description = "A test app for the install tests"
license = "MIT"
source = "https://git.example.com/demo/{slug}"

[build]
command = ["sh", "-c", '{script}']
outputs = {{ "bin/{slug}" = "out/run"{payload_output} }}
entry = "bin/{slug}"
"#
        );
        if !self.capabilities.is_empty() {
            manifest.push_str("\n[capabilities]\n");
            manifest.push_str(&self.capabilities);
            manifest.push('\n');
        }
        manifest
    }

    /// Writes the example's directory under `examples` (replacing its manifest).
    pub fn write(&self, examples: &Path) {
        let directory = examples.join(&self.slug);
        std::fs::create_dir_all(&directory).unwrap();
        std::fs::write(directory.join("locara.toml"), self.manifest()).unwrap();
    }
}

/// The end of the log file at `path`, for failure messages.
fn tail(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let start = log.len().saturating_sub(4000);
    log[log.floor_char_boundary(start)..].to_owned()
}

/// A running `locara-registry serve`; killed when dropped.
pub struct Server {
    child: Child,
    /// The URL it listens on (its own, not the proxy's).
    pub url: String,
    /// The digest of its first `root.json`, from the banner.
    pub root_digest: String,
}

impl Server {
    /// Starts `locara-registry serve` on a free loopback port over `data` with `arguments` after
    /// `serve` and `environment`; its log goes to `log_file`.
    pub fn start(
        data: &Path,
        arguments: &[&OsStr],
        environment: &[(String, String)],
        log_file: &Path,
    ) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_file)
            .unwrap();
        let mut child = Command::new(registry_binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(arguments)
            .env_remove("LOCARA_REGISTRY_CONFIG")
            .envs(environment.iter().map(|(name, value)| (name, value)))
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start locara-registry");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        let (mut url, mut digest) = (None, None);
        while url.is_none() || digest.is_none() {
            assert!(
                Instant::now() < deadline,
                "no start banner from locara-registry"
            );
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "locara-registry exited before printing its banner; its log:\n{}",
                    tail(log_file)
                );
            };
            if let Some(rest) = line.strip_prefix("Locara registry listening on ") {
                url = Some(rest.trim().to_owned());
            }
            if let Some(rest) = line.strip_prefix("root.json: ") {
                digest = Some(rest.trim().to_owned());
            }
        }
        // Keep reading so the server never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child,
            url: url.unwrap(),
            root_digest: digest.unwrap(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A demo registry with its examples, data directory and proxy.
pub struct Demo {
    dir: tempfile::TempDir,
    /// The client's way to the registry (`registry add` names its URL).
    pub proxy: Proxy,
    server: Option<Server>,
    environment: Vec<(String, String)>,
    root_digest: String,
    runtime: tokio::runtime::Runtime,
}

impl Demo {
    /// Writes `examples`, starts the registry (with `environment`, `LOCARA_REGISTRY_…` settings) and waits
    /// until the builder released each of them.
    pub fn start(examples: &[Example], environment: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut demo = Self {
            dir,
            proxy: Proxy::start(),
            server: None,
            environment: environment
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            root_digest: String::new(),
            runtime,
        };
        std::fs::create_dir_all(demo.examples()).unwrap();
        for example in examples {
            example.write(&demo.examples());
        }
        demo.start_server();
        for example in examples {
            demo.wait_listed(example);
        }
        demo
    }

    /// The registry's data directory.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The directory of example apps the demo publishes.
    pub fn examples(&self) -> PathBuf {
        self.dir.path().join("examples")
    }

    /// The server's log file.
    pub fn log_file(&self) -> PathBuf {
        self.dir.path().join("registry.log")
    }

    /// A scratch directory beside the registry's (removed with it).
    pub fn scratch(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    /// The runtime for calling the store's async API.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// The server's own URL (not through the proxy).
    pub fn server_url(&self) -> &str {
        &self.server.as_ref().expect("the registry is running").url
    }

    /// The digest of the registry's first root, as its banner prints it.
    pub fn root_digest(&self) -> &str {
        &self.root_digest
    }

    /// Starts the server (again) and points the proxy at it.
    pub fn start_server(&mut self) {
        assert!(self.server.is_none(), "the registry is already running");
        let data = self.data();
        let examples = self.examples();
        let server = Server::start(
            &data,
            &[
                OsStr::new("--demo"),
                OsStr::new("--demo-apps"),
                examples.as_os_str(),
            ],
            &self.environment,
            &self.log_file(),
        );
        self.proxy.set_upstream(&server.url);
        self.root_digest = server.root_digest.clone();
        self.server = Some(server);
    }

    /// Stops the server (SIGKILL: the store is crash-safe, and nothing is building).
    pub fn stop(&mut self) {
        self.server = None;
    }

    /// Releases `example` as a newcomer does: writes it, restarts the server, waits for the builder.
    /// Returns the release as the signed index lists it.
    pub fn release(&mut self, example: &Example) -> Value {
        example.write(&self.examples());
        self.stop();
        self.start_server();
        self.wait_listed(example)
    }

    /// `GET path` from the server itself: status and body.
    pub fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let url = format!("{}{path}", self.server_url());
        self.runtime.block_on(async {
            let response = reqwest::get(&url).await.expect("GET from the registry");
            let status = response.status().as_u16();
            (status, response.bytes().await.unwrap().to_vec())
        })
    }

    /// `GET path` from the server, which must answer 200.
    #[track_caller]
    pub fn get_ok(&self, path: &str) -> Vec<u8> {
        let (status, body) = self.get(path);
        assert_eq!(
            status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        body
    }

    /// The `signed` part of the app's index as the server serves it, if it has one.
    pub fn index(&self, slug: &str) -> Option<Value> {
        let (status, body) = self.get(&format!("/index/demo/{slug}.json"));
        (status == 200).then(|| serde_json::from_slice::<Value>(&body).unwrap()["signed"].clone())
    }

    /// Waits (with a deadline) until the app's signed index lists `example`'s version; returns that
    /// listing (`version`, `status`, `log_index`, `artifact`, `provenance`).
    #[track_caller]
    pub fn wait_listed(&self, example: &Example) -> Value {
        let deadline = Instant::now() + BUILD_DEADLINE;
        loop {
            let listed = self.index(&example.slug).and_then(|index| {
                index["releases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|release| release["version"] == example.version.as_str())
                    .cloned()
            });
            if let Some(listed) = listed {
                return listed;
            }
            assert!(
                Instant::now() < deadline,
                "{} {} was not released; registry log:\n{}",
                example.name(),
                example.version,
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The end of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log_file())
    }

    /// A fresh client that pinned this registry, through the proxy, as `main`.
    pub fn client(&self) -> Client {
        Client::pinned(&self.proxy.url, &self.root_digest)
    }

    /// [`Demo::client`] with `policy` as its policy file.
    pub fn client_with_policy(&self, policy: &str) -> Client {
        let client = self.client();
        std::fs::write(client.config().join("policy.toml"), policy).unwrap();
        client
    }

    /// The registry's key for `role` (`root`, `log`, `builder`, `index`, `security`, `timestamp`, or
    /// `demo-publisher`).
    pub fn key(&self, role: &str) -> SigningKey {
        SigningKey::load(&self.data().join("keys").join(format!("{role}.key"))).unwrap()
    }

    /// Where the registry's blob store keeps the blob `digest` (`sha256:<hex>`).
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
        self.data().join("blobs/blobs/sha256").join(hex)
    }
}
