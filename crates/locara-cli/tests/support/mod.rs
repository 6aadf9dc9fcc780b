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
use locara_testkit::dns::DnsServer;
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

    /// A fresh client that pinned the registry at `url` with the root digest `root` as `main`.
    pub fn pinned(url: &str, root: &str) -> Self {
        let client = Self::new();
        client
            .run(&["registry", "add", "main", url, "--root", root])
            .success();
        client
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
            // `cargo test -p locara-cli` does not rebuild the registry, and some tests write its database
            // with this build's `locara-store`: bring it up to date once per process. If it does not build
            // right now, the binary already there is used, with a warning.
            if !build_registry(locara) {
                eprintln!(
                    "warning: `cargo build -p locara-registry` failed; using the binary already built"
                );
            }
            assert!(binary.exists(), "{} was not built", binary.display());
            binary
        })
        .clone()
}

/// `cargo build -p locara-registry` into the target directory (and profile) `locara` was built in;
/// whether it succeeded.
fn build_registry(locara: &Path) -> bool {
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
        .args([
            "build",
            "--quiet",
            "-p",
            "locara-registry",
            "--bin",
            "locara-registry",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", target_dir)
        .stdout(std::process::Stdio::null());
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        command.arg("--release");
    }
    command.status().is_ok_and(|status| status.success())
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

/// A request a [`StaticServer`] received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The method.
    pub method: String,
    /// The path (with any query).
    pub path: String,
    /// Header names (lower-case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The value of header `name` (lower-case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Responses by path: each request takes the next one, and the last one repeats.
type Routes = Arc<Mutex<HashMap<String, Vec<Canned>>>>;

/// A minimal HTTP/1.1 server on loopback answering from a table of paths, whatever the method (404
/// otherwise), and recording every request.
pub struct StaticServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    routes: Routes,
    requests: Arc<Mutex<Vec<Recorded>>>,
    stop: Arc<AtomicBool>,
    address: std::net::SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl StaticServer {
    /// Starts serving an empty table.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let routes: Routes = Arc::default();
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (routes, requests, stop) = (routes.clone(), requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        answer(stream, &routes, &requests);
                    }
                }
            })
        };
        Self {
            url: format!("http://{address}"),
            routes,
            requests,
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
        self.put_sequence(
            path,
            vec![Canned {
                status,
                content_type: content_type.to_owned(),
                body: body.to_vec(),
            }],
        );
    }

    /// Serves `responses` at `path` in turn, repeating the last one.
    pub fn put_sequence(&self, path: &str, responses: Vec<Canned>) {
        assert!(!responses.is_empty());
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), responses);
    }

    /// Stops serving `path` (it answers 404).
    pub fn remove(&self, path: &str) {
        self.routes.lock().unwrap().remove(path);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
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

fn answer(
    mut stream: TcpStream,
    routes: &Mutex<HashMap<String, Vec<Canned>>>,
    requests: &Mutex<Vec<Recorded>>,
) {
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
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").split_whitespace();
    let method = request_line.next().unwrap_or("GET").to_owned();
    let path = request_line.next().unwrap_or("/").to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    if stream.read_exact(&mut body).is_err() {
        return;
    }
    requests.lock().unwrap().push(Recorded {
        method,
        path: path.clone(),
        headers,
        body,
    });
    let canned = {
        let mut routes = routes.lock().unwrap();
        match routes.get_mut(&path) {
            Some(responses) if responses.len() > 1 => Some(responses.remove(0)),
            Some(responses) => responses.first().cloned(),
            None => None,
        }
    }
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
        let client = Client::pinned(&registry.url, &registry.digest());
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
        sign_up_and_log_in(&self.client, username);
    }

    /// Signs `username` up, logs in and enables two-factor authentication with `locara 2fa enable`;
    /// returns the authenticator holding the account's secret.
    pub fn sign_up_with_two_factor(&self, username: &str) -> Authenticator {
        sign_up_with_two_factor(&self.client, username)
    }

    /// Another client (another person's machine) that pinned the same registry as `main`.
    pub fn another_client(&self) -> Client {
        Client::pinned(&self.registry.url, &self.registry.digest())
    }
}

/// Signs `username` up and logs `client` in, with `locara` itself.
pub fn sign_up_and_log_in(client: &Client, username: &str) {
    client
        .run_with_input(
            &["signup", "--username", username, "--password-stdin"],
            PASSWORD,
        )
        .success();
    client
        .run_with_input(
            &["login", "--username", username, "--password-stdin"],
            PASSWORD,
        )
        .success();
}

/// Signs `username` up, logs `client` in and enables two-factor authentication with `locara 2fa enable`;
/// returns the authenticator holding the account's secret.
pub fn sign_up_with_two_factor(client: &Client, username: &str) -> Authenticator {
    sign_up_and_log_in(client, username);
    let started = client.run(&["--json", "2fa", "enable"]).success().json();
    let mut authenticator = Authenticator::new(started["secret"].as_str().unwrap());
    let code = authenticator.code();
    let enabled = client
        .run(&["--json", "2fa", "enable", "--otp", &code])
        .success()
        .json();
    assert_eq!(enabled["status"], "enabled", "{enabled}");
    authenticator
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

impl Canned {
    /// A JSON response.
    pub fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            content_type: "application/json".to_owned(),
            body: serde_json::to_vec(body).unwrap(),
        }
    }

    /// A plain-text response.
    pub fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8".to_owned(),
            body: body.as_bytes().to_vec(),
        }
    }
}

/// The `locara.toml` of the test app `alice/notes` 1.0.0 (docs/manifest.md).
pub const NOTES_MANIFEST: &str = r#"[app]
name = "alice/notes"
version = "1.0.0"
description = "Notes, searched locally"
license = "MIT"
source = "https://git.example/alice/notes"

[build]
command = ["sh", "-c", "mkdir -p out && echo hi > out/hi"]
outputs = { "bin/hi" = "out/hi" }
entry = "bin/hi"
"#;

/// A real git repository holding an app, made with `git` under fixed identities and dates and without
/// the user's or system's git configuration.
pub struct AppRepository {
    _dir: tempfile::TempDir,
    /// The work tree (canonical, absolute).
    pub root: PathBuf,
}

impl AppRepository {
    /// A repository whose one commit holds `manifest` as `locara.toml`.
    pub fn new(manifest: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap().join("notes");
        std::fs::create_dir(&root).unwrap();
        let repository = Self { _dir: dir, root };
        repository.git(&["init", "--quiet", "--initial-branch=main"]);
        repository.commit_file("locara.toml", manifest, "notes 1.0.0");
        repository
    }

    /// Runs `git ARGS` in the work tree and returns its trimmed stdout; panics if git fails.
    #[track_caller]
    pub fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .arg("-C")
            .arg(&self.root)
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Alice")
            .env("GIT_AUTHOR_EMAIL", "alice@example.test")
            .env("GIT_COMMITTER_NAME", "Alice")
            .env("GIT_COMMITTER_EMAIL", "alice@example.test")
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .output()
            .expect("git runs (it is installed with the test tools)");
        assert!(output.status.success(), "git {args:?} failed: {output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    /// Writes `name` and commits it.
    pub fn commit_file(&self, name: &str, content: &str, message: &str) {
        std::fs::write(self.root.join(name), content).unwrap();
        self.git(&["add", name]);
        self.git(&["commit", "--quiet", "-m", message]);
    }

    /// The full id of HEAD.
    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// `file://` and the work tree's absolute path: what the app is registered with for a registry on
    /// this machine.
    pub fn file_url(&self) -> String {
        format!("file://{}", self.root.display())
    }

    /// The work tree as a string, for `--path`.
    pub fn path(&self) -> &str {
        self.root.to_str().unwrap()
    }
}

/// A registry (queued builds stay queued: no build workers) with a DNS server, and a client logged in
/// as `alice` with two-factor authentication, whose personal publisher is verified by DNS, with a local
/// key `default` registered for it, and the app `alice/notes` registered with a local git repository.
pub struct Publishing {
    /// The registry and the client.
    pub world: World,
    /// Alice's authenticator.
    pub authenticator: Authenticator,
    /// The app's repository.
    pub repository: AppRepository,
    _dns: DnsServer,
    runtime: tokio::runtime::Runtime,
}

/// The domain alice's publisher is verified with.
pub const ALICE_DOMAIN: &str = "alice.example.test";

impl Publishing {
    /// Sets everything up, with `environment` for the registry besides the DNS resolver and no workers.
    pub fn start_with(environment: &[(&str, &str)]) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let dns = runtime.block_on(DnsServer::start("example.test")).unwrap();
        let resolver = dns.address().to_string();
        let mut settings = vec![
            ("LOCARA_REGISTRY_DNS_RESOLVER", resolver.as_str()),
            ("LOCARA_REGISTRY_BUILD_WORKERS", "0"),
        ];
        settings.extend_from_slice(environment);
        let world = World::start_with(&settings);
        let client = &world.client;
        let mut authenticator = world.sign_up_with_two_factor("alice");
        let challenge = client
            .run(&[
                "--json",
                "publisher",
                "verify",
                "alice",
                "--dns",
                ALICE_DOMAIN,
            ])
            .success()
            .json();
        let record = challenge["record_value"].as_str().unwrap();
        runtime
            .block_on(dns.set_txt("_locara-challenge.alice.example.test", &[record]))
            .unwrap();
        client
            .run(&[
                "publisher",
                "verify",
                "alice",
                "--dns",
                ALICE_DOMAIN,
                "--check",
                "--otp",
                &authenticator.code(),
            ])
            .success();
        client.run(&["keys", "generate"]).success();
        client
            .run(&[
                "keys",
                "register",
                "--publisher",
                "alice",
                "--otp",
                &authenticator.code(),
            ])
            .success();
        let repository = AppRepository::new(NOTES_MANIFEST);
        client
            .run(&[
                "app",
                "register",
                "alice/notes",
                "--repository",
                &repository.file_url(),
                "--otp",
                &authenticator.code(),
            ])
            .success();
        Self {
            world,
            authenticator,
            repository,
            _dns: dns,
            runtime,
        }
    }

    /// [`Publishing::start_with`] without extra settings.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.world.client
    }

    /// The runtime the DNS server runs on, for other async test servers.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// Publishes `record` as the TXT record of `name` on the test DNS server.
    pub fn set_txt(&self, name: &str, record: &str) {
        self.runtime
            .block_on(self._dns.set_txt(name, &[record]))
            .unwrap();
    }
}

/// A stand-in registry on a [`StaticServer`]: a root of trust (index role: `key(40)`), pinned by a fresh
/// client as `main`, with a stored API token. Tests put the API answers they need.
pub struct FakeRegistry {
    /// The server.
    pub server: StaticServer,
    /// The client, pinned to it and "logged in".
    pub client: Client,
}

/// The API token the [`FakeRegistry`]'s client holds.
pub const FAKE_TOKEN: &str = "locara_pat_fake0123";

impl FakeRegistry {
    /// Starts it and pins it.
    pub fn start() -> Self {
        let server = StaticServer::start();
        let root = root_bytes(1, &key(10), &[&key(10)], far_future());
        server.serve_roots(&[&root]);
        let client = Client::new();
        client
            .run(&[
                "registry",
                "add",
                "main",
                &server.url,
                "--root",
                &digest_of(&root),
            ])
            .success();
        locara_cli::credentials::CredentialStore::new(&client.dirs())
            .save(
                &"main".parse().unwrap(),
                &locara_cli::credentials::ApiToken::new(FAKE_TOKEN).unwrap(),
            )
            .unwrap();
        Self { server, client }
    }
}
