//! The build sandbox against real processes. Each test attacks one protection and would fail without it;
//! every test also checks that the kernel really enforced Landlock and the namespaces, so a machine
//! without them fails loudly instead of passing silently.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use locara_builder::sandbox::{End, Launcher, SandboxError, SandboxOutcome, SandboxSpec, run};
use tempfile::TempDir;

const SYSTEM_READABLE: [&str; 5] = ["/usr", "/bin", "/lib", "/lib64", "/etc/ld.so.cache"];

fn launcher() -> Launcher {
    Launcher {
        program: env!("CARGO_BIN_EXE_locara-sandbox-exec").into(),
        leading_args: Vec::new(),
    }
}

fn spec(checkout: &Path, command: &[&str]) -> SandboxSpec {
    SandboxSpec {
        command: command.iter().map(|part| (*part).to_owned()).collect(),
        working_dir: checkout.to_owned(),
        writable: vec![checkout.to_owned()],
        readable: SYSTEM_READABLE.iter().map(PathBuf::from).collect(),
        env: vec![("PATH".to_owned(), "/usr/bin:/bin".to_owned())],
        wall_clock: Duration::from_secs(20),
        max_log_bytes: 1 << 20,
        max_file_bytes: 1 << 20,
        max_processes: 256,
        max_memory_bytes: 1 << 30,
        max_disk_bytes: 256 << 20,
        tmp_bytes: 16 << 20,
        private_root: true,
        allow_weaker_isolation: false,
    }
}

fn sh(checkout: &Path, script: &str) -> SandboxSpec {
    spec(checkout, &["sh", "-c", script])
}

fn bash(checkout: &Path, script: &str) -> SandboxSpec {
    spec(checkout, &["bash", "-c", script])
}

/// Runs and insists that the protections these tests rely on were in force.
fn run_confined(spec: &SandboxSpec) -> SandboxOutcome {
    let outcome = run(spec, &launcher()).expect("the sandbox runs");
    let enforcement = &outcome.enforcement;
    assert!(
        enforcement.filesystem && enforcement.landlock_abi >= 4,
        "Landlock (ABI >= 4) must be enforced for these tests; got {enforcement:?}"
    );
    assert!(
        enforcement.tcp,
        "Landlock TCP rules must be enforced: {enforcement:?}"
    );
    assert!(
        enforcement.network_namespace && enforcement.pid_namespace && enforcement.user_namespace,
        "namespaces must be in force: {enforcement:?}"
    );
    outcome
}

fn log(outcome: &SandboxOutcome) -> String {
    String::from_utf8_lossy(&outcome.log).into_owned()
}

/// The same shell script outside the sandbox, to show the attack works when unconfined.
fn unconfined(shell: &str, dir: &Path, script: &str) -> std::process::Output {
    Command::new(shell)
        .args(["-c", script])
        .current_dir(dir)
        .output()
        .expect("runs unconfined")
}

/// A `sleep` duration no other process on the machine uses, to find leftovers by command line.
fn unique_sleep() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "1000.{}{:03}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Live (non-zombie) processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let path = entry.path();
        let Ok(cmdline) = fs::read(path.join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let zombie = fs::read_to_string(path.join("stat"))
            .map(|stat| stat.contains(") Z "))
            .unwrap_or(true);
        if cmdline.contains(marker) && !zombie {
            found.push(format!("{}: {cmdline}", path.display()));
        }
    }
    found
}

/// Polls (with a deadline) until no process with `marker` is left.
fn assert_nothing_left(marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = processes_with(marker);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "processes left behind: {left:?}");
        std::thread::yield_now();
    }
}

#[test]
fn tcp_connect_to_a_host_listener_is_denied() {
    let checkout = TempDir::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!("echo hello > /dev/tcp/127.0.0.1/{port} && echo CONNECTED");

    let outcome = run_confined(&bash(checkout.path(), &script));
    assert_eq!(outcome.end, End::Exited(1), "{}", log(&outcome));
    assert!(!log(&outcome).contains("CONNECTED"));
    // EACCES is Landlock's answer; without it the network namespace would say "unreachable".
    assert!(
        log(&outcome).contains("Permission denied"),
        "{}",
        log(&outcome)
    );

    let outside = unconfined("bash", checkout.path(), &script);
    assert!(
        String::from_utf8_lossy(&outside.stdout).contains("CONNECTED"),
        "the same connect works unconfined, so the test can fail"
    );
    let (mut accepted, _) = listener.accept().unwrap();
    let mut received = String::new();
    accepted.read_to_string(&mut received).unwrap();
    assert_eq!(
        received, "hello\n",
        "only the unconfined run reached the listener"
    );
}

#[test]
fn udp_and_dns_queries_to_the_host_never_arrive() {
    let checkout = TempDir::new().unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let port = socket.local_addr().unwrap().port();
    // Something shaped like a DNS query for example.com.
    let script = format!(
        "printf '\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x07example\\x03com\\x00\\x00\\x01\\x00\\x01' > /dev/udp/127.0.0.1/{port} && echo SENT"
    );

    let outcome = run_confined(&bash(checkout.path(), &script));
    assert_eq!(outcome.end, End::Exited(1), "{}", log(&outcome));
    assert!(
        log(&outcome).contains("Network is unreachable")
            || log(&outcome).contains("Permission denied"),
        "{}",
        log(&outcome)
    );
    let mut buffer = [0u8; 512];
    assert!(
        socket.recv(&mut buffer).is_err(),
        "a datagram left the sandbox"
    );

    let outside = unconfined("bash", checkout.path(), &script);
    assert!(String::from_utf8_lossy(&outside.stdout).contains("SENT"));
    socket
        .recv(&mut buffer)
        .expect("the unconfined datagram arrives");
    assert_eq!(&buffer[13..20], b"example");
}

#[test]
fn network_to_anything_fails() {
    let checkout = TempDir::new().unwrap();
    let script = "for target in 1.1.1.1/53 8.8.8.8/443 10.255.255.53/53 192.0.2.1/80; do \
                    (echo x > /dev/tcp/$target) 2>&1 && echo REACHED $target; \
                    (echo x > /dev/udp/$target) 2>&1 && echo REACHED $target; \
                  done; getent hosts example.com && echo RESOLVED; true";
    let outcome = run_confined(&bash(checkout.path(), script));
    let log = log(&outcome);
    assert_eq!(outcome.end, End::Exited(0), "{log}");
    assert!(!log.contains("REACHED"), "{log}");
    assert!(!log.contains("RESOLVED"), "{log}");
}

#[test]
fn writes_outside_the_writable_directories_fail_with_eacces() {
    let checkout = TempDir::new().unwrap();
    let elsewhere = TempDir::new().unwrap();
    let script = format!(
        "echo ok > built.txt && echo BUILT; \
         echo x > {elsewhere}/planted && echo PLANTED; \
         echo x > /tmp/locara-sandbox-escape-{pid} && echo TMP; \
         mkdir {elsewhere}/dir && echo MKDIR; true",
        elsewhere = elsewhere.path().display(),
        pid = std::process::id(),
    );
    let outcome = run_confined(&sh(checkout.path(), &script));
    let log = log(&outcome);
    assert!(log.contains("BUILT"), "{log}");
    assert_eq!(
        fs::read_to_string(checkout.path().join("built.txt")).unwrap(),
        "ok\n"
    );
    for escaped in ["PLANTED", "MKDIR"] {
        assert!(!log.contains(escaped), "{escaped} in {log}");
    }
    // The other temporary directory is not in the private root at all; /tmp is the sandbox's own.
    assert!(log.contains("Directory nonexistent"), "{log}");
    assert!(log.contains("No such file or directory"), "{log}");
    assert!(log.contains("TMP"), "the private /tmp is writable: {log}");
    assert!(!elsewhere.path().join("planted").exists());
    assert!(!elsewhere.path().join("dir").exists());
    let tmp_file = format!("/tmp/locara-sandbox-escape-{}", std::process::id());
    assert!(!Path::new(&tmp_file).exists());

    // Unconfined, the same script plants the file: the test can fail.
    let outside = unconfined("sh", checkout.path(), &script);
    assert!(String::from_utf8_lossy(&outside.stdout).contains("PLANTED"));
    let _ = fs::remove_file(tmp_file);
}

#[test]
fn reading_a_directory_that_is_not_listed_fails() {
    let checkout = TempDir::new().unwrap();
    let secrets = TempDir::new().unwrap();
    fs::write(secrets.path().join("secret"), "hunter2\n").unwrap();
    let script = format!(
        "cat {secrets}/secret; ls {secrets}; cat /etc/shadow; ls /; true",
        secrets = secrets.path().display()
    );
    let outcome = run_confined(&sh(checkout.path(), &script));
    let log = log(&outcome);
    assert!(!log.contains("hunter2"), "{log}");
    assert!(!log.contains("secret\n"), "the listing leaked: {log}");
    // Neither exists in the private root; listing / is denied by Landlock.
    assert!(
        log.contains(&format!(
            "{}/secret: No such file or directory",
            secrets.path().display()
        )),
        "{log}"
    );
    assert!(
        log.contains("/etc/shadow: No such file or directory"),
        "{log}"
    );
    assert!(log.contains("Permission denied"), "{log}");

    let outside = unconfined("sh", checkout.path(), &script);
    assert!(String::from_utf8_lossy(&outside.stdout).contains("hunter2"));
}

#[test]
fn sleep_is_killed_at_the_wall_clock_limit_and_its_group_is_gone() {
    let checkout = TempDir::new().unwrap();
    let marker = unique_sleep();
    let mut spec = spec(checkout.path(), &["sleep", &marker]);
    spec.wall_clock = Duration::from_secs(1);
    let outcome = run_confined(&spec);
    assert_eq!(outcome.end, End::TimedOut);
    assert!(outcome.duration >= Duration::from_secs(1));
    assert!(
        outcome.duration < Duration::from_secs(4),
        "{:?}",
        outcome.duration
    );
    assert_nothing_left(&marker);
}

#[test]
fn background_children_are_killed_at_the_limit() {
    let checkout = TempDir::new().unwrap();
    let marker = unique_sleep();
    let mut spec = sh(
        checkout.path(),
        &format!("sleep {marker} & sleep {marker} & (sleep {marker} &) ; wait"),
    );
    spec.wall_clock = Duration::from_secs(1);
    let outcome = run_confined(&spec);
    assert_eq!(outcome.end, End::TimedOut);
    assert_nothing_left(&marker);
}

#[test]
fn children_that_leave_the_process_group_are_killed_too() {
    let checkout = TempDir::new().unwrap();
    let marker = unique_sleep();
    let mut spec = sh(
        checkout.path(),
        &format!("setsid sleep {marker} & setsid -f sleep {marker}; exec setsid sleep {marker}"),
    );
    spec.wall_clock = Duration::from_secs(1);
    let outcome = run_confined(&spec);
    assert_eq!(outcome.end, End::TimedOut, "{}", log(&outcome));
    assert_nothing_left(&marker);
}

#[test]
fn a_daemon_left_by_a_finished_build_is_killed() {
    let checkout = TempDir::new().unwrap();
    let marker = unique_sleep();
    let spec = sh(
        checkout.path(),
        &format!("setsid -f sleep {marker} > /dev/null 2>&1; echo done"),
    );
    let outcome = run_confined(&spec);
    assert_eq!(outcome.end, End::Exited(0), "{}", log(&outcome));
    assert!(outcome.duration < Duration::from_secs(10));
    assert_nothing_left(&marker);
}

#[test]
fn output_over_the_cap_ends_with_log_limit() {
    let checkout = TempDir::new().unwrap();
    let mut spec = spec(checkout.path(), &["yes", "spam"]);
    spec.max_log_bytes = 64 * 1024;
    let outcome = run_confined(&spec);
    assert_eq!(outcome.end, End::LogLimit);
    assert_eq!(outcome.log.len(), 64 * 1024);
    assert!(outcome.log.starts_with(b"spam\nspam\n"));
}

#[test]
fn the_environment_is_exactly_the_given_one() {
    let checkout = TempDir::new().unwrap();
    let mut spec = spec(checkout.path(), &["env"]);
    spec.env = vec![
        ("PATH".to_owned(), "/usr/bin:/bin".to_owned()),
        ("HOME".to_owned(), checkout.path().display().to_string()),
        ("SOURCE_DATE_EPOCH".to_owned(), "1700000000".to_owned()),
        ("WITH_SPACE".to_owned(), "a b=c".to_owned()),
    ];
    let outcome = run_confined(&spec);
    assert_eq!(outcome.end, End::Exited(0));
    // Exactly these variables, nothing added (the order is by name, as std's Command sorts them).
    let mut expected: Vec<String> = spec
        .env
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    expected.sort();
    assert_eq!(log(&outcome).lines().collect::<Vec<_>>(), expected);
}

#[test]
fn a_file_over_the_size_limit_fails() {
    let checkout = TempDir::new().unwrap();
    let mut spec = spec(
        checkout.path(),
        &["dd", "if=/dev/zero", "of=big", "bs=65536", "count=64"],
    );
    spec.max_file_bytes = 1 << 20;
    let outcome = run_confined(&spec);
    const SIGXFSZ: i32 = 25;
    assert_eq!(outcome.end, End::Signalled(SIGXFSZ), "{}", log(&outcome));
    assert_eq!(
        fs::metadata(checkout.path().join("big")).unwrap().len(),
        1 << 20
    );
}

#[test]
fn a_command_that_does_not_exist_exits_127() {
    let checkout = TempDir::new().unwrap();
    let outcome = run_confined(&spec(checkout.path(), &["no-such-program-locara"]));
    assert_eq!(outcome.end, End::Exited(127));
    assert!(log(&outcome).contains("no-such-program-locara"));
}

#[test]
fn a_writable_path_that_does_not_exist_is_a_setup_error() {
    let checkout = TempDir::new().unwrap();
    let mut spec = spec(checkout.path(), &["true"]);
    spec.writable.push(checkout.path().join("missing"));
    match run(&spec, &launcher()) {
        Err(SandboxError::Setup { message }) => assert!(message.contains("missing"), "{message}"),
        other => panic!("expected a setup error, got {other:?}"),
    }
}

#[test]
fn a_launcher_that_reports_nothing_is_an_error() {
    let checkout = TempDir::new().unwrap();
    let not_a_launcher = Launcher {
        program: "/bin/echo".into(),
        leading_args: Vec::new(),
    };
    match run(&spec(checkout.path(), &["true"]), &not_a_launcher) {
        Err(SandboxError::NoReport { log_excerpt, .. }) => {
            assert!(log_excerpt.contains("launch"), "{log_excerpt}");
        }
        other => panic!("expected NoReport, got {other:?}"),
    }
}

#[test]
fn a_relative_path_is_refused_before_anything_runs() {
    let mut spec = spec(Path::new("/tmp"), &["true"]);
    spec.readable.push("usr/lib".into());
    assert!(matches!(
        run(&spec, &launcher()),
        Err(SandboxError::InvalidSpec { .. })
    ));
}

#[test]
fn leading_arguments_reach_a_launcher_behind_a_host_binary() {
    // `env` stands in for a host binary whose hidden subcommand is the launcher: it passes the
    // launcher path as a leading argument, and the launcher must re-execute itself correctly.
    let checkout = TempDir::new().unwrap();
    let host = Launcher {
        program: "/usr/bin/env".into(),
        leading_args: vec![env!("CARGO_BIN_EXE_locara-sandbox-exec").into()],
    };
    let outcome = run(&sh(checkout.path(), "echo through-host"), &host).unwrap();
    assert_eq!(outcome.end, End::Exited(0), "{}", log(&outcome));
    assert_eq!(log(&outcome), "through-host\n");
    assert!(outcome.enforcement.filesystem);
}

#[test]
fn an_unprivileged_launcher_confines_itself_in_a_user_namespace() {
    // As root, drop to `nobody` with setpriv before the launcher runs, to exercise the rootless path.
    if !nix::unistd::getuid().is_root() {
        // Not root: every other test already ran the unprivileged path.
        return;
    }
    let checkout = TempDir::new().unwrap();
    let mut permissions = fs::metadata(checkout.path()).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o777);
    fs::set_permissions(checkout.path(), permissions).unwrap();
    let unprivileged = Launcher {
        program: "/usr/bin/setpriv".into(),
        leading_args: vec![
            "--reuid=65534".into(),
            "--regid=65534".into(),
            "--clear-groups".into(),
            env!("CARGO_BIN_EXE_locara-sandbox-exec").into(),
        ],
    };
    let outcome = run(
        &sh(checkout.path(), "id -u; echo x > made; cat /etc/hostname"),
        &unprivileged,
    )
    .unwrap();
    assert!(outcome.enforcement.user_namespace && outcome.enforcement.filesystem);
    let log = log(&outcome);
    assert!(log.starts_with("65534\n"), "{log}");
    // Not granted, so not in the private root at all.
    assert!(
        log.contains("/etc/hostname: No such file or directory"),
        "{log}"
    );
    assert!(
        outcome.enforcement.private_root,
        "{:?}",
        outcome.enforcement
    );
    assert!(checkout.path().join("made").exists());
}

#[test]
fn enforcement_is_reported() {
    let checkout = TempDir::new().unwrap();
    let outcome = run_confined(&spec(checkout.path(), &["true"]));
    let enforcement = outcome.enforcement;
    assert!(enforcement.scopes || enforcement.landlock_abi < 6);
    assert_eq!(
        enforcement.missing_filesystem_rights.is_empty(),
        enforcement.landlock_abi >= 9
    );
    // gaps() names exactly what is not in force.
    assert_eq!(enforcement.gaps().is_empty(), enforcement.is_complete());
    let mut with_missing_dir = spec(checkout.path(), &["true"]);
    with_missing_dir.readable.push("/no/such/dir".into());
    let outcome = run_confined(&with_missing_dir);
    assert_eq!(
        outcome.enforcement.skipped_readable,
        vec![PathBuf::from("/no/such/dir")]
    );
    let _ = std::io::stdout().flush();
}

/// Set in the environment of the helper below when another test starts it as a supervisor to kill.
const SUPERVISOR_MARKER_VAR: &str = "LOCARA_TEST_SUPERVISOR_MARKER";

/// Not a test on its own: the supervisor process of `a_sandbox_dies_with_its_supervisor`.
#[test]
#[ignore = "started by a_sandbox_dies_with_its_supervisor"]
fn supervisor_helper() {
    let Ok(marker) = std::env::var(SUPERVISOR_MARKER_VAR) else {
        return;
    };
    let checkout = TempDir::new().unwrap();
    let mut spec = spec(checkout.path(), &["sleep", &marker]);
    spec.wall_clock = Duration::from_secs(600);
    let _ = run(&spec, &launcher());
}

#[test]
fn a_sandbox_dies_with_its_supervisor() {
    // If the builder process dies, nobody enforces the wall clock any more: the sandbox must die too.
    let marker = unique_sleep();
    let mut supervisor = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "supervisor_helper",
            "--ignored",
            "--test-threads=1",
        ])
        .env(SUPERVISOR_MARKER_VAR, &marker)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while processes_with(&format!("sleep {marker}")).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the sandboxed sleep never started"
        );
        assert!(
            supervisor.try_wait().unwrap().is_none(),
            "the supervisor ended early"
        );
        std::thread::yield_now();
    }
    supervisor.kill().unwrap();
    supervisor.wait().unwrap();
    assert_nothing_left(&marker);
}

// Issue 10: what a hostile build tries against the host's sockets, secrets and resources.

/// A Unix socket listener in the host's `/tmp`, answering every connection with `SECRET`.
fn host_socket_in_tmp() -> (PathBuf, std::os::unix::net::UnixListener) {
    let path = PathBuf::from(format!(
        "/tmp/locara-test-host-{}-{}.sock",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    (path, listener)
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Answers connections on `listener` with `SECRET` until the test ends; returns how many arrived.
fn answer_secret(listener: std::os::unix::net::UnixListener) -> std::sync::Arc<AtomicU32> {
    let count = std::sync::Arc::new(AtomicU32::new(0));
    let counted = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut stream = stream;
            // Read the request first: closing with unread bytes would reset the connection.
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nSECRET");
        }
    });
    count
}

#[test]
fn a_unix_socket_in_the_hosts_tmp_does_not_exist_inside() {
    let checkout = TempDir::new().unwrap();
    let (path, listener) = host_socket_in_tmp();
    let arrived = answer_secret(listener);
    let script = format!(
        "curl -sS --max-time 5 --unix-socket {socket} http://host/ && echo REACHED",
        socket = path.display()
    );
    let outcome = run_confined(&sh(checkout.path(), &script));
    let log = log(&outcome);
    assert!(!log.contains("SECRET") && !log.contains("REACHED"), "{log}");
    assert!(log.contains("Couldn't connect"), "{log}");
    assert!(outcome.enforcement.private_root);
    assert_eq!(arrived.load(Ordering::SeqCst), 0, "a connection arrived");

    let outside = unconfined("sh", checkout.path(), &script);
    assert!(
        String::from_utf8_lossy(&outside.stdout).contains("SECRET"),
        "unconfined, the same curl reaches the socket, so the test can fail"
    );
    let _ = fs::remove_file(path);
}

#[test]
fn an_abstract_unix_socket_of_the_host_is_unreachable() {
    use std::os::linux::net::SocketAddrExt;
    let checkout = TempDir::new().unwrap();
    let name = format!("locara-test-abstract-{}", std::process::id());
    let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind_addr(&address).unwrap();
    let arrived = answer_secret(listener);
    let script =
        format!("curl -sS --max-time 5 --abstract-unix-socket {name} http://host/ && echo REACHED");
    let outcome = run_confined(&sh(checkout.path(), &script));
    let log = log(&outcome);
    assert!(!log.contains("SECRET") && !log.contains("REACHED"), "{log}");
    assert!(log.contains("Couldn't connect"), "{log}");
    assert_eq!(arrived.load(Ordering::SeqCst), 0, "a connection arrived");

    let outside = unconfined("sh", checkout.path(), &script);
    assert!(
        String::from_utf8_lossy(&outside.stdout).contains("SECRET"),
        "unconfined, the same curl reaches the abstract socket, so the test can fail"
    );
}

/// PostgreSQL's client, called directly (Debian's `psql` is a wrapper that reads `/etc`).
fn psql() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|entry| entry.path().join("bin/psql"))
        .filter(|path| path.exists())
        .collect();
    found.sort();
    found.pop()
}

#[test]
fn the_machines_postgresql_is_unreachable_by_socket_and_by_tcp() {
    let socket_dir = Path::new("/var/run/postgresql");
    let required = std::env::var("LOCARA_TEST_POSTGRES").ok();
    let (Some(psql), true) = (psql(), socket_dir.join(".s.PGSQL.5432").exists()) else {
        assert!(
            required.is_none(),
            "LOCARA_TEST_POSTGRES is set, so PostgreSQL and psql must be on this machine"
        );
        eprintln!("no local PostgreSQL: skipped");
        return;
    };
    // LOCARA_TEST_POSTGRES's host and port for TCP, as the test suite connects.
    let url = required.unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let authority = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|rest| rest.rsplit('@').next())
        .unwrap();
    let (host, port) = authority.rsplit_once(':').unwrap_or((authority, "5432"));
    let checkout = TempDir::new().unwrap();
    let mut spec = sh(
        checkout.path(),
        &format!(
            "{psql} -h {socket} -U postgres -d test -Atc 'select current_user' && echo VIA-SOCKET; \
             {psql} -h {host} -p {port} -U postgres -d test -Atc 'select current_user' && echo VIA-TCP; \
             true",
            psql = psql.display(),
            socket = socket_dir.display(),
        ),
    );
    spec.readable.push("/etc".into());
    spec.env
        .push(("HOME".into(), checkout.path().display().to_string()));
    let outcome = run_confined(&spec);
    let log = log(&outcome);
    assert!(
        !log.contains("VIA-SOCKET") && !log.contains("VIA-TCP"),
        "{log}"
    );
    assert!(
        !log.contains("\npostgres\n") && !log.starts_with("postgres\n"),
        "{log}"
    );
    assert!(
        log.contains(".s.PGSQL.5432\" failed: No such file or directory"),
        "the socket must not exist inside: {log}"
    );

    let outside = unconfined("sh", checkout.path(), &spec.command[2]);
    let stdout = String::from_utf8_lossy(&outside.stdout);
    assert!(
        stdout.contains("VIA-SOCKET") && stdout.contains("VIA-TCP"),
        "unconfined, psql reaches PostgreSQL both ways, so the test can fail: {stdout} {}",
        String::from_utf8_lossy(&outside.stderr)
    );
}

#[test]
fn root_only_files_and_home_directories_stay_out_of_reach() {
    let checkout = TempDir::new().unwrap();
    let script = "cat /etc/shadow; cat /root/.bashrc /root/.profile; ls -A /root /home; \
                  id -u; true";
    // Even with all of /etc granted, /etc/shadow is root's and the command is not root.
    let mut spec = sh(checkout.path(), script);
    spec.readable.push("/etc".into());
    let outcome = run_confined(&spec);
    let log = log(&outcome);
    assert!(log.contains("/etc/shadow: Permission denied"), "{log}");
    assert!(
        log.contains("/root/.bashrc: No such file or directory"),
        "{log}"
    );
    assert!(log.contains("/home': No such file or directory"), "{log}");
    assert!(!log.contains("root:"), "{log}");
    if nix::unistd::getuid().is_root() {
        assert!(
            log.contains(&format!("\n{}\n", locara_builder::sandbox::BUILD_UID)),
            "{log}"
        );
        assert_eq!(
            outcome.enforcement.command_uid,
            locara_builder::sandbox::BUILD_UID
        );
        let outside = unconfined("sh", checkout.path(), script);
        assert!(
            String::from_utf8_lossy(&outside.stdout).contains("root:"),
            "unconfined, root reads /etc/shadow, so the test can fail"
        );
    }
}

#[test]
fn a_fork_bomb_is_stopped_at_the_process_limit() {
    let checkout = TempDir::new().unwrap();
    let mut spec = bash(
        checkout.path(),
        "bomb() { bomb | bomb & }; bomb; wait; sleep 100",
    );
    spec.max_processes = 64;
    spec.wall_clock = Duration::from_secs(60);
    let started = Instant::now();
    let outcome = run_confined(&spec);
    assert_eq!(outcome.end, End::ProcessLimit, "{}", log(&outcome));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "stopped by the process limit, not the wall clock"
    );
    assert_nothing_left("bomb");
}

#[test]
fn a_memory_hog_cannot_allocate_past_the_limit() {
    let checkout = TempDir::new().unwrap();
    // tail keeps the last line in memory until it ends; a line of 1 GiB needs 1 GiB.
    let script = "head -c 1073741824 /dev/zero | tail -n 1 > /dev/null && echo ALLOCATED";
    let mut spec = sh(checkout.path(), script);
    spec.max_memory_bytes = 64 << 20;
    let outcome = run_confined(&spec);
    let log = log(&outcome);
    assert!(!log.contains("ALLOCATED"), "{log}");
    assert!(
        log.contains("memory exhausted") || log.contains("Cannot allocate"),
        "{log}"
    );
}

#[test]
fn filling_the_disk_with_small_files_is_stopped_at_the_disk_limit() {
    let checkout = TempDir::new().unwrap();
    // Each file is under the per-file limit; together they pass the disk limit.
    let script = "i=0; while [ $i -lt 2000 ]; do head -c 524288 /dev/zero > f$i || exit 3; \
                  i=$((i+1)); done; echo FILLED";
    let mut spec = sh(checkout.path(), script);
    spec.max_disk_bytes = 16 << 20;
    let outcome = run_confined(&spec);
    assert_eq!(outcome.end, End::DiskLimit, "{}", log(&outcome));
    assert!(!log(&outcome).contains("FILLED"));
    let used = locara_builder::sandbox::disk_usage(checkout.path());
    assert!(used < 1 << 30, "stopped long before 1 GiB: {used} bytes");
}

#[test]
fn the_private_tmp_is_bounded_and_private() {
    let checkout = TempDir::new().unwrap();
    let marker = format!("/tmp/locara-test-private-{}", std::process::id());
    let script = format!(
        "echo inside > {marker} && cat {marker}; head -c 33554432 /dev/zero > /tmp/big; \
         ls -A /tmp | wc -l; ls /dev"
    );
    let mut spec = sh(checkout.path(), &script);
    spec.tmp_bytes = 8 << 20;
    spec.max_file_bytes = 64 << 20;
    let outcome = run_confined(&spec);
    let log = log(&outcome);
    assert!(log.starts_with("inside\n"), "{log}");
    assert!(log.contains("No space left on device"), "{log}");
    assert!(
        !Path::new(&marker).exists(),
        "the sandbox's /tmp is not the host's"
    );
}

#[test]
fn without_a_private_root_a_kernel_without_unix_socket_rules_is_refused() {
    let checkout = TempDir::new().unwrap();
    let mut spec = sh(checkout.path(), "echo RAN");
    spec.private_root = false;
    match run(&spec, &launcher()) {
        Err(SandboxError::Setup { message }) => {
            assert!(message.contains("named UNIX sockets"), "{message}");
            assert!(message.contains("allow_weaker_isolation"), "{message}");
        }
        Ok(outcome) => {
            // Only a kernel whose Landlock denies connecting to named sockets may run it.
            assert!(
                outcome.enforcement.named_sockets_isolated(),
                "ran without a private root on a kernel that cannot isolate sockets: {outcome:?}"
            );
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
    // Allowed explicitly, it runs, and says what it lacks.
    spec.allow_weaker_isolation = true;
    let outcome = run(&spec, &launcher()).unwrap();
    assert!(log(&outcome).contains("RAN"));
    assert!(!outcome.enforcement.private_root);
    assert!(
        outcome
            .enforcement
            .gaps()
            .iter()
            .any(|gap| gap.contains("no private root"))
    );
}

#[test]
fn forks_past_the_process_limit_are_refused_by_the_kernel() {
    let checkout = TempDir::new().unwrap();
    // dash gives up at the first failed fork: the limit, not the watcher, stops it.
    let mut spec = sh(
        checkout.path(),
        "i=0; while [ $i -lt 100 ]; do sleep 5 & i=$((i+1)); done; echo FORKED $i",
    );
    spec.max_processes = 48;
    let outcome = run_confined(&spec);
    let log = log(&outcome);
    assert!(log.contains("Cannot fork"), "{log}");
    assert!(!log.contains("FORKED 100"), "{log}");
}

#[test]
fn handing_the_checkout_to_the_build_user_does_not_follow_its_links() {
    use std::os::unix::fs::MetadataExt;
    if !nix::unistd::getuid().is_root() {
        // Only a root launcher hands paths over.
        return;
    }
    // A publisher's checkout may hold links to anywhere; the hand-over must not give their targets away.
    let checkout = TempDir::new().unwrap();
    let host_dir = TempDir::new().unwrap();
    fs::write(host_dir.path().join("kept"), "root's\n").unwrap();
    std::os::unix::fs::symlink(host_dir.path(), checkout.path().join("link")).unwrap();
    std::os::unix::fs::symlink(
        host_dir.path().join("kept"),
        checkout.path().join("file-link"),
    )
    .unwrap();
    let outcome = run_confined(&sh(checkout.path(), "id -u > made"));
    assert_eq!(outcome.end, End::Exited(0), "{}", log(&outcome));
    let build_uid = locara_builder::sandbox::BUILD_UID;
    assert_eq!(
        fs::metadata(checkout.path().join("made")).unwrap().uid(),
        build_uid
    );
    for target in [host_dir.path().to_owned(), host_dir.path().join("kept")] {
        assert_eq!(
            fs::metadata(&target).unwrap().uid(),
            0,
            "{} was handed over through a link",
            target.display()
        );
    }
    assert_eq!(
        fs::symlink_metadata(checkout.path().join("link"))
            .unwrap()
            .uid(),
        build_uid
    );
}
