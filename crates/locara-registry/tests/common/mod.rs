//! Starting the real `locara-registry` binary for tests and reading its start banner.

#![allow(dead_code)] // each test file uses a part

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use locara_core::digest::Digest;

pub mod api;
pub mod examples;
pub mod publishing;

/// A running server and what it printed on start; killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub root_digest: Digest,
    pub banner: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `locara-registry serve` on a free port with `data` and extra environment variables.
pub fn start_with(data: &Path, environment: &[(&str, &str)]) -> Server {
    start_logging(data, environment, Stdio::null())
}

/// Like [`start_with`], with the server's logs (stderr) going to `logs`.
pub fn start_logging(data: &Path, environment: &[(&str, &str)], logs: Stdio) -> Server {
    start_serving(data, environment, logs, &[])
}

/// Starts `locara-registry serve` with extra arguments after the listen address and data directory.
pub fn start_serving(
    data: &Path,
    environment: &[(&str, &str)],
    logs: Stdio,
    extra: &[&std::ffi::OsStr],
) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_locara-registry"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(extra)
        .env_remove("LOCARA_REGISTRY_CONFIG")
        .envs(environment.iter().copied())
        .stdout(Stdio::piped())
        .stderr(logs)
        .spawn()
        .expect("start locara-registry");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut url, mut digest, mut banner) = (None, None, Vec::new());
    // With --demo, the seeding report follows the banner.
    let demo = extra.iter().any(|argument| *argument == "--demo");
    let mut seeded = !demo;
    while url.is_none() || digest.is_none() || !seeded {
        assert!(Instant::now() < deadline, "no start banner; got {banner:?}");
        let line = lines
            .next()
            .expect("the server printed its banner")
            .unwrap();
        if let Some(rest) = line.strip_prefix("Locara registry listening on ") {
            url = Some(rest.to_owned());
        }
        if line.starts_with("demo: then try") {
            seeded = true;
        }
        if let Some(rest) = line.strip_prefix("root.json: ") {
            digest = Some(rest.parse::<Digest>().expect("a sha256 digest"));
        }
        banner.push(line);
    }
    // Keep reading so the server never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Server {
        child,
        url: url.unwrap(),
        root_digest: digest.unwrap(),
        banner,
    }
}

/// Starts `locara-registry serve` on a free port with `data`.
pub fn start(data: &Path) -> Server {
    start_with(data, &[])
}

/// GET over loopback, returning the body bytes and the status.
pub async fn fetch(url: &str) -> (u16, Vec<u8>) {
    let response = reqwest::get(url).await.expect("GET over loopback");
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}
