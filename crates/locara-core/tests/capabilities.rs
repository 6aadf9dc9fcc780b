//! Capabilities: parsing rules, plain-language descriptions and the expansion order (ADR 0012).

use std::collections::BTreeSet;

use locara_core::capabilities::{
    Access, CapPath, Capabilities, CapabilityError, Expansion, FileGrant, HostPort, ModelName,
    Network, Port, ToolPath, expansions,
};
use proptest::prelude::*;

fn grant(path: &str, access: Access) -> FileGrant {
    FileGrant {
        path: path.parse().unwrap(),
        access,
    }
}

fn hosts(list: &[&str]) -> Network {
    Network::from_entries(list).unwrap()
}

fn caps(files: Vec<FileGrant>, network: Network, tools: &[&str], models: &[&str]) -> Capabilities {
    Capabilities {
        files,
        network,
        tools: tools.iter().map(|t| t.parse().unwrap()).collect(),
        models: models.iter().map(|m| m.parse().unwrap()).collect(),
    }
}

// Paths

#[test]
fn accepts_home_and_absolute_paths() {
    for (input, normal) in [
        ("~", "~"),
        ("~/Notes", "~/Notes"),
        ("~/Notes/", "~/Notes"),
        ("~//Notes//2024/./x", "~/Notes/2024/x"),
        ("/", "/"),
        ("/srv/data", "/srv/data"),
        ("/srv/./data/.", "/srv/data"),
    ] {
        assert_eq!(
            input.parse::<CapPath>().unwrap().to_string(),
            normal,
            "{input}"
        );
    }
}

#[test]
fn refuses_parent_components() {
    for input in ["~/../etc", "/srv/../etc", "~/Notes/..", "/.."] {
        assert!(
            matches!(
                input.parse::<CapPath>(),
                Err(CapabilityError::ParentComponent { .. })
            ),
            "{input}"
        );
    }
}

#[test]
fn refuses_relative_paths() {
    for input in ["Notes", "./Notes", "../x", "~user/x", "~Notes", " /x"] {
        assert!(
            matches!(
                input.parse::<CapPath>(),
                Err(CapabilityError::RelativePath { .. })
            ),
            "{input}"
        );
    }
}

#[test]
fn refuses_empty_path() {
    assert_eq!("".parse::<CapPath>(), Err(CapabilityError::EmptyPath));
}

#[test]
fn refuses_nul_in_path() {
    assert!(matches!(
        "/srv/a\0b".parse::<CapPath>(),
        Err(CapabilityError::NulInPath { .. })
    ));
}

#[test]
fn refuses_overlong_path() {
    let long = format!("/{}", "a".repeat(2000));
    assert!(matches!(
        long.parse::<CapPath>(),
        Err(CapabilityError::PathTooLong { length: 2001 })
    ));
    assert!(format!("/{}", "a".repeat(1023)).parse::<CapPath>().is_ok());
}

#[test]
fn refuses_unknown_access() {
    let error = "write".parse::<Access>().unwrap_err();
    assert!(
        error
            .to_string()
            .contains("expected `read` or `read-write`")
    );
}

// Hosts

#[test]
fn parses_host_ports() {
    for (input, normal) in [
        ("api.example.com:443", "api.example.com:443"),
        ("API.Example.COM:443", "api.example.com:443"),
        ("localhost:8080", "localhost:8080"),
        ("10.1.2.3:53", "10.1.2.3:53"),
        ("[::1]:8080", "[::1]:8080"),
        ("[2001:DB8:0:0::1]:443", "[2001:db8::1]:443"),
        ("api.example.com:*", "api.example.com:*"),
        ("xn--bcher-kva.example:443", "xn--bcher-kva.example:443"),
    ] {
        assert_eq!(
            input.parse::<HostPort>().unwrap().to_string(),
            normal,
            "{input}"
        );
    }
}

#[test]
fn refuses_host_without_port() {
    for input in ["api.example.com", "[::1]"] {
        assert!(
            matches!(
                input.parse::<HostPort>(),
                Err(CapabilityError::MissingPort { .. })
            ),
            "{input}"
        );
    }
}

#[test]
fn refuses_bad_ports() {
    for input in [
        "a.example:0",
        "a.example:65536",
        "a.example:-1",
        "a.example:",
        "a.example:08",
        "a.example:http",
    ] {
        assert!(
            matches!(input.parse::<HostPort>(), Err(CapabilityError::Port { .. })),
            "{input}"
        );
    }
}

#[test]
fn refuses_bad_hosts() {
    for input in [
        ":443",
        "exa mple.com:443",
        "-a.example:443",
        "a..example:443",
        "bücher.example:443",
        "*.example.com:443",
        "256.1.1.1:443",
        "01.2.3.4:443",
        "1.2.3:443",
        "[::g]:443",
        "a_b.example:443",
    ] {
        assert!(
            matches!(input.parse::<HostPort>(), Err(CapabilityError::Host { .. })),
            "{input}"
        );
    }
}

#[test]
fn any_host_must_be_alone() {
    assert_eq!(Network::from_entries(&["*"]), Ok(Network::Any));
    assert_eq!(Network::from_entries::<&str>(&[]), Ok(Network::None));
    assert_eq!(
        Network::from_entries(&["*", "a.example:443"]),
        Err(CapabilityError::AnyHostNotAlone { others: 1 })
    );
}

#[test]
fn refuses_duplicate_hosts_after_normalising() {
    assert!(matches!(
        Network::from_entries(&["A.example:443", "a.example:443"]),
        Err(CapabilityError::DuplicateHost { .. })
    ));
}

// Tools and models

#[test]
fn tools_are_absolute_paths_of_files() {
    assert_eq!(
        "/usr/bin/git".parse::<ToolPath>().unwrap().to_string(),
        "/usr/bin/git"
    );
    for input in [
        "git",
        "~/bin/tool",
        "/",
        "/usr/bin/",
        "/usr/../bin/sh",
        "/usr/bin/.",
    ] {
        assert!(input.parse::<ToolPath>().is_err(), "{input}");
    }
}

#[test]
fn model_names_follow_their_rules() {
    assert!("minilm".parse::<ModelName>().is_ok());
    assert!("all-minilm_l6.v2".parse::<ModelName>().is_ok());
    for input in ["", "MiniLM", "1model", "a/b", &"m".repeat(65)] {
        assert!(
            matches!(
                input.parse::<ModelName>(),
                Err(CapabilityError::ModelName { .. })
            ),
            "{input}"
        );
    }
}

// Descriptions

#[test]
fn describes_each_capability_in_plain_words() {
    let all = caps(
        vec![
            grant("~/Notes", Access::Read),
            grant("~/Out", Access::ReadWrite),
        ],
        hosts(&["api.example.com:443", "cache.example.com:*"]),
        &["/usr/bin/git"],
        &["minilm"],
    );
    assert_eq!(
        all.describe(),
        [
            "read files in ~/Notes",
            "read and change files in ~/Out",
            "connect to api.example.com on port 443",
            "connect to cache.example.com on any port",
            "run /usr/bin/git",
            "use the model minilm",
        ]
    );
    let any = caps(vec![], Network::Any, &[], &[]);
    assert_eq!(any.describe(), ["connect to any computer on the internet"]);
    assert!(Capabilities::default().is_empty());
}

// Expansions

#[test]
fn narrower_path_is_not_an_expansion() {
    let old = caps(
        vec![grant("~/Notes", Access::Read)],
        Network::None,
        &[],
        &[],
    );
    let new = caps(
        vec![grant("~/Notes/work", Access::Read)],
        Network::None,
        &[],
        &[],
    );
    assert!(expansions(&old, &new).is_empty());
}

#[test]
fn sibling_with_shared_prefix_is_an_expansion() {
    let old = caps(
        vec![grant("~/Notes", Access::Read)],
        Network::None,
        &[],
        &[],
    );
    let new = caps(
        vec![grant("~/Notes2", Access::Read)],
        Network::None,
        &[],
        &[],
    );
    assert_eq!(
        expansions(&old, &new),
        [Expansion::File(grant("~/Notes2", Access::Read))]
    );
}

#[test]
fn read_write_covers_read_but_not_the_reverse() {
    let read = caps(
        vec![grant("~/Notes", Access::Read)],
        Network::None,
        &[],
        &[],
    );
    let write = caps(
        vec![grant("~/Notes", Access::ReadWrite)],
        Network::None,
        &[],
        &[],
    );
    assert!(expansions(&write, &read).is_empty());
    let found = expansions(&read, &write);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].to_string(),
        "newly asks to read and change files in ~/Notes"
    );
}

#[test]
fn root_covers_home_paths_but_other_absolute_paths_do_not() {
    let root = caps(vec![grant("/", Access::Read)], Network::None, &[], &[]);
    let home_dir = caps(vec![grant("/home", Access::Read)], Network::None, &[], &[]);
    let notes = caps(
        vec![grant("~/Notes", Access::Read)],
        Network::None,
        &[],
        &[],
    );
    assert!(expansions(&root, &notes).is_empty());
    assert_eq!(expansions(&home_dir, &notes).len(), 1);
}

#[test]
fn new_host_and_any_host_are_expansions() {
    let one = caps(vec![], hosts(&["a.example:443"]), &[], &[]);
    let two = caps(vec![], hosts(&["a.example:443", "b.example:443"]), &[], &[]);
    let any = caps(vec![], Network::Any, &[], &[]);
    assert_eq!(
        expansions(&one, &two),
        [Expansion::Host("b.example:443".parse().unwrap())]
    );
    assert_eq!(expansions(&two, &any), [Expansion::AnyHost]);
    assert_eq!(
        expansions(&two, &any)[0].to_string(),
        "newly asks to connect to any computer on the internet"
    );
    assert!(expansions(&any, &two).is_empty());
}

#[test]
fn any_port_covers_each_port_of_that_host_only() {
    let any_port = caps(vec![], hosts(&["a.example:*"]), &[], &[]);
    let port = caps(vec![], hosts(&["a.example:8443"]), &[], &[]);
    let other = caps(vec![], hosts(&["b.example:8443"]), &[], &[]);
    assert!(expansions(&any_port, &port).is_empty());
    assert_eq!(expansions(&port, &any_port).len(), 1);
    assert_eq!(expansions(&any_port, &other).len(), 1);
    assert_eq!("a.example:*".parse::<HostPort>().unwrap().port, Port::Any);
}

#[test]
fn new_tool_and_new_model_are_expansions() {
    let old = caps(vec![], Network::None, &["/usr/bin/git"], &["minilm"]);
    let new = caps(
        vec![],
        Network::None,
        &["/usr/bin/git", "/usr/bin/curl"],
        &["minilm", "llama"],
    );
    let found: Vec<String> = expansions(&old, &new)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        found,
        [
            "newly asks to run /usr/bin/curl",
            "newly asks to use the model llama"
        ]
    );
}

#[test]
fn removing_capabilities_is_not_an_expansion() {
    let old = caps(
        vec![grant("~/Notes", Access::Read)],
        Network::Any,
        &["/usr/bin/git"],
        &["minilm"],
    );
    assert!(expansions(&old, &Capabilities::default()).is_empty());
}

// Serde

#[test]
fn serde_matches_the_manifest_shape() {
    let value = caps(
        vec![grant("~/Notes", Access::Read)],
        hosts(&["api.example.com:443"]),
        &["/usr/bin/git"],
        &["minilm"],
    );
    let json = serde_json::to_string(&value).unwrap();
    assert_eq!(
        json,
        r#"{"files":[{"path":"~/Notes","access":"read"}],"network":["api.example.com:443"],"tools":["/usr/bin/git"],"models":["minilm"]}"#
    );
    assert_eq!(serde_json::from_str::<Capabilities>(&json).unwrap(), value);
    let toml_text = "files = [{ path = \"~/Notes\", access = \"read\" }]\nnetwork = [\"api.example.com:443\"]\ntools = [\"/usr/bin/git\"]\nmodels = [\"minilm\"]\n";
    assert_eq!(toml::from_str::<Capabilities>(toml_text).unwrap(), value);
    assert_eq!(
        serde_json::from_str::<Capabilities>("{}").unwrap(),
        Capabilities::default()
    );
}

#[test]
fn serde_refuses_unknown_keys_and_bad_values() {
    assert!(serde_json::from_str::<Capabilities>(r#"{"net":[]}"#).is_err());
    assert!(
        serde_json::from_str::<Capabilities>(r#"{"files":[{"path":"../x","access":"read"}]}"#)
            .is_err()
    );
    assert!(
        serde_json::from_str::<Capabilities>(
            r#"{"files":[{"path":"/x","access":"read","extra":1}]}"#
        )
        .is_err()
    );
    assert!(
        serde_json::from_str::<Capabilities>(
            r#"{"files":[{"path":"/x","access":"read"},{"path":"/x/","access":"read"}]}"#
        )
        .is_err()
    );
    assert!(serde_json::from_str::<Capabilities>(r#"{"tools":["/bin/sh","/bin/sh"]}"#).is_err());
    assert!(serde_json::from_str::<Capabilities>(r#"{"models":["m1","m1"]}"#).is_err());
}

// Properties

fn path_strategy() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("~"), Just("")],
        prop::collection::vec(prop_oneof![Just("a"), Just("b"), Just("c")], 0..3),
    )
        .prop_map(|(root, parts)| {
            let mut path = root.to_owned();
            if parts.is_empty() && root.is_empty() {
                path.push('/');
            }
            for part in parts {
                path.push('/');
                path.push_str(part);
            }
            path
        })
}

fn grant_strategy() -> impl Strategy<Value = FileGrant> {
    (path_strategy(), any::<bool>()).prop_map(|(path, write)| FileGrant {
        path: path.parse().unwrap(),
        access: if write {
            Access::ReadWrite
        } else {
            Access::Read
        },
    })
}

fn network_strategy() -> impl Strategy<Value = Network> {
    let host = prop_oneof![
        Just("a.example:443"),
        Just("a.example:80"),
        Just("a.example:*"),
        Just("b.example:443"),
        Just("[::1]:8080"),
    ];
    prop_oneof![
        Just(Network::None),
        Just(Network::Any),
        prop::collection::btree_set(host, 1..4).prop_map(|set| {
            Network::Hosts(set.into_iter().map(|h| h.parse().unwrap()).collect())
        }),
    ]
}

fn capabilities_strategy() -> impl Strategy<Value = Capabilities> {
    (
        prop::collection::btree_map(path_strategy(), any::<bool>(), 0..4),
        network_strategy(),
        prop::collection::btree_set(prop_oneof![Just("/usr/bin/git"), Just("/bin/sh")], 0..3),
        prop::collection::btree_set(prop_oneof![Just("minilm"), Just("llama")], 0..3),
    )
        .prop_map(|(files, network, tools, models)| Capabilities {
            files: files
                .into_iter()
                .map(|(path, write)| FileGrant {
                    path: path.parse().unwrap(),
                    access: if write {
                        Access::ReadWrite
                    } else {
                        Access::Read
                    },
                })
                .collect(),
            network,
            tools: tools.into_iter().map(|t| t.parse().unwrap()).collect(),
            models: models
                .into_iter()
                .map(|m| m.parse().unwrap())
                .collect::<BTreeSet<_>>(),
        })
}

proptest! {
    #[test]
    fn nothing_expands_itself(value in capabilities_strategy()) {
        prop_assert!(expansions(&value, &value).is_empty());
    }

    #[test]
    fn no_expansion_is_transitive(
        a in capabilities_strategy(),
        b in capabilities_strategy(),
        c in capabilities_strategy(),
    ) {
        if expansions(&a, &b).is_empty() && expansions(&b, &c).is_empty() {
            prop_assert!(expansions(&a, &c).is_empty());
        }
    }

    #[test]
    fn transitivity_holds_for_chains_built_by_narrowing(a in capabilities_strategy(), keep in any::<u8>()) {
        // b keeps some of a's grants and c keeps some of b's: neither step expands.
        let mut b = a.clone();
        b.files.retain(|_| keep & 1 == 0);
        let mut c = b.clone();
        c.tools.clear();
        prop_assert!(expansions(&a, &b).is_empty());
        prop_assert!(expansions(&b, &c).is_empty());
        prop_assert!(expansions(&a, &c).is_empty());
    }

    #[test]
    fn any_added_grant_is_an_expansion(value in capabilities_strategy(), extra in grant_strategy()) {
        let covered = value.files.iter().any(|g| g.covers(&extra));
        let mut bigger = value.clone();
        bigger.files.push(extra.clone());
        prop_assert_eq!(expansions(&value, &bigger).is_empty(), covered);
        if !covered {
            prop_assert_eq!(expansions(&value, &bigger), vec![Expansion::File(extra)]);
        }
    }

    #[test]
    fn any_added_host_tool_or_model_is_an_expansion(value in capabilities_strategy()) {
        let mut bigger = value.clone();
        bigger.tools.insert("/opt/new/tool".parse().unwrap());
        prop_assert!(!expansions(&value, &bigger).is_empty());

        let mut bigger = value.clone();
        bigger.models.insert("brand-new".parse().unwrap());
        prop_assert!(!expansions(&value, &bigger).is_empty());

        let mut bigger = value.clone();
        let host: HostPort = "new.example:443".parse().unwrap();
        bigger.network = match &value.network {
            Network::Any => Network::Any,
            Network::None => Network::Hosts([host].into()),
            Network::Hosts(hosts) => {
                let mut hosts = hosts.clone();
                hosts.insert(host);
                Network::Hosts(hosts)
            }
        };
        prop_assert_eq!(expansions(&value, &bigger).is_empty(), value.network == Network::Any);
    }

    #[test]
    fn paths_normalise_idempotently(path in "[~/]?[a-z./]{0,12}") {
        if let Ok(parsed) = path.parse::<CapPath>() {
            let again: CapPath = parsed.to_string().parse().unwrap();
            prop_assert_eq!(again, parsed);
        }
    }
}

#[test]
fn refuses_control_characters_in_paths() {
    // A newline in a path could forge an extra line in a consent prompt.
    for input in [
        "~/Notes\nrun /usr/bin/anything",
        "/srv/\u{1b}[2Jx",
        "/usr/bin/g\u{7f}it",
    ] {
        assert!(
            matches!(
                input.parse::<CapPath>(),
                Err(CapabilityError::ControlInPath { .. })
            ),
            "{input:?}"
        );
    }
    assert!("/usr/bin/gi\nt".parse::<ToolPath>().is_err());
}
