//! Support for the client's integration tests: the real `locara` binary in a throw-away `LOCARA_HOME`, the
//! real `locara-registry` server, and a tiny static HTTP server for registries that misbehave.

#![allow(dead_code)] // each test file uses a part

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use locara_core::digest::Digest;
use locara_core::keys::SigningKey;
use locara_core::log::SignerKey;
use locara_core::root::{LogEntry, Role, RootMetadata};
use locara_core::time::Timestamp;
use serde_json::Value;

/// A syntactically valid digest no registry serves.
pub const UNKNOWN_DIGEST: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The outcome of one `locara` run.
#[derive(Debug)]
pub struct Run {
    /// The exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from_output(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts exit code 0 and returns self.
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(self.code, 0, "expected success:\n{self:#?}");
        self
    }

    /// Asserts `code` and returns self.
    #[track_caller]
    pub fn exits(self, code: i32) -> Self {
        assert_eq!(self.code, code, "expected exit code {code}:\n{self:#?}");
        self
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{}", self.stdout))
    }
}

/// A `locara` client with its own `LOCARA_HOME` (and `HOME`) in a temporary directory.
pub struct Client {
    dir: tempfile::TempDir,
}

impl Client {
    /// A client with an empty home.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// `$LOCARA_HOME`.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// `$LOCARA_HOME/config`.
    pub fn config(&self) -> PathBuf {
        self.home().join("config")
    }

    /// The client's directories, for calling the library directly.
    pub fn dirs(&self) -> locara_cli::dirs::Dirs {
        locara_cli::dirs::Dirs::under(&self.home()).unwrap()
    }

    /// A `locara` command with this client's environment; stdin is not a terminal.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_locara"));
        command
            .args(args)
            .env("LOCARA_HOME", self.home())
            .env("HOME", self.dir.path())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .stdin(Stdio::null());
        command
    }

    /// Runs `locara ARGS` to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from_output(self.command(args).output().expect("run locara"))
    }

    /// Runs `locara ARGS` with `input` on stdin (a pipe, not a terminal).
    pub fn run_with_input(&self, args: &[&str], input: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run locara");
        let mut stdin = child.stdin.take().unwrap();
        // A command that exits before reading its input is reported by its exit code, not here.
        let _ = stdin.write_all(input.as_bytes());
        drop(stdin);
        Run::from_output(child.wait_with_output().expect("wait for locara"))
    }

    /// Starts `locara ARGS` on a pseudo-terminal (through util-linux `script`), so it may ask questions.
    pub fn terminal(&self, args: &[&str]) -> Terminal {
        let mut line = shell_quote(env!("CARGO_BIN_EXE_locara"));
        for arg in args {
            line.push(' ');
            line.push_str(&shell_quote(arg));
        }
        let mut child = Command::new("script")
            .args(["--quiet", "--return", "--command", &line, "/dev/null"])
            .env("LOCARA_HOME", self.home())
            .env("HOME", self.dir.path())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run script (util-linux) to give locara a terminal");
        let screen: Arc<Mutex<String>> = Arc::default();
        let mut stdout = child.stdout.take().unwrap();
        let reader = {
            let screen = screen.clone();
            std::thread::spawn(move || {
                let mut buffer = [0u8; 1024];
                while let Ok(read @ 1..) = stdout.read(&mut buffer) {
                    screen
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buffer[..read]));
                }
            })
        };
        Terminal {
            stdin: child.stdin.take(),
            child,
            screen,
            seen: 0,
            reader: Some(reader),
        }
    }

    /// `$LOCARA_HOME/config/credentials/<registry>.token`.
    pub fn token_file(&self, registry: &str) -> PathBuf {
        self.config().join(format!("credentials/{registry}.token"))
    }
}

/// The `locara-registry` binary beside `locara`, built first if it is missing.
pub fn registry_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let locara = Path::new(env!("CARGO_BIN_EXE_locara"));
            let binary =
                locara.with_file_name(format!("locara-registry{}", std::env::consts::EXE_SUFFIX));
            if !binary.exists() {
                build_registry(locara);
            }
            assert!(binary.exists(), "{} was not built", binary.display());
            binary
        })
        .clone()
}

/// `cargo build -p locara-registry` into the target directory (and profile) `locara` was built in.
fn build_registry(locara: &Path) {
    let profile_dir = locara
        .parent()
        .expect("the binary is in a profile directory");
    let target_dir = profile_dir
        .parent()
        .expect("the profile directory is in a target directory");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let mut command = Command::new(cargo);
    command
        .args(["build", "-p", "locara-registry", "--bin", "locara-registry"])
        .arg("--manifest-path")
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", target_dir);
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        command.arg("--release");
    }
    let status = command
        .status()
        .expect("run cargo build -p locara-registry");
    assert!(status.success(), "cargo build -p locara-registry failed");
}

/// Runs `locara-registry ARGS` (the offline `keys` tools) to completion and asserts success.
#[track_caller]
pub fn registry_tool(args: &[&str]) -> String {
    let output = Command::new(registry_binary())
        .args(args)
        .output()
        .expect("run locara-registry");
    assert!(
        output.status.success(),
        "locara-registry {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A running `locara-registry serve` and its start banner; killed when dropped.
pub struct Registry {
    child: Child,
    /// The URL it listens on.
    pub url: String,
    /// The digest it prints as `root.json: …`.
    pub root_digest: Digest,
}

impl Registry {
    /// Starts the server on a free loopback port with `data` as its data directory.
    pub fn start(data: &Path) -> Self {
        Self::start_with(data, &[])
    }

    /// [`Registry::start`] with extra environment variables (`LOCARA_REGISTRY_…` settings).
    pub fn start_with(data: &Path, environment: &[(&str, &str)]) -> Self {
        let mut child = Command::new(registry_binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .env_remove("LOCARA_REGISTRY_CONFIG")
            .envs(environment.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
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
                panic!("locara-registry exited before printing its banner");
            };
            if let Some(rest) = line.strip_prefix("Locara registry listening on ") {
                url = Some(rest.trim().to_owned());
            }
            if let Some(rest) = line.strip_prefix("root.json: ") {
                digest = Some(rest.trim().parse::<Digest>().expect("a sha256 digest"));
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

    /// The pinned digest as text.
    pub fn digest(&self) -> String {
        self.root_digest.to_string()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One canned response of a [`StaticServer`].
#[derive(Debug, Clone)]
pub struct Canned {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
}

/// A minimal HTTP/1.1 server on loopback answering GETs from a table of paths (404 otherwise).
pub struct StaticServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    routes: Arc<Mutex<HashMap<String, Canned>>>,
    stop: Arc<AtomicBool>,
    address: std::net::SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl StaticServer {
    /// Starts serving an empty table.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let routes: Arc<Mutex<HashMap<String, Canned>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (routes, stop) = (routes.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        answer(stream, &routes);
                    }
                }
            })
        };
        Self {
            url: format!("http://{address}"),
            routes,
            stop,
            address,
            thread: Some(thread),
        }
    }

    /// Serves `body` as JSON at `path` (e.g. `/root.json`).
    pub fn put(&self, path: &str, body: &[u8]) {
        self.put_response(path, 200, "application/json", body);
    }

    /// Serves any response at `path`.
    pub fn put_response(&self, path: &str, status: u16, content_type: &str, body: &[u8]) {
        self.routes.lock().unwrap().insert(
            path.to_owned(),
            Canned {
                status,
                content_type: content_type.to_owned(),
                body: body.to_vec(),
            },
        );
    }

    /// Serves a chain of roots as a registry does: `/root/<N>.root.json` each, `/root.json` the last.
    pub fn serve_roots(&self, roots: &[&[u8]]) {
        for bytes in roots {
            let version = serde_json::from_slice::<Value>(bytes).unwrap()["signed"]["version"]
                .as_u64()
                .unwrap();
            self.put(&format!("/root/{version}.root.json"), bytes);
        }
        self.put("/root.json", roots.last().unwrap());
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn answer(mut stream: TcpStream, routes: &Mutex<HashMap<String, Canned>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let canned = routes
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or(Canned {
            status: 404,
            content_type: "text/plain".to_owned(),
            body: b"not found\n".to_vec(),
        });
    let reply = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        canned.status,
        canned.content_type,
        canned.body.len()
    );
    let _ = stream.write_all(reply.as_bytes());
    let _ = stream.write_all(&canned.body);
    let _ = stream.flush();
}

/// A deterministic key for test roots.
pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed(&[seed; 32])
}

/// A time far enough ahead for a root that must not expire during the tests.
pub fn far_future() -> Timestamp {
    "2126-01-01T00:00:00Z".parse().unwrap()
}

/// A time in the past, for expired roots.
pub fn long_ago() -> Timestamp {
    "2020-01-01T00:00:00Z".parse().unwrap()
}

/// `root.json` version `version` whose root role is `root_key` (threshold 1), signed by `signers`.
pub fn root_bytes(
    version: u64,
    root_key: &SigningKey,
    signers: &[&SigningKey],
    expires: Timestamp,
) -> Vec<u8> {
    let log_key = key(90);
    let origin = "registry.test/log";
    let verifier = SignerKey::from_signing_key(origin, &log_key)
        .unwrap()
        .verifier()
        .to_string();
    let one = |seed: u8| vec![key(seed).public_key().clone()];
    RootMetadata::new(
        version,
        expires,
        [
            (Role::Root, vec![root_key.public_key().clone()], 1),
            (Role::Log, vec![log_key.public_key().clone()], 1),
            (Role::Builder, one(30), 1),
            (Role::Index, one(40), 1),
            (Role::Security, one(50), 1),
            (Role::Timestamp, one(60), 1),
        ],
        LogEntry {
            origin: origin.to_owned(),
            verifier_key: verifier,
        },
    )
    .sign(signers)
    .unwrap()
}

/// The digest of `bytes` as text.
pub fn digest_of(bytes: &[u8]) -> String {
    Digest::of_bytes(bytes).to_string()
}

/// The permission bits of `path`.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// A password the registry accepts.
pub const PASSWORD: &str = "correct horse battery staple";

/// A running registry in a temporary data directory, and a client that has pinned it as `main`.
pub struct World {
    /// The client.
    pub client: Client,
    /// The registry.
    pub registry: Registry,
    _data: tempfile::TempDir,
}

impl World {
    /// Starts a registry (with `environment`) and adds it to a fresh client.
    pub fn start_with(environment: &[(&str, &str)]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let registry = Registry::start_with(&data.path().join("data"), environment);
        let client = Client::new();
        client
            .run(&[
                "registry",
                "add",
                "main",
                &registry.url,
                "--root",
                &registry.digest(),
            ])
            .success();
        Self {
            client,
            registry,
            _data: data,
        }
    }

    /// [`World::start_with`] without extra settings.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Signs `username` up and logs in, with `locara` itself.
    pub fn sign_up_and_log_in(&self, username: &str) {
        self.client
            .run_with_input(
                &["signup", "--username", username, "--password-stdin"],
                PASSWORD,
            )
            .success();
        self.client
            .run_with_input(
                &["login", "--username", username, "--password-stdin"],
                PASSWORD,
            )
            .success();
    }

    /// Signs `username` up, logs in and enables two-factor authentication with `locara 2fa enable`;
    /// returns the authenticator holding the account's secret.
    pub fn sign_up_with_two_factor(&self, username: &str) -> Authenticator {
        self.sign_up_and_log_in(username);
        let started = self
            .client
            .run(&["--json", "2fa", "enable"])
            .success()
            .json();
        let mut authenticator = Authenticator::new(started["secret"].as_str().unwrap());
        let code = authenticator.code();
        let enabled = self
            .client
            .run(&["--json", "2fa", "enable", "--otp", &code])
            .success()
            .json();
        assert_eq!(enabled["status"], "enabled", "{enabled}");
        authenticator
    }
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The TOTP step length, in seconds.
pub const STEP_SECONDS: u64 = 30;

/// An authenticator app for tests: TOTP codes from `oathtool` (an implementation nobody here wrote).
///
/// Codes are single use and the registry accepts the current step and one either side, so each code is
/// for a step after the last one used: the previous step only early in the current one (so the code is
/// still accepted when the request arrives), else the current or the next step, waiting for the clock
/// when even the next step is used up.
pub struct Authenticator {
    /// The base32 secret.
    pub secret: String,
    last_step: u64,
}

impl Authenticator {
    /// An authenticator for the base32 `secret`.
    pub fn new(secret: &str) -> Self {
        Self {
            secret: secret.to_owned(),
            last_step: 0,
        }
    }

    /// A code the registry accepts now and no code given earlier shares a step with.
    pub fn code(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(3 * STEP_SECONDS);
        loop {
            let now = unix_now();
            let current = now / STEP_SECONDS;
            // The previous step only with 10 s to spare before it leaves the registry's window.
            let earliest = if now % STEP_SECONDS < STEP_SECONDS - 10 {
                current - 1
            } else {
                current
            };
            let step = (self.last_step + 1).max(earliest);
            if step <= current + 1 {
                self.last_step = step;
                return oathtool(&self.secret, step * STEP_SECONDS);
            }
            assert!(Instant::now() < deadline, "the clock did not advance");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The TOTP code for base32 `secret` at `unix_time`, from `oathtool`.
pub fn oathtool(secret: &str, unix_time: u64) -> String {
    let output = Command::new("oathtool")
        .args(["--totp", "-b", secret, "--now"])
        .arg(format!("@{unix_time}"))
        .output()
        .expect("oathtool runs (it is installed with the test tools)");
    assert!(output.status.success(), "oathtool failed: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// A `locara` running on a pseudo-terminal: what it shows, and typing answers.
pub struct Terminal {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    screen: Arc<Mutex<String>>,
    seen: usize,
    reader: Option<JoinHandle<()>>,
}

impl Terminal {
    /// Waits (with a deadline) until the screen shows `text` after what earlier waits saw; returns the
    /// screen up to and including it.
    #[track_caller]
    pub fn expect(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            {
                let screen = self.screen.lock().unwrap();
                if let Some(at) = screen[self.seen..].find(text) {
                    let end = self.seen + at + text.len();
                    let shown = screen[..end].to_owned();
                    self.seen = end;
                    return shown;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the terminal never showed {text:?}; it shows:\n{}",
                self.screen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `line` and Enter.
    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("the terminal is open");
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for the command to end; returns its exit code and everything the screen showed.
    pub fn finish(mut self) -> (i32, String) {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let screen = self.screen.lock().unwrap().clone();
        (status.code().unwrap_or(-1), screen)
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
