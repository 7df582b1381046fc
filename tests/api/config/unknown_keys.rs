//! Unknown keys, in a file or a variable, are errors naming them.

use super::{assert_one_problem, config_dir, load_problems, sources};

#[test]
fn unknown_key_in_a_file_is_an_error_naming_it() {
    let dir = config_dir(&[("default.toml", "[server]\nbnd = \"0.0.0.0:8080\"\n")]);
    assert_one_problem(&load_problems(&sources(dir.path(), &[])), &["bnd"]);
}

#[test]
fn unknown_section_in_a_file_is_an_error_naming_it() {
    let dir = config_dir(&[("default.toml", "[sever]\nbind = \"0.0.0.0:8080\"\n")]);
    assert_one_problem(&load_problems(&sources(dir.path(), &[])), &["sever"]);
}

#[test]
fn unknown_key_in_a_provider_table_is_an_error_naming_it() {
    let dir = config_dir(&[("default.toml", "[providers.acme]\nclient_secrte = \"x\"\n")]);
    assert_one_problem(
        &load_problems(&sources(dir.path(), &[])),
        &["client_secrte"],
    );
}

#[test]
fn unknown_key_from_an_environment_variable_is_an_error_naming_it() {
    let dir = config_dir(&[]);
    let problems = load_problems(&sources(
        dir.path(),
        &[("BROKER__SERVER__BND", "0.0.0.0:8080")],
    ));
    assert_one_problem(&problems, &["bnd"]);
}
