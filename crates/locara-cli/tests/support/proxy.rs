//! A tampering HTTP/1.1 proxy on loopback: forwards each request to the real registry behind it, except
//! for paths a test has replaced, which it answers itself. It is the attacker on the wire (or a malicious
//! mirror) of the install tests, and the stable address of a registry that restarts on another port.
//!
//! One request per connection: every answer says `Connection: close`, so the client opens a new
//! connection for the next request and each one is looked at.
//!
//! Besides fixed answers it can answer with endless data (no `Content-Length`, bytes until the client
//! hangs up or [`ENDLESS_LIMIT`] is reached) or with a body and no `Content-Length`, and it counts what it
//! sent for each replaced target.

#![allow(dead_code)] // each test file uses a part

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The most bytes an endless answer sends before it gives up (so a client that never stops reading makes
/// the test fail on what it read, not run for ever).
pub const ENDLESS_LIMIT: u64 = 256 * 1024 * 1024;

/// A replaced answer.
#[derive(Debug, Clone)]
enum Replacement {
    /// Status and body, with its true `Content-Length`.
    Fixed(u16, Vec<u8>),
    /// 200 and the body with no `Content-Length` (it ends when the connection closes).
    Unannounced(Vec<u8>),
    /// 200, no `Content-Length`, and bytes until the client hangs up (or [`ENDLESS_LIMIT`]).
    Endless,
}

#[derive(Default)]
struct Shared {
    /// `127.0.0.1:<port>` of the registry behind the proxy.
    upstream: Mutex<String>,
    /// Answers by request target (path and query; a key ending in `*` matches every target it starts),
    /// instead of the registry's.
    replaced: Mutex<HashMap<String, Replacement>>,
    /// Body bytes written for each replaced key.
    sent: Mutex<HashMap<String, u64>>,
}

impl Shared {
    /// The replacement for `target` and its key: an exact key first, then the longest `*` prefix.
    fn replacement(&self, target: &str) -> Option<(String, Replacement)> {
        let replaced = self.replaced.lock().unwrap();
        if let Some(found) = replaced.get(target) {
            return Some((target.to_owned(), found.clone()));
        }
        replaced
            .iter()
            .filter(|(key, _)| {
                key.strip_suffix('*')
                    .is_some_and(|prefix| target.starts_with(prefix))
            })
            .max_by_key(|(key, _)| key.len())
            .map(|(key, found)| (key.clone(), found.clone()))
    }

    fn count(&self, key: &str, bytes: u64) {
        *self.sent.lock().unwrap().entry(key.to_owned()).or_default() += bytes;
    }
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    address: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy with no registry behind it yet (requests fail until [`Proxy::set_upstream`]).
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (shared, stop) = (shared.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let shared = shared.clone();
                        std::thread::spawn(move || serve(stream, &shared));
                    }
                }
            })
        };
        Self {
            url: format!("http://{address}"),
            shared,
            stop,
            address,
            thread: Some(thread),
        }
    }

    /// Forwards to the registry at `url` (`http://127.0.0.1:<port>`) from now on.
    pub fn set_upstream(&self, url: &str) {
        let authority = url
            .strip_prefix("http://")
            .expect("an http:// URL")
            .trim_end_matches('/');
        *self.shared.upstream.lock().unwrap() = authority.to_owned();
    }

    /// Answers `target` (a path with any query, e.g. `/log/entries/7`) with `body` and 200 instead of
    /// forwarding it.
    pub fn replace(&self, target: &str, body: &[u8]) {
        self.respond(target, 200, body);
    }

    /// Answers `target` with `status` and `body` instead of forwarding it.
    pub fn respond(&self, target: &str, status: u16, body: &[u8]) {
        self.set(target, Replacement::Fixed(status, body.to_vec()));
    }

    /// Answers `target` with 200 and `body`, announcing no length (the body ends with the connection).
    pub fn respond_unannounced(&self, target: &str, body: &[u8]) {
        self.set(target, Replacement::Unannounced(body.to_vec()));
    }

    /// Answers `target` (a key ending in `*` matches every target it starts) with endless data.
    pub fn respond_endlessly(&self, target: &str) {
        self.set(target, Replacement::Endless);
    }

    /// How many body bytes the proxy sent for the replaced `target` key so far.
    pub fn sent(&self, target: &str) -> u64 {
        self.shared
            .sent
            .lock()
            .unwrap()
            .get(target)
            .copied()
            .unwrap_or(0)
    }

    fn set(&self, target: &str, replacement: Replacement) {
        self.shared
            .replaced
            .lock()
            .unwrap()
            .insert(target.to_owned(), replacement);
    }

    /// Forwards every request again.
    pub fn restore_all(&self) {
        self.shared.replaced.lock().unwrap().clear();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads up to the end of the head (`\r\n\r\n`); `None` if the peer closed first.
fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 {
            return None;
        }
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(head)
}

/// The head's lines other than the first, without any `Connection` (and, for requests, `Keep-Alive`)
/// header, each ending in CRLF.
fn headers_without_connection(lines: &[&str]) -> (String, usize) {
    let mut kept = String::new();
    let mut content_length = 0;
    for line in lines.iter().filter(|line| !line.is_empty()) {
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if name == "connection" || name == "keep-alive" {
            continue;
        }
        if name == "content-length" {
            content_length = line
                .split_once(':')
                .and_then(|(_, value)| value.trim().parse().ok())
                .unwrap_or(0);
        }
        kept.push_str(line);
        kept.push_str("\r\n");
    }
    (kept, content_length)
}

/// Writes a replaced answer and closes the connection.
fn answer(client: &mut TcpStream, shared: &Shared, key: &str, replacement: Replacement) {
    let head = |length: Option<usize>, status: u16| {
        let length = length.map_or_else(String::new, |length| {
            format!("Content-Length: {length}\r\n")
        });
        format!(
            "HTTP/1.1 {status} Replaced\r\nContent-Type: application/octet-stream\r\n{length}Connection: close\r\n\r\n"
        )
    };
    let write_body = |client: &mut TcpStream, body: &[u8]| {
        let written = client.write_all(body).is_ok();
        if written {
            shared.count(key, body.len() as u64);
        }
        written
    };
    match replacement {
        Replacement::Fixed(status, body) => {
            let _ = client.write_all(head(Some(body.len()), status).as_bytes());
            write_body(client, &body);
        }
        Replacement::Unannounced(body) => {
            let _ = client.write_all(head(None, 200).as_bytes());
            write_body(client, &body);
        }
        Replacement::Endless => {
            let _ = client.write_all(head(None, 200).as_bytes());
            let chunk = vec![b'7'; 64 * 1024];
            let mut sent = 0;
            while sent < ENDLESS_LIMIT && write_body(client, &chunk) {
                sent += chunk.len() as u64;
            }
        }
    }
    let _ = client.shutdown(Shutdown::Write);
}

fn serve(mut client: TcpStream, shared: &Shared) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let Some(head) = read_head(&mut client) else {
        return;
    };
    let head = String::from_utf8_lossy(&head).into_owned();
    let lines: Vec<&str> = head.split("\r\n").collect();
    let request_line = lines[0].to_owned();
    let target = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    let (headers, content_length) = headers_without_connection(&lines[1..]);
    let mut body = vec![0u8; content_length];
    if client.read_exact(&mut body).is_err() {
        return;
    }
    if let Some((key, replacement)) = shared.replacement(&target) {
        answer(&mut client, shared, &key, replacement);
        return;
    }
    let upstream_address = shared.upstream.lock().unwrap().clone();
    let Ok(mut upstream) = TcpStream::connect(&upstream_address) else {
        let _ = client.write_all(
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    };
    let _ = upstream.set_read_timeout(Some(Duration::from_secs(60)));
    let request = format!("{request_line}\r\n{headers}Connection: close\r\n\r\n");
    if upstream.write_all(request.as_bytes()).is_err() || upstream.write_all(&body).is_err() {
        return;
    }
    // The answer's head gets `Connection: close` too; the body is passed on as it comes, to the end.
    let Some(answer_head) = read_head(&mut upstream) else {
        return;
    };
    let answer_head = String::from_utf8_lossy(&answer_head).into_owned();
    let answer_lines: Vec<&str> = answer_head.split("\r\n").collect();
    let (answer_headers, _) = headers_without_connection(&answer_lines[1..]);
    let rewritten = format!(
        "{}\r\n{answer_headers}Connection: close\r\n\r\n",
        answer_lines[0]
    );
    if client.write_all(rewritten.as_bytes()).is_err() {
        return;
    }
    let _ = std::io::copy(&mut upstream, &mut client);
    let _ = client.shutdown(Shutdown::Write);
}
