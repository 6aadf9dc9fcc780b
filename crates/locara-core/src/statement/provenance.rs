//! SLSA Provenance v1 as Locara's builder writes it, and the client's provenance check (DESIGN §5, check 4).
//!
//! The predicate types follow <https://slsa.dev/spec/v1.0/provenance> field for field (`buildDefinition`,
//! `runDetails`, …). Locara's build type is [`LOCARA_BUILD_TYPE`]; for it:
//!
//! - `externalParameters` is [`LocaraExternalParameters`]: `repository` (the URL the builder fetched),
//!   `commit` (full git commit id), `manifestPath` (path of `locara.toml` in the source tree) and
//!   `buildCommand` (argv of the build). Unknown members are refused, as SLSA asks of verifiers, because an
//!   unrecognised external parameter could have changed the build;
//! - `internalParameters` is [`LocaraInternalParameters`]: `builderVersion` and `toolchain` (tool → version);
//!   informational, not checked;
//! - `resolvedDependencies` holds the source: `{"uri": "git+<repository>", "digest": {"gitCommit": <commit>}}`;
//! - `runDetails.builder.id` names the builder; `runDetails.metadata` has `invocationId` (the build job id),
//!   `startedOn` and `finishedOn`;
//! - the statement has one subject, the artifact: `{"name": <file name>, "digest": {"sha256": <hex>}}`.
//!
//! Invariant: [`verify_provenance`] returns a [`VerifiedProvenance`] only if every one of these holds, in
//! this order, each failure with its own error: payload type is in-toto; a threshold of builder keys signed;
//! the payload is canonical JSON; statement type; predicate type; build type; external parameters parse;
//! a subject has the expected artifact digest; repository; commit; the source appears in
//! `resolvedDependencies` at that commit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    GIT_COMMIT_ALGORITHM, GitCommit, IN_TOTO_PAYLOAD_TYPE, ResourceDescriptor, SHA256_ALGORITHM,
    STATEMENT_TYPE, Statement, string_member,
};
use crate::canonical_json::{self, CanonicalJsonError};
use crate::digest::Digest;
use crate::dsse::{DsseError, Envelope};
use crate::keys::{KeyId, SigningKey, TrustedKeys};
use crate::time::Timestamp;

/// The predicate type of SLSA Provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// The build type of a Locara builder build.
pub const LOCARA_BUILD_TYPE: &str = "https://locara.dev/build/v1";

/// The SLSA Provenance v1 predicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// What was built, from what inputs.
    pub build_definition: BuildDefinition,
    /// Who built it and when.
    pub run_details: RunDetails,
}

/// SLSA `buildDefinition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    /// URI of the build's schema; [`LOCARA_BUILD_TYPE`] for Locara builds.
    pub build_type: String,
    /// Inputs chosen by whoever asked for the build (a JSON object).
    pub external_parameters: Value,
    /// Inputs chosen by the builder (a JSON object), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_parameters: Option<Value>,
    /// Artifacts fetched during the build, including the source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// SLSA `runDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetails {
    /// The builder that ran the build.
    pub builder: Builder,
    /// Facts about this build run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BuildMetadata>,
    /// Other outputs of the build (logs, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub byproducts: Vec<ResourceDescriptor>,
}

/// SLSA `runDetails.builder`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Builder {
    /// URI identifying the builder.
    pub id: String,
    /// Versions of the builder's components.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub version: BTreeMap<String, String>,
    /// The builder's own dependencies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub builder_dependencies: Vec<ResourceDescriptor>,
}

/// SLSA `runDetails.metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildMetadata {
    /// Identifies this run (Locara: the build job id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    /// When the build started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_on: Option<Timestamp>,
    /// When the build finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<Timestamp>,
}

/// Locara's `externalParameters`: what the build was asked to build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocaraExternalParameters {
    /// The source repository URL the builder fetched (the manifest's `app.source`).
    pub repository: String,
    /// The commit that was built.
    pub commit: GitCommit,
    /// Path of `locara.toml` within the source tree.
    pub manifest_path: String,
    /// The build command's argv (the manifest's `build.command`).
    pub build_command: Vec<String>,
}

/// Locara's `internalParameters`: the builder's own settings, informational.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocaraInternalParameters {
    /// The Locara builder's version.
    pub builder_version: String,
    /// Versions of the toolchain inside the build sandbox (tool → version).
    pub toolchain: BTreeMap<String, String>,
}

/// Everything the builder knows about one finished build, to be turned into signed provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocaraBuild {
    /// The artifact's file name (the subject's `name`).
    pub artifact_name: String,
    /// The artifact's digest (the subject's `digest.sha256`).
    pub artifact_digest: Digest,
    /// What the build was asked to build.
    pub external_parameters: LocaraExternalParameters,
    /// The builder's settings.
    pub internal_parameters: LocaraInternalParameters,
    /// URI identifying the builder.
    pub builder_id: String,
    /// The build job id.
    pub invocation_id: String,
    /// When the build started.
    pub started_on: Timestamp,
    /// When the build finished.
    pub finished_on: Timestamp,
}

/// The source repository as a SLSA resource URI: `git+<repository>`.
pub fn source_uri(repository: &str) -> String {
    format!("git+{repository}")
}

impl LocaraBuild {
    /// The in-toto statement with SLSA provenance for this build.
    pub fn statement(&self) -> Statement<Provenance> {
        let external = &self.external_parameters;
        Statement {
            statement_type: STATEMENT_TYPE.to_owned(),
            subject: vec![ResourceDescriptor {
                name: Some(self.artifact_name.clone()),
                digest: BTreeMap::from([(SHA256_ALGORITHM.to_owned(), self.artifact_digest.hex())]),
                ..ResourceDescriptor::default()
            }],
            predicate_type: SLSA_PROVENANCE_V1.to_owned(),
            predicate: Provenance {
                build_definition: BuildDefinition {
                    build_type: LOCARA_BUILD_TYPE.to_owned(),
                    external_parameters: parameters_value(external),
                    internal_parameters: Some(parameters_value(&self.internal_parameters)),
                    resolved_dependencies: vec![ResourceDescriptor {
                        uri: Some(source_uri(&external.repository)),
                        digest: BTreeMap::from([(
                            GIT_COMMIT_ALGORITHM.to_owned(),
                            external.commit.to_string(),
                        )]),
                        ..ResourceDescriptor::default()
                    }],
                },
                run_details: RunDetails {
                    builder: Builder {
                        id: self.builder_id.clone(),
                        version: BTreeMap::new(),
                        builder_dependencies: Vec::new(),
                    },
                    metadata: Some(BuildMetadata {
                        invocation_id: Some(self.invocation_id.clone()),
                        started_on: Some(self.started_on),
                        finished_on: Some(self.finished_on),
                    }),
                    byproducts: Vec::new(),
                },
            },
        }
    }

    /// The statement as canonical JSON in a DSSE envelope signed by `builder_key`.
    pub fn sign(&self, builder_key: &SigningKey) -> Result<Envelope, ProvenanceError> {
        let payload =
            canonical_json::to_vec(&self.statement()).map_err(ProvenanceError::Malformed)?;
        Ok(Envelope::signed(
            IN_TOTO_PAYLOAD_TYPE,
            payload,
            &[builder_key],
        ))
    }
}

/// A parameter struct as a JSON object. These structs hold only strings, string lists and string maps,
/// which always serialise, so the `Null` fallback is unreachable.
fn parameters_value<T: Serialize>(parameters: &T) -> Value {
    serde_json::to_value(parameters).unwrap_or(Value::Null)
}

/// Provenance that passed [`verify_provenance`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProvenance {
    /// The whole statement.
    pub statement: Statement<Provenance>,
    /// Its Locara external parameters, decoded.
    pub external_parameters: LocaraExternalParameters,
    /// The builder keys whose signatures verified.
    pub signed_by: Vec<KeyId>,
}

impl VerifiedProvenance {
    /// The builder id of the run.
    pub fn builder_id(&self) -> &str {
        &self.statement.predicate.run_details.builder.id
    }
}

/// Why provenance was refused. Each variant is one step of the check and carries what differed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvenanceError {
    /// The envelope does not carry an in-toto statement.
    #[error("provenance envelope has payload type {found:?}, expected {expected:?}")]
    WrongPayloadType {
        /// [`IN_TOTO_PAYLOAD_TYPE`].
        expected: String,
        /// The envelope's payload type.
        found: String,
    },
    /// Not signed by a threshold of the root's builder keys.
    #[error("provenance is not signed by the root's builder keys: {0}")]
    Signature(DsseError),
    /// The payload is not canonical JSON or not a statement.
    #[error("provenance payload is malformed: {0}")]
    Malformed(CanonicalJsonError),
    /// The statement's `_type` is not in-toto Statement v1.
    #[error("provenance statement has _type {found:?}, expected {expected:?}")]
    WrongStatementType {
        /// [`STATEMENT_TYPE`].
        expected: String,
        /// The statement's `_type`.
        found: String,
    },
    /// The predicate is not SLSA Provenance v1.
    #[error("provenance statement has predicateType {found:?}, expected {expected:?}")]
    WrongPredicateType {
        /// [`SLSA_PROVENANCE_V1`].
        expected: String,
        /// The statement's `predicateType`.
        found: String,
    },
    /// The build was not a Locara build.
    #[error("provenance has buildType {found:?}, expected {expected:?}")]
    WrongBuildType {
        /// [`LOCARA_BUILD_TYPE`].
        expected: String,
        /// The provenance's `buildType`.
        found: String,
    },
    /// `externalParameters` does not match Locara's schema.
    #[error("provenance externalParameters are not Locara's: {reason}")]
    ExternalParameters {
        /// What the decoder objected to.
        reason: String,
    },
    /// No subject has the artifact's digest.
    #[error(
        "provenance is about {}, not the artifact {expected}",
        if found.is_empty() { "no sha256 subject".to_owned() } else { found.join(", ") }
    )]
    SubjectDigestMismatch {
        /// The digest of the artifact being installed.
        expected: Digest,
        /// The subjects' sha256 digests (`sha256:<hex>` as written).
        found: Vec<String>,
    },
    /// The provenance names another source repository.
    #[error(
        "provenance says the artifact was built from repository {found:?}, expected {expected:?}"
    )]
    RepositoryMismatch {
        /// The release's repository.
        expected: String,
        /// The provenance's repository.
        found: String,
    },
    /// The provenance names another commit.
    #[error("provenance says the artifact was built from commit {found}, expected {expected}")]
    CommitMismatch {
        /// The release's commit.
        expected: GitCommit,
        /// The provenance's commit.
        found: GitCommit,
    },
    /// `resolvedDependencies` does not list the source at the commit.
    #[error(
        "provenance resolvedDependencies do not list the source {uri:?} with gitCommit {commit}; found: {found}"
    )]
    SourceNotResolved {
        /// The expected URI, `git+<repository>`.
        uri: String,
        /// The expected commit.
        commit: GitCommit,
        /// The resolved dependencies as written (`uri@gitCommit`, comma-separated).
        found: String,
    },
}

/// The client's check 4: provenance signed by the root's builder keys, about this artifact, from this source.
pub fn verify_provenance(
    envelope: &Envelope,
    builder_keys: &TrustedKeys,
    expected_artifact: &Digest,
    expected_repository: &str,
    expected_commit: &GitCommit,
) -> Result<VerifiedProvenance, ProvenanceError> {
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(ProvenanceError::WrongPayloadType {
            expected: IN_TOTO_PAYLOAD_TYPE.to_owned(),
            found: envelope.payload_type.clone(),
        });
    }
    let verified = envelope
        .verify(IN_TOTO_PAYLOAD_TYPE, builder_keys)
        .map_err(ProvenanceError::Signature)?;
    let value: Value = canonical_json::from_canonical_slice(verified.payload)
        .map_err(ProvenanceError::Malformed)?;

    let statement_type = string_member(&value, "_type");
    if statement_type != STATEMENT_TYPE {
        return Err(ProvenanceError::WrongStatementType {
            expected: STATEMENT_TYPE.to_owned(),
            found: statement_type.to_owned(),
        });
    }
    let predicate_type = string_member(&value, "predicateType");
    if predicate_type != SLSA_PROVENANCE_V1 {
        return Err(ProvenanceError::WrongPredicateType {
            expected: SLSA_PROVENANCE_V1.to_owned(),
            found: predicate_type.to_owned(),
        });
    }
    let statement: Statement<Provenance> =
        canonical_json::from_value(value).map_err(ProvenanceError::Malformed)?;
    let definition = &statement.predicate.build_definition;
    if definition.build_type != LOCARA_BUILD_TYPE {
        return Err(ProvenanceError::WrongBuildType {
            expected: LOCARA_BUILD_TYPE.to_owned(),
            found: definition.build_type.clone(),
        });
    }
    let external: LocaraExternalParameters =
        serde_json::from_value(definition.external_parameters.clone()).map_err(|error| {
            ProvenanceError::ExternalParameters {
                reason: error.to_string(),
            }
        })?;

    let expected_hex = expected_artifact.hex();
    if !statement
        .subject
        .iter()
        .any(|subject| subject.sha256() == Some(expected_hex.as_str()))
    {
        return Err(ProvenanceError::SubjectDigestMismatch {
            expected: *expected_artifact,
            found: statement
                .subject
                .iter()
                .filter_map(|subject| subject.sha256().map(|hex| format!("sha256:{hex}")))
                .collect(),
        });
    }
    if external.repository != expected_repository {
        return Err(ProvenanceError::RepositoryMismatch {
            expected: expected_repository.to_owned(),
            found: external.repository,
        });
    }
    if &external.commit != expected_commit {
        return Err(ProvenanceError::CommitMismatch {
            expected: expected_commit.clone(),
            found: external.commit,
        });
    }
    let uri = source_uri(&external.repository);
    let source_resolved = definition.resolved_dependencies.iter().any(|dependency| {
        dependency.uri.as_deref() == Some(uri.as_str())
            && dependency
                .digest
                .get(GIT_COMMIT_ALGORITHM)
                .map(String::as_str)
                == Some(external.commit.as_str())
    });
    if !source_resolved {
        let found = definition
            .resolved_dependencies
            .iter()
            .map(|dependency| {
                format!(
                    "{}@{}",
                    dependency.uri.as_deref().unwrap_or("<no uri>"),
                    dependency
                        .digest
                        .get(GIT_COMMIT_ALGORITHM)
                        .map_or("<no gitCommit>", String::as_str)
                )
            })
            .collect::<Vec<_>>();
        return Err(ProvenanceError::SourceNotResolved {
            uri,
            commit: external.commit,
            found: if found.is_empty() {
                "none".to_owned()
            } else {
                found.join(", ")
            },
        });
    }
    Ok(VerifiedProvenance {
        statement,
        external_parameters: external,
        signed_by: verified.signed_by,
    })
}
