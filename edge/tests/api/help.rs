//! `edge --help` documents every setting, and the README's configuration
//! table lists exactly the edge's environment variables.

#[test]
fn help_documents_every_variable_of_the_readme_table_and_no_other() {
    let help = service_kit::help::of(env!("CARGO_BIN_EXE_edge"));
    service_kit::help::assert_matches_readme(&help, include_str!("../../../README.md"), "edge");
    assert!(help.contains("[default: 127.0.0.1:8000,127.0.0.1:8001]"));
}
