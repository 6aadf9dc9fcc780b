//! Name collision checks: canonical forms, confusables and typosquats (DESIGN §3, ADRs 0010 and 0011).

use locara_core::names::{
    AppName, Collision, CollisionReason, Compared, canonical, check_canonical_collision,
    check_collision, check_typosquat, edit_distance_threshold,
};

fn names(list: &[&str]) -> Vec<AppName> {
    list.iter().map(|name| name.parse().unwrap()).collect()
}

fn collision(candidate: &str, existing: &[&str]) -> Collision {
    check_collision(candidate, &names(existing)).expect_err("expected a collision")
}

#[test]
fn canonical_form_folds_separators_and_case() {
    assert_eq!(
        canonical("acme/notes-search"),
        canonical("acme/notes_search")
    );
    assert_eq!(
        canonical("acme/notes-search"),
        canonical("acme/notes.search")
    );
    assert_eq!(
        canonical("acme/notes-search"),
        canonical("ACME/Notes-Search")
    );
    assert_eq!(
        canonical("acme/notes-search"),
        canonical("acme/notessearch")
    );
}

#[test]
fn cyrillic_o_collides_with_latin_o() {
    let found = collision("acme/n\u{043e}tes", &["acme/notes"]);
    assert_eq!(found.existing.to_string(), "acme/notes");
    assert!(matches!(
        found.reason,
        CollisionReason::SameCanonicalForm { .. }
    ));
}

#[test]
fn cyrillic_a_and_e_collide_with_latin_letters() {
    assert_eq!(canonical("\u{0430}cme/notes"), canonical("acme/notes"));
    assert_eq!(canonical("acme/not\u{0435}s"), canonical("acme/notes"));
    assert!(
        check_canonical_collision("\u{0430}cme/not\u{0435}s", &names(&["acme/notes"])).is_err()
    );
}

#[test]
fn digit_zero_collides_with_letter_o() {
    assert_eq!(canonical("acme/n0tes"), canonical("acme/notes"));
    assert!(check_canonical_collision("acme/n0tes", &names(&["acme/notes"])).is_err());
}

#[test]
fn digit_one_and_capital_i_collide_with_letter_l() {
    assert_eq!(canonical("acme/1ogs"), canonical("acme/logs"));
    assert_eq!(canonical("acme/Iogs"), canonical("acme/logs"));
}

#[test]
fn rn_collides_with_m_as_tr39_defines_it() {
    // TR39 maps `m` to the skeleton `rn`, so `modern` and `rnodern` share a canonical form.
    assert_eq!(canonical("m"), "rn");
    assert_eq!(canonical("acme/modern"), canonical("acme/rnodern"));
    assert!(check_canonical_collision("acrne/tools", &names(&["acme/tools"])).is_err());
}

#[test]
fn compatibility_forms_are_folded() {
    // U+FB01 LATIN SMALL LIGATURE FI and full-width letters become plain ASCII under NFKC.
    assert_eq!(canonical("acme/\u{fb01}les"), canonical("acme/files"));
    assert_eq!(canonical("acme/\u{ff4e}otes"), canonical("acme/notes"));
}

#[test]
fn canonical_form_applies_to_invalid_raw_names() {
    // Neither candidate is a valid AppName, yet the check explains which name it imitates.
    assert!("acme/notes_search".parse::<AppName>().is_err());
    let found = collision("acme/notes_search", &["acme/notes-search"]);
    assert_eq!(found.existing.to_string(), "acme/notes-search");
    assert!(found.to_string().contains("`acme/notes_search`"));
}

#[test]
fn identical_name_collides() {
    let found = collision("acme/notes", &["acme/notes"]);
    assert!(matches!(
        found.reason,
        CollisionReason::SameCanonicalForm { .. }
    ));
}

#[test]
fn distinct_names_do_not_collide() {
    let existing = names(&["acme/notes-search", "bob/photo-sort", "carol/git-helper"]);
    assert_eq!(check_collision("dave/weather-station", &existing), Ok(()));
}

#[test]
fn typo_of_another_publishers_app_is_refused_with_readable_error() {
    let found = collision("acme/notes-serch", &["acme2/notes-search"]);
    assert_eq!(
        found.reason,
        CollisionReason::EditDistance {
            distance: 1,
            threshold: 2,
            compared: Compared::Slug
        }
    );
    assert_eq!(
        found.to_string(),
        "`acme/notes-serch` is too close to `acme2/notes-search` (edit distance 1, limit 2 for names of this length); choose a clearly different name"
    );
}

#[test]
fn transposition_counts_as_one_edit() {
    let found = collision("mallory/ntoes", &["acme/notes"]);
    assert!(matches!(
        found.reason,
        CollisionReason::EditDistance {
            distance: 1,
            threshold: 1,
            ..
        }
    ));
}

#[test]
fn same_slug_under_another_publisher_is_refused() {
    let found = collision("mallory/notes-search", &["acme/notes-search"]);
    assert!(matches!(
        found.reason,
        CollisionReason::EditDistance {
            distance: 0,
            compared: Compared::Slug,
            ..
        }
    ));
    assert!(
        found
            .to_string()
            .contains("the same app name under another publisher")
    );
}

#[test]
fn same_publisher_is_exempt_from_edit_distance() {
    let existing = names(&["acme/notes-search"]);
    assert_eq!(check_typosquat("acme/notes-serch", &existing), Ok(()));
    assert_eq!(check_collision("acme/notes-searcher", &existing), Ok(()));
}

#[test]
fn same_publisher_is_not_exempt_from_canonical_form() {
    let found = collision("acme/notes_search", &["acme/notes-search"]);
    assert!(matches!(
        found.reason,
        CollisionReason::SameCanonicalForm { .. }
    ));
}

#[test]
fn short_names_collide_only_when_canonically_equal() {
    let existing = names(&["acme/git"]);
    assert_eq!(check_typosquat("bob/gif", &existing), Ok(()));
    // `g1t` folds to `glt`: one edit from `git`, but the limit for three letters is 0.
    assert_eq!(check_typosquat("bob/g1t", &existing), Ok(()));
    assert!(check_typosquat("bob/git", &existing).is_err());
}

#[test]
fn threshold_scales_with_length() {
    assert_eq!(edit_distance_threshold(3), 0);
    assert_eq!(edit_distance_threshold(4), 0);
    assert_eq!(edit_distance_threshold(5), 1);
    assert_eq!(edit_distance_threshold(8), 1);
    assert_eq!(edit_distance_threshold(9), 2);
    let existing = names(&["acme/notes"]);
    assert!(check_typosquat("bob/notez", &existing).is_err());
    assert_eq!(check_typosquat("bob/nofez", &existing), Ok(()));
}

#[test]
fn full_name_comparison_catches_typos_spread_over_both_parts() {
    // The slugs `gif` and `git` are too short for any edit, but `acme1/gif` is two edits from
    // `acme/git` over ten characters.
    let existing = names(&["acme/git"]);
    let found = check_typosquat("acme1/gif", &existing).unwrap_err();
    assert_eq!(
        found.reason,
        CollisionReason::EditDistance {
            distance: 2,
            threshold: 2,
            compared: Compared::FullName
        }
    );
}

#[test]
fn canonical_check_alone_ignores_typos() {
    let existing = names(&["acme/notes-search"]);
    assert_eq!(
        check_canonical_collision("bob/notes-serch", &existing),
        Ok(())
    );
}
