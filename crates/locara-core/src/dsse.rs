//! DSSE (Dead Simple Signing Envelope) v1: signing a typed payload, and verifying it against trusted keys.
//!
//! The envelope is `{"payload": <base64>, "payloadType": <string>, "signatures": [{"keyid": <string>,
//! "sig": <base64>}]}`. Each signature covers the pre-authentication encoding [`pae`] of the payload type
//! and the payload bytes, never the JSON around them, so the payload type is authenticated and the
//! envelope's own serialisation does not matter.
//!
//! Invariants:
//! - [`Envelope::verify`] succeeds only when the payload type equals the expected one and at least the
//!   threshold of distinct trusted keys produced valid signatures; signatures by keys outside the set are
//!   ignored, several signatures by one key count once, invalid signatures never count (see
//!   [`TrustedKeys::tally`]);
//! - the caller gets the payload only through the [`VerifiedEnvelope`] that verification returns.
//!
//! Parsing accepts standard or URL-safe base64, padded or not (the DSSE specification allows both);
//! Locara writes standard padded base64 and sorts the members, so [`Envelope::to_json`] is canonical JSON.
//! Unknown envelope members are refused.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{
    STANDARD, STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT,
};
use serde::{Deserialize, Serialize};

use crate::keys::{KeyId, MAX_SIGNATURES, SignatureTally, SigningKey, TrustedKeys, list_key_ids};

/// The first field of every pre-authentication encoding.
pub const PAE_PREFIX: &str = "DSSEv1";

/// The largest envelope [`Envelope::from_json`] reads, in bytes (1 MiB). Locara's envelopes (provenance,
/// release statements) are a few KiB; a bigger one is refused before any JSON is parsed.
pub const MAX_ENVELOPE_BYTES: usize = 1 << 20;

/// The DSSE v1 pre-authentication encoding: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut encoded = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    encoded.extend_from_slice(PAE_PREFIX.as_bytes());
    encoded.extend_from_slice(format!(" {} ", payload_type.len()).as_bytes());
    encoded.extend_from_slice(payload_type.as_bytes());
    encoded.extend_from_slice(format!(" {} ", payload.len()).as_bytes());
    encoded.extend_from_slice(payload);
    encoded
}

/// Why an envelope is malformed or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsseError {
    /// The bytes are not a DSSE envelope.
    #[error("not a DSSE envelope: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// The envelope is larger than [`MAX_ENVELOPE_BYTES`].
    #[error("DSSE envelope is {size} bytes; at most {limit} are accepted")]
    TooLarge {
        /// The envelope's size in bytes.
        size: usize,
        /// The limit, [`MAX_ENVELOPE_BYTES`].
        limit: usize,
    },
    /// The envelope carries another kind of payload.
    #[error("DSSE envelope has payload type {found:?}, expected {expected:?}")]
    WrongPayloadType {
        /// The payload type the caller expects.
        expected: String,
        /// The payload type in the envelope.
        found: String,
    },
    /// Fewer distinct trusted keys signed validly than the threshold requires.
    #[error(
        "DSSE envelope of type {payload_type:?} has valid signatures from {} trusted key(s), {threshold} needed; valid: {}; invalid signatures from: {}; unknown key ids (ignored): {}; trusted keys: {}",
        tally.valid.len(),
        list_key_ids(&tally.valid),
        list_key_ids(&tally.invalid),
        list_key_ids(&tally.unknown),
        list_key_ids(trusted)
    )]
    ThresholdNotMet {
        /// The envelope's payload type.
        payload_type: String,
        /// How many distinct trusted keys must sign.
        threshold: u32,
        /// Which trusted keys signed validly, which did not, and which signers were unknown.
        tally: Box<SignatureTally>,
        /// The trusted keys.
        trusted: Vec<KeyId>,
    },
}

/// One signature in an envelope. The key id is a hint for finding the key; it is not trusted by itself.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// The signer's key id as written in the envelope (may be anything, even empty).
    pub keyid: String,
    /// The signature bytes.
    pub sig: Vec<u8>,
}

impl fmt::Debug for EnvelopeSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "EnvelopeSignature({:?}, {})",
            self.keyid,
            STANDARD.encode(&self.sig)
        )
    }
}

/// A DSSE envelope as received: nothing in it is trusted until [`Envelope::verify`] succeeds.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The payload type, e.g. `application/vnd.in-toto+json`.
    pub payload_type: String,
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// The signatures, in envelope order.
    pub signatures: Vec<EnvelopeSignature>,
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("payload_type", &self.payload_type)
            .field("payload_len", &self.payload.len())
            .field("signatures", &self.signatures)
            .finish()
    }
}

/// A payload whose envelope verified, with the keys that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEnvelope<'a> {
    /// The payload type (equal to the expected one).
    pub payload_type: &'a str,
    /// The authenticated payload bytes.
    pub payload: &'a [u8],
    /// The distinct trusted keys whose signatures verified.
    pub signed_by: Vec<KeyId>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEnvelope {
    payload: String,
    #[serde(rename = "payloadType")]
    payload_type: String,
    signatures: Vec<WireSignature>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSignature {
    #[serde(default)]
    keyid: String,
    sig: String,
}

fn decode_base64(text: &str, what: &str) -> Result<Vec<u8>, DsseError> {
    STANDARD_PAD_INDIFFERENT
        .decode(text)
        .or_else(|_| URL_SAFE_PAD_INDIFFERENT.decode(text))
        .map_err(|error| DsseError::Malformed {
            reason: format!("{what} is not base64: {error}"),
        })
}

impl Envelope {
    /// An envelope with no signatures yet.
    pub fn new(payload_type: impl Into<String>, payload: Vec<u8>) -> Self {
        Self {
            payload_type: payload_type.into(),
            payload,
            signatures: Vec::new(),
        }
    }

    /// An envelope signed by each of `keys`.
    pub fn signed(payload_type: impl Into<String>, payload: Vec<u8>, keys: &[&SigningKey]) -> Self {
        let mut envelope = Self::new(payload_type, payload);
        for key in keys {
            envelope.sign(key);
        }
        envelope
    }

    /// Adds a signature by `key` over the pre-authentication encoding.
    pub fn sign(&mut self, key: &SigningKey) {
        let signature = key.sign(&pae(&self.payload_type, &self.payload));
        self.signatures.push(EnvelopeSignature {
            keyid: key.key_id().to_string(),
            sig: signature.to_bytes().to_vec(),
        });
    }

    /// Parses envelope JSON (no signature is checked here).
    pub fn from_json(bytes: &[u8]) -> Result<Self, DsseError> {
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(DsseError::TooLarge {
                size: bytes.len(),
                limit: MAX_ENVELOPE_BYTES,
            });
        }
        let wire: WireEnvelope =
            serde_json::from_slice(bytes).map_err(|error| DsseError::Malformed {
                reason: error.to_string(),
            })?;
        if wire.signatures.len() > MAX_SIGNATURES {
            return Err(DsseError::Malformed {
                reason: format!(
                    "{} signatures; at most {MAX_SIGNATURES} are accepted",
                    wire.signatures.len()
                ),
            });
        }
        let signatures = wire
            .signatures
            .into_iter()
            .map(|signature| {
                Ok(EnvelopeSignature {
                    sig: decode_base64(&signature.sig, "a signature")?,
                    keyid: signature.keyid,
                })
            })
            .collect::<Result<_, DsseError>>()?;
        Ok(Self {
            payload: decode_base64(&wire.payload, "the payload")?,
            payload_type: wire.payload_type,
            signatures,
        })
    }

    /// The envelope as canonical JSON with standard padded base64.
    pub fn to_json(&self) -> Vec<u8> {
        let wire = WireEnvelope {
            payload: STANDARD.encode(&self.payload),
            payload_type: self.payload_type.clone(),
            signatures: self
                .signatures
                .iter()
                .map(|signature| WireSignature {
                    keyid: signature.keyid.clone(),
                    sig: STANDARD.encode(&signature.sig),
                })
                .collect(),
        };
        crate::canonical_json::to_vec(&wire).expect("an envelope holds only strings, never numbers")
    }

    /// Checks the payload type and that a threshold of `keys` signed; returns the authenticated payload.
    pub fn verify(
        &self,
        expected_payload_type: &str,
        keys: &TrustedKeys,
    ) -> Result<VerifiedEnvelope<'_>, DsseError> {
        if self.payload_type != expected_payload_type {
            return Err(DsseError::WrongPayloadType {
                expected: expected_payload_type.to_owned(),
                found: self.payload_type.clone(),
            });
        }
        let message = pae(&self.payload_type, &self.payload);
        let tally = keys.tally(
            &message,
            self.signatures
                .iter()
                .map(|signature| (signature.keyid.as_str(), signature.sig.as_slice())),
        );
        if !keys.is_met_by(&tally) {
            return Err(DsseError::ThresholdNotMet {
                payload_type: self.payload_type.clone(),
                threshold: keys.threshold(),
                tally: Box::new(tally),
                trusted: keys.key_ids(),
            });
        }
        Ok(VerifiedEnvelope {
            payload_type: &self.payload_type,
            payload: &self.payload,
            signed_by: tally.valid,
        })
    }
}
