//! DSSE: the PAE vectors, envelope JSON, and every way an envelope can fail to verify.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use locara_core::canonical_json;
use locara_core::dsse::{DsseError, Envelope, pae};
use locara_core::keys::{SigningKey, TrustedKeys};
use serde_json::{Value, json};

const PAYLOAD_TYPE: &str = "application/vnd.locara.test+json";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed(&[seed; 32])
}

fn trust(keys: &[&SigningKey], threshold: u32) -> TrustedKeys {
    TrustedKeys::new(keys.iter().map(|key| key.public_key().clone()), threshold).unwrap()
}

#[test]
fn pae_matches_the_shared_vectors() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/dsse-pae.json"
    ))
    .expect("the shared DSSE vectors sit beside the repository");
    let vectors: Value = serde_json::from_str(&text).unwrap();
    let vectors = vectors["vectors"].as_array().unwrap();
    assert!(!vectors.is_empty());
    for vector in vectors {
        let payload_type = vector["payload_type"].as_str().unwrap();
        let payload = vector["payload_utf8"].as_str().unwrap();
        let expected = vector["pae_utf8"].as_str().unwrap();
        assert_eq!(
            String::from_utf8(pae(payload_type, payload.as_bytes())).unwrap(),
            expected,
            "PAE of {payload_type:?}"
        );
    }
}

#[test]
fn pae_counts_bytes_not_characters() {
    assert_eq!(pae("t", "é".as_bytes()), b"DSSEv1 1 t 2 \xc3\xa9".to_vec());
    assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
}

#[test]
fn a_signed_envelope_verifies_and_round_trips_through_json() {
    let signer = key(1);
    let envelope = Envelope::signed(PAYLOAD_TYPE, b"{\"a\":1}".to_vec(), &[&signer]);
    let json = envelope.to_json();
    let parsed = Envelope::from_json(&json).unwrap();
    assert_eq!(parsed, envelope);
    let verified = parsed.verify(PAYLOAD_TYPE, &trust(&[&signer], 1)).unwrap();
    assert_eq!(verified.payload, b"{\"a\":1}");
    assert_eq!(verified.payload_type, PAYLOAD_TYPE);
    assert_eq!(verified.signed_by, vec![*signer.key_id()]);

    // The envelope JSON has DSSE's member names and is canonical.
    let value: Value = canonical_json::from_canonical_slice(&json).unwrap();
    assert_eq!(value["payloadType"], PAYLOAD_TYPE);
    assert_eq!(value["payload"], STANDARD.encode(b"{\"a\":1}"));
    assert_eq!(value["signatures"][0]["keyid"], signer.key_id().hex());
}

#[test]
fn the_signature_covers_the_pae_not_the_bare_payload() {
    let signer = key(1);
    let envelope = Envelope::signed(PAYLOAD_TYPE, b"hello".to_vec(), &[&signer]);
    let signature = &envelope.signatures[0].sig;
    let expected = signer.sign(&pae(PAYLOAD_TYPE, b"hello")).to_bytes();
    assert_eq!(signature.as_slice(), expected.as_slice());
}

fn envelope_json_with(mutate: impl FnOnce(&mut Value)) -> Envelope {
    let signer = key(1);
    let envelope = Envelope::signed(
        PAYLOAD_TYPE,
        b"{\"version\":\"1.0.0\"}".to_vec(),
        &[&signer],
    );
    let mut value: Value = serde_json::from_slice(&envelope.to_json()).unwrap();
    mutate(&mut value);
    Envelope::from_json(&serde_json::to_vec(&value).unwrap()).unwrap()
}

#[test]
fn a_tampered_payload_is_refused() {
    let envelope = envelope_json_with(|value| {
        value["payload"] = json!(STANDARD.encode(b"{\"version\":\"6.6.6\"}"));
    });
    match envelope.verify(PAYLOAD_TYPE, &trust(&[&key(1)], 1)) {
        Err(DsseError::ThresholdNotMet {
            tally,
            threshold: 1,
            ..
        }) => {
            assert!(tally.valid.is_empty());
            assert_eq!(tally.invalid, vec![*key(1).key_id()]);
        }
        other => panic!("expected a threshold error, got {other:?}"),
    }
}

#[test]
fn a_tampered_payload_type_is_refused() {
    let envelope = envelope_json_with(|value| value["payloadType"] = json!("application/other"));
    // Asked for the original type: the type differs, and the error names both.
    match envelope.verify(PAYLOAD_TYPE, &trust(&[&key(1)], 1)) {
        Err(DsseError::WrongPayloadType { expected, found }) => {
            assert_eq!(
                (expected.as_str(), found.as_str()),
                (PAYLOAD_TYPE, "application/other")
            );
        }
        other => panic!("expected a payload-type error, got {other:?}"),
    }
    // Asked for the new type: the signature (over the PAE, which includes the type) fails.
    assert!(matches!(
        envelope.verify("application/other", &trust(&[&key(1)], 1)),
        Err(DsseError::ThresholdNotMet { .. })
    ));
}

#[test]
fn a_tampered_signature_is_refused() {
    let envelope = envelope_json_with(|value| {
        let mut sig = STANDARD
            .decode(value["signatures"][0]["sig"].as_str().unwrap())
            .unwrap();
        sig[0] ^= 0x80;
        value["signatures"][0]["sig"] = json!(STANDARD.encode(sig));
    });
    assert!(matches!(
        envelope.verify(PAYLOAD_TYPE, &trust(&[&key(1)], 1)),
        Err(DsseError::ThresholdNotMet { .. })
    ));
}

#[test]
fn a_signature_by_an_untrusted_key_is_refused_and_its_key_id_reported() {
    let stranger = key(9);
    let envelope = Envelope::signed(PAYLOAD_TYPE, b"x".to_vec(), &[&stranger]);
    let error = envelope
        .verify(PAYLOAD_TYPE, &trust(&[&key(1)], 1))
        .unwrap_err();
    match &error {
        DsseError::ThresholdNotMet { tally, trusted, .. } => {
            assert_eq!(tally.unknown, vec![stranger.key_id().hex()]);
            assert_eq!(trusted, &vec![*key(1).key_id()]);
        }
        other => panic!("expected a threshold error, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains(&stranger.key_id().hex()), "{message}");
    assert!(message.contains(&key(1).key_id().hex()), "{message}");
    assert!(message.contains(PAYLOAD_TYPE), "{message}");
}

#[test]
fn a_stranger_claiming_a_trusted_key_id_is_refused() {
    let mut envelope = Envelope::signed(PAYLOAD_TYPE, b"x".to_vec(), &[&key(9)]);
    envelope.signatures[0].keyid = key(1).key_id().hex();
    assert!(matches!(
        envelope.verify(PAYLOAD_TYPE, &trust(&[&key(1)], 1)),
        Err(DsseError::ThresholdNotMet { .. })
    ));
}

#[test]
fn a_threshold_needs_that_many_distinct_trusted_keys() {
    let (a, b, c) = (key(1), key(2), key(3));
    let keys = trust(&[&a, &b, &c], 2);
    let one = Envelope::signed(PAYLOAD_TYPE, b"x".to_vec(), &[&a]);
    assert!(matches!(
        one.verify(PAYLOAD_TYPE, &keys),
        Err(DsseError::ThresholdNotMet { threshold: 2, .. })
    ));
    let two = Envelope::signed(PAYLOAD_TYPE, b"x".to_vec(), &[&a, &c]);
    let verified = two.verify(PAYLOAD_TYPE, &keys).unwrap();
    assert_eq!(verified.signed_by, vec![*a.key_id(), *c.key_id()]);
}

#[test]
fn duplicate_signatures_by_the_same_key_count_once() {
    let (a, b) = (key(1), key(2));
    let keys = trust(&[&a, &b], 2);
    let mut envelope = Envelope::signed(PAYLOAD_TYPE, b"x".to_vec(), &[&a, &a]);
    let copy = envelope.signatures[0].clone();
    envelope.signatures.push(copy);
    assert_eq!(envelope.signatures.len(), 3);
    match envelope.verify(PAYLOAD_TYPE, &keys) {
        Err(DsseError::ThresholdNotMet { tally, .. }) => assert_eq!(tally.valid, vec![*a.key_id()]),
        other => panic!("expected a threshold error, got {other:?}"),
    }
    // Another spelling of the key id is not another key: it is simply not a trusted id.
    let mut respelled = envelope.signatures[0].clone();
    respelled.keyid = respelled.keyid.to_uppercase();
    envelope.signatures.push(respelled);
    assert!(envelope.verify(PAYLOAD_TYPE, &keys).is_err());
}

#[test]
fn unknown_and_invalid_extra_signatures_do_not_prevent_verification() {
    let a = key(1);
    let mut envelope = Envelope::signed(PAYLOAD_TYPE, b"x".to_vec(), &[&key(7), &a]);
    let mut garbage = envelope.signatures[1].clone();
    garbage.sig = vec![1, 2, 3];
    envelope.signatures.insert(0, garbage);
    let verified = envelope.verify(PAYLOAD_TYPE, &trust(&[&a], 1)).unwrap();
    assert_eq!(verified.signed_by, vec![*a.key_id()]);
}

#[test]
fn an_unsigned_envelope_is_refused() {
    let envelope = Envelope::new(PAYLOAD_TYPE, b"x".to_vec());
    assert!(matches!(
        envelope.verify(PAYLOAD_TYPE, &trust(&[&key(1)], 1)),
        Err(DsseError::ThresholdNotMet { .. })
    ));
}

#[test]
fn envelope_json_accepts_url_safe_and_unpadded_base64_as_dsse_allows() {
    let signer = key(1);
    let payload = b"\xfb\xff\xfe subject?".to_vec();
    let envelope = Envelope::signed(PAYLOAD_TYPE, payload.clone(), &[&signer]);
    let json = json!({
        "payload": URL_SAFE_NO_PAD.encode(&payload),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [{"keyid": signer.key_id().hex(), "sig": URL_SAFE_NO_PAD.encode(&envelope.signatures[0].sig)}],
    });
    let parsed = Envelope::from_json(&serde_json::to_vec(&json).unwrap()).unwrap();
    assert_eq!(parsed, envelope);
    parsed.verify(PAYLOAD_TYPE, &trust(&[&signer], 1)).unwrap();
}

#[test]
fn malformed_envelope_json_is_refused() {
    for input in [
        &b"not json"[..],
        br#"{"payload":"eA==","payloadType":"t"}"#,
        br#"{"payload":"eA==","payloadType":"t","signatures":[],"extra":1}"#,
        br#"{"payload":"!!","payloadType":"t","signatures":[]}"#,
        br#"{"payload":"eA==","payloadType":"t","signatures":[{"keyid":"k","sig":"%%"}]}"#,
        br#"{"payload":"eA==","payloadType":"t","signatures":[{"keyid":"k"}]}"#,
        br#"{"payload":"eA==","payload":"eQ==","payloadType":"t","signatures":[]}"#,
    ] {
        assert!(
            matches!(Envelope::from_json(input), Err(DsseError::Malformed { .. })),
            "{} must be refused",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn an_envelope_with_more_than_the_maximum_number_of_signatures_is_refused() {
    use locara_core::keys::MAX_SIGNATURES;
    let signer = key(1);
    let mut envelope = Envelope::signed(PAYLOAD_TYPE, b"x".to_vec(), &[&signer]);
    let copy = envelope.signatures[0].clone();
    envelope.signatures.resize(MAX_SIGNATURES, copy.clone());
    let at_limit = Envelope::from_json(&envelope.to_json()).unwrap();
    at_limit
        .verify(PAYLOAD_TYPE, &trust(&[&signer], 1))
        .unwrap();
    envelope.signatures.push(copy);
    assert!(matches!(
        Envelope::from_json(&envelope.to_json()),
        Err(DsseError::Malformed { reason }) if reason.contains("65 signatures")
    ));
}

#[test]
fn refuses_an_envelope_larger_than_the_limit_before_parsing_it() {
    let signer = key(7);
    let envelope = Envelope::signed(PAYLOAD_TYPE, vec![b'x'; 800 * 1024], &[&signer]);
    let json = envelope.to_json();
    assert!(json.len() > locara_core::dsse::MAX_ENVELOPE_BYTES);
    assert_eq!(
        Envelope::from_json(&json),
        Err(DsseError::TooLarge {
            size: json.len(),
            limit: locara_core::dsse::MAX_ENVELOPE_BYTES
        })
    );
    let small = Envelope::signed(PAYLOAD_TYPE, vec![b'x'; 1024], &[&signer]);
    assert_eq!(Envelope::from_json(&small.to_json()).unwrap(), small);
}
