//! Update classification by cargo's caret rules (ADR 0013).

use locara_core::version::{Change, ClassifyError, Version, classify};

fn v(text: &str) -> Version {
    text.parse().unwrap()
}

#[test]
fn classifies_cargo_caret_examples() {
    // (old, new, change): `^old` matches `new` exactly when the change is Patch or Minor.
    let table = [
        ("1.2.3", "1.2.4", Change::Patch),
        ("1.2.3", "1.3.0", Change::Minor),
        ("1.2.3", "1.10.0", Change::Minor),
        ("1.2.3", "2.0.0", Change::Major),
        ("1.0.0", "1.0.1", Change::Patch),
        ("1.9.9", "2.0.0", Change::Major),
        ("0.1.2", "0.1.3", Change::Patch),
        ("0.1.2", "0.2.0", Change::Major),
        ("0.2.3", "0.2.9", Change::Patch),
        ("0.2.3", "0.3.0", Change::Major),
        ("0.0.3", "0.0.4", Change::Major),
        ("0.0.3", "0.1.0", Change::Major),
        ("0.9.0", "1.0.0", Change::Major),
        ("0.0.1", "1.0.0", Change::Major),
    ];
    for (old, new, expected) in table {
        assert_eq!(classify(&v(old), &v(new)), Ok(expected), "{old} -> {new}");
    }
}

#[test]
fn refuses_equal_versions_naming_both() {
    let error = classify(&v("1.4.2"), &v("1.4.2")).unwrap_err();
    assert_eq!(
        error,
        ClassifyError::Same {
            old: v("1.4.2"),
            new: v("1.4.2")
        }
    );
    let message = error.to_string();
    assert!(message.contains("1.4.2"), "{message}");
}

#[test]
fn refuses_versions_differing_only_in_build_metadata() {
    assert!(matches!(
        classify(&v("1.4.2+linux"), &v("1.4.2+mac")),
        Err(ClassifyError::Same { .. })
    ));
}

#[test]
fn refuses_lower_version_naming_both() {
    let error = classify(&v("1.4.2"), &v("1.3.9")).unwrap_err();
    assert!(matches!(error, ClassifyError::Lower { .. }));
    let message = error.to_string();
    assert!(
        message.contains("1.4.2") && message.contains("1.3.9"),
        "{message}"
    );
}

#[test]
fn refuses_release_to_its_own_pre_release() {
    assert!(matches!(
        classify(&v("1.0.0"), &v("1.0.0-rc.1")),
        Err(ClassifyError::Lower { .. })
    ));
}

#[test]
fn any_change_involving_a_pre_release_is_major() {
    for (old, new) in [
        ("1.0.0-rc.1", "1.0.0"),
        ("1.0.0-rc.1", "1.0.0-rc.2"),
        ("1.4.2", "1.4.3-beta"),
        ("1.4.2-beta", "1.4.3"),
    ] {
        assert_eq!(
            classify(&v(old), &v(new)),
            Ok(Change::Major),
            "{old} -> {new}"
        );
    }
}

#[test]
fn build_metadata_does_not_change_the_size() {
    assert_eq!(classify(&v("1.4.2+a"), &v("1.4.3+b")), Ok(Change::Patch));
}

#[test]
fn changes_are_ordered_by_size() {
    assert!(Change::Patch < Change::Minor && Change::Minor < Change::Major);
    assert_eq!(Change::Minor.to_string(), "minor");
}
