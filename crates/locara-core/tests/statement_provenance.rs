//! SLSA provenance: real SLSA field names round-trip, and each step of the client's check 4 is attacked.

use std::collections::BTreeMap;

use locara_core::canonical_json::{self, CanonicalJsonError};
use locara_core::digest::Digest;
use locara_core::dsse::{DsseError, Envelope};
use locara_core::keys::{SigningKey, TrustedKeys};
use locara_core::statement::provenance::{
    LOCARA_BUILD_TYPE, LocaraBuild, LocaraExternalParameters, LocaraInternalParameters, Provenance,
    ProvenanceError, SLSA_PROVENANCE_V1, verify_provenance,
};
use locara_core::statement::{GitCommit, IN_TOTO_PAYLOAD_TYPE, STATEMENT_TYPE, Statement};
use serde_json::{Value, json};

const REPOSITORY: &str = "https://git.example.com/acme/notes-search";
const COMMIT: &str = "c27d339ee6075c1f744c5d4b200f7901aad2c369";

fn builder_key() -> SigningKey {
    SigningKey::from_seed(&[0xb1; 32])
}

fn builder_keys() -> TrustedKeys {
    TrustedKeys::single(builder_key().public_key().clone())
}

fn artifact() -> Digest {
    Digest::of_bytes(b"the artifact bytes")
}

fn commit() -> GitCommit {
    COMMIT.parse().unwrap()
}

fn build() -> LocaraBuild {
    LocaraBuild {
        artifact_name: "acme-notes-search-1.4.2.tar.zst".to_owned(),
        artifact_digest: artifact(),
        external_parameters: LocaraExternalParameters {
            repository: REPOSITORY.to_owned(),
            commit: commit(),
            manifest_path: "locara.toml".to_owned(),
            build_command: ["cargo", "build", "--release", "--offline", "--locked"]
                .map(str::to_owned)
                .to_vec(),
        },
        internal_parameters: LocaraInternalParameters {
            builder_version: "0.1.0".to_owned(),
            toolchain: BTreeMap::from([("rustc".to_owned(), "1.95.0".to_owned())]),
        },
        builder_id: "https://locara.dev/builder/v1".to_owned(),
        invocation_id: "build-42".to_owned(),
        started_on: "2026-11-24T19:00:00Z".parse().unwrap(),
        finished_on: "2026-11-24T19:03:20Z".parse().unwrap(),
    }
}

fn verify(envelope: &Envelope) -> Result<(), ProvenanceError> {
    verify_provenance(
        envelope,
        &builder_keys(),
        &artifact(),
        REPOSITORY,
        &commit(),
    )
    .map(|_| ())
}

/// The builder's statement as JSON, changed by `mutate`, canonicalised and signed by the builder key.
fn signed_variant(mutate: impl FnOnce(&mut Value)) -> Envelope {
    let mut value = serde_json::to_value(build().statement()).unwrap();
    mutate(&mut value);
    let payload = canonical_json::to_vec(&value).unwrap();
    Envelope::signed(IN_TOTO_PAYLOAD_TYPE, payload, &[&builder_key()])
}

#[test]
fn provenance_from_the_builder_verifies() {
    let envelope = build().sign(&builder_key()).unwrap();
    let verified = verify_provenance(
        &envelope,
        &builder_keys(),
        &artifact(),
        REPOSITORY,
        &commit(),
    )
    .unwrap();
    assert_eq!(verified.external_parameters, build().external_parameters);
    assert_eq!(verified.builder_id(), "https://locara.dev/builder/v1");
    assert_eq!(verified.signed_by, vec![*builder_key().key_id()]);
    assert_eq!(verified.statement, build().statement());
}

#[test]
fn the_statement_uses_in_toto_and_slsa_field_names() {
    let value: Value =
        canonical_json::from_canonical_slice(&build().sign(&builder_key()).unwrap().payload)
            .unwrap();
    let expected = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "acme-notes-search-1.4.2.tar.zst", "digest": {"sha256": artifact().hex()}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://locara.dev/build/v1",
                "externalParameters": {
                    "repository": REPOSITORY,
                    "commit": COMMIT,
                    "manifestPath": "locara.toml",
                    "buildCommand": ["cargo", "build", "--release", "--offline", "--locked"]
                },
                "internalParameters": {"builderVersion": "0.1.0", "toolchain": {"rustc": "1.95.0"}},
                "resolvedDependencies": [
                    {"uri": format!("git+{REPOSITORY}"), "digest": {"gitCommit": COMMIT}}
                ]
            },
            "runDetails": {
                "builder": {"id": "https://locara.dev/builder/v1"},
                "metadata": {
                    "invocationId": "build-42",
                    "startedOn": "2026-11-24T19:00:00Z",
                    "finishedOn": "2026-11-24T19:03:20Z"
                }
            }
        }
    });
    assert_eq!(value, expected);
}

#[test]
fn the_slsa_v1_specification_example_round_trips() {
    // The example statement of the SLSA Provenance v1.0 specification (slsa.dev/spec/v1.0/provenance).
    let example = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "_", "digest": {"sha256": "fe4fe40ac7250263c5dbe1cf3138912f3f416140aa248637a60d65fe22c47da4"}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
                "externalParameters": {
                    "workflow": {
                        "ref": "refs/heads/main",
                        "repository": "https://github.com/octocat/hello-world",
                        "path": ".github/workflow/release.yml"
                    }
                },
                "internalParameters": {"github": {"actor_id": "1234567", "event_name": "workflow_dispatch"}},
                "resolvedDependencies": [
                    {
                        "uri": "git+https://github.com/octocat/hello-world@refs/heads/main",
                        "digest": {"gitCommit": "c27d339ee6075c1f744c5d4b200f7901aad2c369"}
                    },
                    {"uri": "https://github.com/actions/virtual-environments/releases/tag/ubuntu20/20220515.1"}
                ]
            },
            "runDetails": {
                "builder": {"id": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_go_slsa3.yml@refs/tags/v0.0.1"},
                "metadata": {
                    "invocationId": "https://github.com/octocat/hello-world/actions/runs/1536140711/attempts/1",
                    "startedOn": "2023-01-01T12:34:56Z"
                }
            }
        }
    });
    let statement: Statement<Provenance> = serde_json::from_value(example.clone()).unwrap();
    assert_eq!(statement.statement_type, STATEMENT_TYPE);
    assert_eq!(statement.predicate_type, SLSA_PROVENANCE_V1);
    assert_eq!(
        statement.predicate.build_definition.resolved_dependencies[0].digest["gitCommit"],
        "c27d339ee6075c1f744c5d4b200f7901aad2c369"
    );
    assert_eq!(serde_json::to_value(&statement).unwrap(), example);

    // Signed by a builder key, it is still refused: it is not a Locara build.
    let envelope = Envelope::signed(
        IN_TOTO_PAYLOAD_TYPE,
        canonical_json::to_vec(&example).unwrap(),
        &[&builder_key()],
    );
    match verify(&envelope) {
        Err(ProvenanceError::WrongBuildType { expected, found }) => {
            assert_eq!(expected, LOCARA_BUILD_TYPE);
            assert_eq!(
                found,
                "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1"
            );
        }
        other => panic!("expected a build-type error, got {other:?}"),
    }
}

#[test]
fn provenance_signed_by_a_key_outside_the_builder_role_is_refused() {
    let stranger = SigningKey::from_seed(&[0x66; 32]);
    let envelope = build().sign(&stranger).unwrap();
    match verify(&envelope) {
        Err(ProvenanceError::Signature(DsseError::ThresholdNotMet { tally, .. })) => {
            assert_eq!(tally.unknown, vec![stranger.key_id().hex()]);
        }
        other => panic!("expected a signature error, got {other:?}"),
    }
}

#[test]
fn provenance_with_a_tampered_payload_is_refused() {
    let mut envelope = build().sign(&builder_key()).unwrap();
    let other_digest = Digest::of_bytes(b"malware");
    let text = String::from_utf8(envelope.payload.clone()).unwrap();
    envelope.payload = text
        .replace(&artifact().hex(), &other_digest.hex())
        .into_bytes();
    assert!(matches!(
        verify_provenance(
            &envelope,
            &builder_keys(),
            &other_digest,
            REPOSITORY,
            &commit()
        ),
        Err(ProvenanceError::Signature(
            DsseError::ThresholdNotMet { .. }
        ))
    ));
}

#[test]
fn provenance_in_an_envelope_of_another_payload_type_is_refused() {
    let statement = canonical_json::to_vec(&build().statement()).unwrap();
    let envelope = Envelope::signed(
        "application/vnd.locara.release+json",
        statement,
        &[&builder_key()],
    );
    match verify(&envelope) {
        Err(ProvenanceError::WrongPayloadType { expected, found }) => {
            assert_eq!(expected, IN_TOTO_PAYLOAD_TYPE);
            assert_eq!(found, "application/vnd.locara.release+json");
        }
        other => panic!("expected a payload-type error, got {other:?}"),
    }
}

#[test]
fn a_statement_of_another_type_is_refused() {
    let envelope =
        signed_variant(|value| value["_type"] = json!("https://in-toto.io/Statement/v0.1"));
    assert!(matches!(
        verify(&envelope),
        Err(ProvenanceError::WrongStatementType { expected, found })
            if expected == STATEMENT_TYPE && found == "https://in-toto.io/Statement/v0.1"
    ));
}

#[test]
fn a_predicate_of_another_type_is_refused() {
    let envelope =
        signed_variant(|value| value["predicateType"] = json!("https://slsa.dev/provenance/v0.2"));
    assert!(matches!(
        verify(&envelope),
        Err(ProvenanceError::WrongPredicateType { expected, found })
            if expected == SLSA_PROVENANCE_V1 && found == "https://slsa.dev/provenance/v0.2"
    ));
}

#[test]
fn a_build_of_another_type_is_refused() {
    let envelope = signed_variant(|value| {
        value["predicate"]["buildDefinition"]["buildType"] =
            json!("https://example.com/uploaded-binary")
    });
    assert!(matches!(
        verify(&envelope),
        Err(ProvenanceError::WrongBuildType { .. })
    ));
}

#[test]
fn an_unknown_external_parameter_is_refused() {
    let envelope = signed_variant(|value| {
        value["predicate"]["buildDefinition"]["externalParameters"]["preBuildScript"] =
            json!("curl | sh")
    });
    match verify(&envelope) {
        Err(ProvenanceError::ExternalParameters { reason }) => {
            assert!(reason.contains("preBuildScript"), "{reason}")
        }
        other => panic!("expected an external-parameters error, got {other:?}"),
    }
}

#[test]
fn provenance_about_another_artifact_is_refused_naming_both_digests() {
    let installed = Digest::of_bytes(b"what the mirror served");
    let envelope = build().sign(&builder_key()).unwrap();
    let error = verify_provenance(
        &envelope,
        &builder_keys(),
        &installed,
        REPOSITORY,
        &commit(),
    )
    .unwrap_err();
    match &error {
        ProvenanceError::SubjectDigestMismatch { expected, found } => {
            assert_eq!(expected, &installed);
            assert_eq!(found, &vec![artifact().to_string()]);
        }
        other => panic!("expected a subject error, got {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains(&installed.to_string()) && message.contains(&artifact().to_string()),
        "{message}"
    );
}

#[test]
fn provenance_without_a_sha256_subject_is_refused() {
    let envelope = signed_variant(|value| value["subject"][0]["digest"] = json!({"sha512": "00"}));
    assert!(matches!(
        verify(&envelope),
        Err(ProvenanceError::SubjectDigestMismatch { found, .. }) if found.is_empty()
    ));
}

#[test]
fn provenance_from_another_repository_is_refused() {
    let envelope = build().sign(&builder_key()).unwrap();
    let expected = "https://git.example.com/acme/notes-search-fork";
    let error = verify_provenance(&envelope, &builder_keys(), &artifact(), expected, &commit())
        .unwrap_err();
    assert!(matches!(
        &error,
        ProvenanceError::RepositoryMismatch { expected: e, found } if e == expected && found == REPOSITORY
    ));
}

#[test]
fn provenance_from_another_commit_is_refused() {
    let envelope = build().sign(&builder_key()).unwrap();
    let release_commit: GitCommit = "0000000000000000000000000000000000000001".parse().unwrap();
    let error = verify_provenance(
        &envelope,
        &builder_keys(),
        &artifact(),
        REPOSITORY,
        &release_commit,
    )
    .unwrap_err();
    assert!(matches!(
        &error,
        ProvenanceError::CommitMismatch { expected, found } if expected == &release_commit && found == &commit()
    ));
    assert!(error.to_string().contains(COMMIT));
}

#[test]
fn provenance_whose_resolved_source_disagrees_is_refused() {
    let envelope = signed_variant(|value| {
        value["predicate"]["buildDefinition"]["resolvedDependencies"][0]["digest"]["gitCommit"] =
            json!("1111111111111111111111111111111111111111")
    });
    assert!(matches!(
        verify(&envelope),
        Err(ProvenanceError::SourceNotResolved { .. })
    ));
    let envelope = signed_variant(|value| {
        value["predicate"]["buildDefinition"]
            .as_object_mut()
            .unwrap()
            .remove("resolvedDependencies");
    });
    assert!(matches!(
        verify(&envelope),
        Err(ProvenanceError::SourceNotResolved { found, .. }) if found == "none"
    ));
}

#[test]
fn a_non_canonical_payload_is_refused_even_when_signed() {
    let pretty = serde_json::to_vec_pretty(&build().statement()).unwrap();
    let envelope = Envelope::signed(IN_TOTO_PAYLOAD_TYPE, pretty, &[&builder_key()]);
    assert!(matches!(
        verify(&envelope),
        Err(ProvenanceError::Malformed(
            CanonicalJsonError::NotCanonical { .. }
        ))
    ));
}

#[test]
fn a_builder_threshold_of_two_needs_two_builder_keys() {
    let second = SigningKey::from_seed(&[0xb2; 32]);
    let keys = TrustedKeys::new(
        [
            builder_key().public_key().clone(),
            second.public_key().clone(),
        ],
        2,
    )
    .unwrap();
    let mut envelope = build().sign(&builder_key()).unwrap();
    assert!(matches!(
        verify_provenance(&envelope, &keys, &artifact(), REPOSITORY, &commit()),
        Err(ProvenanceError::Signature(DsseError::ThresholdNotMet {
            threshold: 2,
            ..
        }))
    ));
    envelope.sign(&second);
    verify_provenance(&envelope, &keys, &artifact(), REPOSITORY, &commit()).unwrap();
}

#[test]
fn git_commits_are_full_lowercase_sha1_or_sha256_ids() {
    assert!(
        "c27d339ee6075c1f744c5d4b200f7901aad2c369"
            .parse::<GitCommit>()
            .is_ok()
    );
    assert!("a".repeat(64).parse::<GitCommit>().is_ok());
    for bad in [
        "c27d339".to_owned(),
        "C27D339EE6075C1F744C5D4B200F7901AAD2C369".to_owned(),
        "g".repeat(40),
        "a".repeat(41),
        "a".repeat(63),
        String::new(),
    ] {
        assert!(bad.parse::<GitCommit>().is_err(), "{bad}");
    }
}
