//! The policy file: defaults, update levels, minimum release ages, allow rules and strict parsing.

use locara_client::policy::{
    AppPattern, DEFAULT_MIN_RELEASE_AGE, DurationError, GrantDecision, MinAge, Policy, PolicyError,
    UpdateLevel, parse_duration,
};
use locara_core::capabilities::{Capabilities, Expansion};
use locara_core::names::AppName;
use locara_core::time::Timestamp;
use locara_core::version::Change;

fn app(name: &str) -> AppName {
    name.parse().unwrap()
}

fn policy(text: &str) -> Policy {
    Policy::parse(text, "policy.toml").unwrap_or_else(|error| panic!("{error}"))
}

fn wants(text: &str) -> Capabilities {
    toml::from_str(text).unwrap()
}

fn refusal(text: &str) -> String {
    match Policy::parse(text, "policy.toml") {
        Ok(policy) => panic!("expected a refusal, parsed {policy:?}"),
        Err(error) => error.to_string(),
    }
}

fn assert_mentions(message: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            message.contains(needle),
            "{message:?} should mention {needle:?}"
        );
    }
}

const DOCUMENTED_EXAMPLE: &str = r#"
update = "patch"
min_release_age = "24h"

[[allow]]
apps = "acme/*"
files = [{ path = "~/Notes", access = "read" }]
network = ["api.example.com:443"]
tools = ["/usr/bin/git"]
models = ["minilm"]

[apps."acme/notes-search"]
update = "minor"
min_release_age = "0"
"#;

#[test]
fn default_policy_applies_patches_after_a_day_and_allows_nothing() {
    let policy = Policy::default();
    assert_eq!(policy.update_level(&app("acme/notes")), UpdateLevel::Patch);
    assert_eq!(policy.min_release_age(&app("acme/notes")).seconds(), 86_400);
    assert_eq!(DEFAULT_MIN_RELEASE_AGE.seconds(), 86_400);
    assert!(matches!(
        policy.grant(
            &app("acme/notes"),
            &wants("network = [\"a.example.com:443\"]")
        ),
        GrantDecision::NotCovered { .. }
    ));
}

#[test]
fn empty_file_is_the_default_policy() {
    assert_eq!(policy(""), Policy::default());
    assert_eq!(policy("# only a comment\n"), Policy::default());
}

#[test]
fn missing_file_is_the_default_policy_and_a_broken_one_is_an_error() {
    let directory = tempfile::tempdir().unwrap();
    let path = Policy::path_in(directory.path());
    assert!(path.ends_with("policy.toml"));
    assert_eq!(Policy::load(&path).unwrap(), Policy::default());
    std::fs::write(&path, "update = \"patch\"\nupdate_level = \"minor\"\n").unwrap();
    let error = Policy::load(&path).unwrap_err();
    assert_mentions(
        &error.to_string(),
        &[&format!("{}:2:1:", path.display()), "update_level"],
    );
}

#[test]
fn unreadable_policy_file_is_an_error_not_the_default() {
    let directory = tempfile::tempdir().unwrap();
    // A directory where the file should be cannot be read as text.
    let path = Policy::path_in(directory.path());
    std::fs::create_dir(&path).unwrap();
    assert!(matches!(Policy::load(&path), Err(PolicyError::Read { .. })));
}

#[test]
fn parses_the_documented_example() {
    let policy = policy(DOCUMENTED_EXAMPLE);
    assert_eq!(policy.update, UpdateLevel::Patch);
    assert_eq!(policy.allow.len(), 1);
    assert_eq!(policy.allow[0].apps.to_string(), "acme/*");
    assert_eq!(policy.allow[0].capabilities.describe().len(), 4);
    assert_eq!(
        policy.update_level(&app("acme/notes-search")),
        UpdateLevel::Minor
    );
    assert_eq!(
        policy.min_release_age(&app("acme/notes-search")),
        MinAge::ZERO
    );
}

#[test]
fn per_app_settings_override_the_global_ones_and_only_for_that_app() {
    let policy = policy(
        r#"
update = "none"
min_release_age = "7d"

[apps."acme/notes-search"]
update = "major"

[apps."acme/clock"]
min_release_age = "90m"
"#,
    );
    assert_eq!(
        policy.update_level(&app("acme/notes-search")),
        UpdateLevel::Major
    );
    assert_eq!(
        policy.min_release_age(&app("acme/notes-search")).seconds(),
        7 * 86_400
    );
    assert_eq!(policy.update_level(&app("acme/clock")), UpdateLevel::None);
    assert_eq!(policy.min_release_age(&app("acme/clock")).seconds(), 5_400);
    assert_eq!(policy.update_level(&app("other/app")), UpdateLevel::None);
}

#[test]
fn update_levels_allow_changes_up_to_their_size() {
    let cases = [
        (UpdateLevel::None, [false, false, false]),
        (UpdateLevel::Patch, [true, false, false]),
        (UpdateLevel::Minor, [true, true, false]),
        (UpdateLevel::Major, [true, true, true]),
    ];
    for (level, expected) in cases {
        let allowed = [Change::Patch, Change::Minor, Change::Major].map(|c| level.allows(c));
        assert_eq!(allowed, expected, "{level}");
    }
}

#[test]
fn min_age_compares_release_age_with_the_clock() {
    let published = Timestamp::from_unix_seconds(1_000_000).unwrap();
    let day_later = Timestamp::from_unix_seconds(1_000_000 + 86_400).unwrap();
    let hour_later = Timestamp::from_unix_seconds(1_000_000 + 3_600).unwrap();
    assert!(DEFAULT_MIN_RELEASE_AGE.is_old_enough(published, day_later));
    assert!(!DEFAULT_MIN_RELEASE_AGE.is_old_enough(published, hour_later));
    assert!(MinAge::ZERO.is_old_enough(published, published));
}

#[test]
fn parses_durations() {
    assert_eq!(parse_duration("0"), Ok(0));
    assert_eq!(parse_duration("0s"), Ok(0));
    assert_eq!(parse_duration("30s"), Ok(30));
    assert_eq!(parse_duration("90m"), Ok(5_400));
    assert_eq!(parse_duration("24h"), Ok(86_400));
    assert_eq!(parse_duration("7d"), Ok(604_800));
    assert_eq!("24h".parse::<MinAge>().unwrap().to_string(), "1d");
}

#[test]
fn refuses_bad_durations_saying_what_is_valid() {
    assert_eq!(parse_duration(""), Err(DurationError::Empty));
    assert!(matches!(
        parse_duration("24"),
        Err(DurationError::MissingUnit { .. })
    ));
    for text in ["h", "-1h", "+1h", " 1h"] {
        assert!(
            matches!(parse_duration(text), Err(DurationError::NoNumber { .. })),
            "{text}"
        );
    }
    for (text, unit) in [
        ("1.5h", ".5h"),
        ("1h30m", "h30m"),
        ("2w", "w"),
        ("24H", "H"),
        ("1h ", "h "),
    ] {
        assert_eq!(
            parse_duration(text),
            Err(DurationError::UnknownUnit {
                found: text.to_owned(),
                unit: unit.to_owned()
            })
        );
    }
    assert!(matches!(
        parse_duration("99999999999999999999s"),
        Err(DurationError::TooLarge { .. })
    ));
    assert!(matches!(
        parse_duration("213503982334602d"),
        Err(DurationError::TooLarge { .. })
    ));
    let message = parse_duration("24").unwrap_err().to_string();
    assert_mentions(&message, &["\"24\"", "no unit", "24h"]);
}

#[test]
fn app_patterns_are_exact_publisher_wide_or_everything() {
    let exact: AppPattern = "acme/notes".parse().unwrap();
    let publisher: AppPattern = "acme/*".parse().unwrap();
    let any: AppPattern = "*".parse().unwrap();
    assert!(exact.matches(&app("acme/notes")));
    assert!(!exact.matches(&app("acme/notes-search")));
    assert!(publisher.matches(&app("acme/notes-search")));
    assert!(!publisher.matches(&app("acmeco/notes")));
    assert!(any.matches(&app("zeta/clock")));
    for bad in [
        "acme/no*", "*/notes", "acme*", "acme/**", "Acme/*", "", "acme",
    ] {
        assert!(bad.parse::<AppPattern>().is_err(), "{bad:?}");
    }
}

#[test]
fn rules_apply_only_to_apps_their_pattern_matches() {
    let policy = policy(
        r#"
[[allow]]
apps = "acme/*"
network = ["api.example.com:443"]

[[allow]]
apps = "zeta/clock"
network = ["time.example.com:123"]

[[allow]]
apps = "*"
models = ["minilm"]
"#,
    );
    assert_eq!(policy.matching_rules(&app("acme/notes")), [0, 2]);
    assert_eq!(policy.matching_rules(&app("zeta/clock")), [1, 2]);
    assert_eq!(policy.matching_rules(&app("zeta/other")), [2]);
    let api = wants("network = [\"api.example.com:443\"]");
    assert_eq!(
        policy.grant(&app("acme/notes"), &api),
        GrantDecision::Allowed { rules: vec![0, 2] }
    );
    assert_eq!(
        policy.grant(&app("zeta/clock"), &api),
        GrantDecision::NotCovered {
            uncovered: vec![Expansion::Host("api.example.com:443".parse().unwrap())]
        }
    );
}

#[test]
fn two_rules_together_cover_what_neither_covers_alone() {
    let policy = policy(
        r#"
[[allow]]
apps = "acme/*"
files = [{ path = "~/Notes", access = "read" }]
network = ["api.example.com:443"]

[[allow]]
apps = "acme/notes-search"
network = ["models.example.com:443"]
tools = ["/usr/bin/git"]
"#,
    );
    let wanted = wants(
        r#"
files = [{ path = "~/Notes/work", access = "read" }]
network = ["api.example.com:443", "models.example.com:443"]
tools = ["/usr/bin/git"]
"#,
    );
    assert_eq!(
        policy.grant(&app("acme/notes-search"), &wanted),
        GrantDecision::Allowed { rules: vec![0, 1] }
    );
    // Another acme app only gets the first rule, so the second host and the tool are uncovered.
    assert_eq!(
        policy.grant(&app("acme/other"), &wanted),
        GrantDecision::NotCovered {
            uncovered: vec![
                Expansion::Host("models.example.com:443".parse().unwrap()),
                Expansion::Tool("/usr/bin/git".parse().unwrap()),
            ]
        }
    );
}

#[test]
fn uncovered_expansions_name_each_missing_capability() {
    let policy = policy(
        r#"
[[allow]]
apps = "*"
files = [{ path = "~/Notes", access = "read" }]
"#,
    );
    let wanted = wants(
        r#"
files = [{ path = "~/Notes", access = "read-write" }, { path = "~/Notes/a", access = "read" }]
network = ["*"]
models = ["minilm"]
"#,
    );
    let GrantDecision::NotCovered { uncovered } = policy.grant(&app("acme/notes"), &wanted) else {
        panic!("should not be covered");
    };
    let lines: Vec<String> = uncovered.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "newly asks to read and change files in ~/Notes",
            "newly asks to connect to any computer on the internet",
            "newly asks to use the model minilm",
        ]
    );
}

#[test]
fn same_path_in_two_rules_unions_to_the_wider_access() {
    let policy = policy(
        r#"
[[allow]]
apps = "*"
files = [{ path = "~/Notes", access = "read" }]
network = ["a.example.com:443"]

[[allow]]
apps = "acme/*"
files = [{ path = "~/Notes", access = "read-write" }]
network = ["a.example.com:*", "b.example.com:443"]
"#,
    );
    let granted = policy.granted(&app("acme/notes"));
    assert_eq!(granted.files.len(), 1);
    assert_eq!(granted.network.entries().len(), 3);
    let wanted = wants(
        r#"
files = [{ path = "~/Notes", access = "read-write" }]
network = ["a.example.com:8080", "b.example.com:443"]
"#,
    );
    assert!(matches!(
        policy.grant(&app("acme/notes"), &wanted),
        GrantDecision::Allowed { .. }
    ));
}

#[test]
fn any_host_in_one_rule_covers_every_host() {
    let policy = policy(
        r#"
[[allow]]
apps = "*"
network = ["a.example.com:443"]

[[allow]]
apps = "acme/*"
network = ["*"]
"#,
    );
    let wanted = wants("network = [\"*\"]");
    assert_eq!(
        policy.grant(&app("acme/x1"), &wanted),
        GrantDecision::Allowed { rules: vec![0, 1] }
    );
    assert_eq!(
        policy.grant(&app("zeta/x1"), &wanted),
        GrantDecision::NotCovered {
            uncovered: vec![Expansion::AnyHost]
        }
    );
}

#[test]
fn an_app_asking_for_nothing_needs_no_rule() {
    assert_eq!(
        Policy::default().grant(&app("acme/notes"), &Capabilities::default()),
        GrantDecision::Allowed { rules: vec![] }
    );
}

#[test]
fn refuses_unknown_keys_naming_the_line() {
    assert_mentions(
        &refusal("update = \"patch\"\nupdates = \"minor\"\n"),
        &["policy.toml:2:1:", "updates"],
    );
    assert_mentions(
        &refusal("[[allow]]\napps = \"*\"\nhosts = [\"a.example.com:443\"]\n"),
        &["policy.toml:3:1:", "hosts"],
    );
    assert_mentions(
        &refusal("[apps.\"acme/notes\"]\nupdate = \"minor\"\nallow = true\n"),
        &["policy.toml:3:1:", "allow"],
    );
    assert_mentions(
        &refusal(
            "[[allow]]\napps = \"*\"\nfiles = [{ path = \"~/a\", access = \"read\", recursive = true }]\n",
        ),
        &["policy.toml:3:", "recursive"],
    );
    assert_mentions(
        &refusal("[[rule]]\napps = \"*\"\n"),
        &["policy.toml:1:", "rule"],
    );
}

#[test]
fn refuses_bad_values_naming_the_line_and_what_is_valid() {
    assert_mentions(
        &refusal("\nupdate = \"weekly\"\n"),
        &[
            "policy.toml:2:10:",
            "\"weekly\"",
            "\"none\", \"patch\", \"minor\" or \"major\"",
        ],
    );
    assert_mentions(
        &refusal("min_release_age = 24\n"),
        &["policy.toml:1:19:", "duration string"],
    );
    assert_mentions(
        &refusal("min_release_age = \"1 day\"\n"),
        &["policy.toml:1:19:", "\"1 day\"", "24h"],
    );
    assert_mentions(
        &refusal("\n\n[[allow]]\napps = \"*\"\ntools = [\"git\"]\n"),
        &["policy.toml:5:", "\"git\"", "absolute"],
    );
    assert_mentions(
        &refusal("[[allow]]\napps = \"*\"\nfiles = [{ path = \"../x\", access = \"read\" }]\n"),
        &["policy.toml:3:", "\"../x\""],
    );
    assert_mentions(
        &refusal("[[allow]]\napps = \"*\"\nfiles = [{ path = \"~/x\", access = \"write\" }]\n"),
        &["policy.toml:3:", "\"write\"", "read-write"],
    );
    assert_mentions(
        &refusal("[[allow]]\napps = \"*\"\nnetwork = [\"example.com\"]\n"),
        &["policy.toml:3:", "rule 1", "no port"],
    );
    assert_mentions(
        &refusal("[[allow]]\napps = \"*\"\nmodels = [\"MiniLM\"]\n"),
        &["policy.toml:3:", "\"MiniLM\""],
    );
}

#[test]
fn refuses_app_patterns_other_than_exact_publisher_or_everything() {
    assert_mentions(
        &refusal("[[allow]]\napps = \"acme/notes-*\"\n"),
        &["policy.toml:2:8:", "\"acme/notes-*\"", "\"publisher/*\""],
    );
    assert_mentions(
        &refusal("[[allow]]\nnetwork = []\n"),
        &["policy.toml:1:", "apps"],
    );
}

#[test]
fn refuses_patterns_and_bad_names_as_per_app_keys() {
    assert_mentions(
        &refusal("\n[apps.\"acme/*\"]\nupdate = \"minor\"\n"),
        &["policy.toml:2:", "pattern", "[[allow]]"],
    );
    assert_mentions(
        &refusal("[apps.\"Acme/Notes\"]\nupdate = \"minor\"\n"),
        &["policy.toml:1:", "Acme"],
    );
}

#[test]
fn refuses_duplicates_within_a_rule() {
    assert_mentions(
        &refusal(
            "\n[[allow]]\napps = \"*\"\nfiles = [{ path = \"~/a\", access = \"read\" }, { path = \"~/a/\", access = \"read-write\" }]\n",
        ),
        &["policy.toml:2:", "rule 1", "listed twice"],
    );
    assert_mentions(
        &refusal("[[allow]]\napps = \"*\"\nnetwork = [\"*\", \"a.example.com:443\"]\n"),
        &["policy.toml:3:", "must be the only entry"],
    );
}
