//! What `locara` asks on a terminal (a pseudo-terminal from util-linux `script`): usernames, passwords
//! without echo, and one-time codes right before the request that needs them.

#![cfg(target_os = "linux")]

mod support;

use support::{Authenticator, PASSWORD, World};

#[test]
fn signup_asks_for_the_username_and_the_password_twice() {
    let world = World::start();
    let mut terminal = world.client.terminal(&["signup"]);
    terminal.expect("Username: ");
    terminal.type_line("carol");
    terminal.expect("New password: ");
    terminal.type_line(PASSWORD);
    terminal.expect("Repeat the password: ");
    terminal.type_line("a different password");
    terminal.expect("differ");
    terminal.expect("New password: ");
    terminal.type_line(PASSWORD);
    terminal.expect("Repeat the password: ");
    terminal.type_line(PASSWORD);
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Created account carol"), "{screen}");
    assert!(
        !screen.contains(PASSWORD),
        "the password was echoed:\n{screen}"
    );
}

#[test]
fn enabling_two_factor_asks_for_the_first_code_and_shows_the_recovery_codes() {
    let world = World::start();
    world.sign_up_and_log_in("alice");
    let mut terminal = world.client.terminal(&["2fa", "enable"]);
    let shown = terminal.expect("One-time code from your authenticator app: ");
    let secret = shown
        .lines()
        .find_map(|line| line.trim().strip_prefix("secret:"))
        .expect("the secret is shown")
        .trim()
        .to_owned();
    assert!(shown.contains("otpauth://totp/"), "{shown}");
    terminal.type_line("000000x");
    terminal.expect("6 digits");
    terminal.expect("One-time code from your authenticator app: ");
    terminal.type_line(&Authenticator::new(&secret).code());
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("Two-factor authentication is enabled"),
        "{screen}"
    );
    assert!(screen.contains("Recovery codes"), "{screen}");
    assert!(screen.contains("offline"), "{screen}");
}

#[test]
fn login_asks_for_the_code_when_the_account_needs_one_and_never_echoes_the_password() {
    let world = World::start();
    let mut authenticator = world.sign_up_with_two_factor("alice");
    world.client.run(&["logout"]).success();
    let mut terminal = world.client.terminal(&["login", "--username", "alice"]);
    terminal.expect("Password for alice on main: ");
    terminal.type_line(PASSWORD);
    terminal.expect("One-time code from your authenticator app: ");
    terminal.type_line(&authenticator.code());
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Logged in to registry main"), "{screen}");
    assert!(
        !screen.contains(PASSWORD),
        "the password was echoed:\n{screen}"
    );
    assert!(world.client.token_file("main").is_file());
}

#[test]
fn a_security_action_asks_for_a_code_right_before_its_request() {
    let world = World::start();
    let mut authenticator = world.sign_up_with_two_factor("alice");
    let mut terminal = world
        .client
        .terminal(&["token", "create", "--name", "ci", "--scope", "publish"]);
    terminal.expect("One-time code to create the token: ");
    terminal.type_line(&authenticator.code());
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("locara_pat_"), "{screen}");
}
