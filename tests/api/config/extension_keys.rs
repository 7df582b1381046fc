//! `extension.*`: what the manifest and the page's framing policy are built from.

use super::{
    ACME_PROVIDER, acme_problems, assert_one_problem, config_dir, load, sources, validate,
};

#[test]
fn extension_id_that_is_not_a_reverse_domain_is_refused() {
    let problems = acme_problems(&[("BROKER__EXTENSION__ID", "my extension")]);
    assert_one_problem(&problems, &["extension.id", "reverse domain"]);
}

#[test]
fn extension_version_that_is_not_numbers_is_refused() {
    let problems = acme_problems(&[("BROKER__EXTENSION__VERSION", "v1-beta")]);
    assert_one_problem(&problems, &["extension.version"]);
}

#[test]
fn extension_author_email_without_a_domain_is_refused() {
    let problems = acme_problems(&[("BROKER__EXTENSION__AUTHOR_EMAIL", "nobody")]);
    assert_one_problem(&problems, &["extension.author_email"]);
}

#[test]
fn frame_ancestor_that_would_inject_a_csp_directive_is_refused() {
    let problems = acme_problems(&[(
        "BROKER__EXTENSION__FRAME_ANCESTORS",
        "https://a.example;script-src",
    )]);
    assert_one_problem(&problems, &["extension.frame_ancestors"]);
}

#[test]
fn frame_ancestors_from_the_environment_are_a_list() {
    let dir = config_dir(&[("default.toml", ACME_PROVIDER)]);
    let settings = load(&sources(
        dir.path(),
        &[(
            "BROKER__EXTENSION__FRAME_ANCESTORS",
            "https://tableau.example.com, https://*.online.tableau.com 'self'",
        )],
    ));
    let validated = validate(settings, false);
    assert_eq!(
        validated.settings.extension.frame_ancestors,
        [
            "https://tableau.example.com",
            "https://*.online.tableau.com",
            "'self'"
        ]
    );
}
