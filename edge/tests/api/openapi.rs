//! `/openapi.json` documents every path, method and status of the REST table
//! in `docs/protocol.md`, read from that page itself.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{TestApp, body_json};

/// One row of the reference: method, path as the document spells it, statuses.
type Row = (String, String, BTreeSet<String>);

fn reference() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md");
    std::fs::read_to_string(path).expect("docs/protocol.md in the repository")
}

/// Three-digit codes at the start of `;`-separated parts of a cell.
fn codes(cell: &str) -> BTreeSet<String> {
    cell.split(';')
        .filter_map(|part| {
            let part = part.trim().trim_start_matches('`');
            let code = part.get(..3)?;
            code.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| code.to_owned())
        })
        .collect()
}

/// `POST /en/api/v1/x/?a=1` → (`post`, `/{lang}/api/v1/x`).
fn endpoint(cell: &str) -> (String, String) {
    let request = cell.split('`').nth(1).expect("a request in backticks");
    let (method, target) = request.split_once(' ').expect("method and path");
    let path = target.split('?').next().unwrap().trim_end_matches('/');
    let path = path.replacen("/en/", "/{lang}/", 1);
    (method.to_lowercase(), path)
}

/// The rows of the REST table; "as for edit" takes the edit row's errors.
fn rest_table(reference: &str) -> Vec<Row> {
    let section = reference
        .split("## REST")
        .nth(1)
        .expect("a REST section")
        .split("\n## ")
        .next()
        .unwrap();
    let mut rows: Vec<Row> = Vec::new();
    for line in section.lines().filter(|line| line.starts_with("| `")) {
        let cells: Vec<&str> = line.split(" | ").collect();
        let (method, path) = endpoint(cells[0]);
        let mut statuses = codes(cells[1]);
        if cells[2].contains("as for edit") {
            let edit = rows
                .iter()
                .find(|(m, _, _)| m == "put")
                .expect("the edit row");
            statuses.extend(edit.2.iter().filter(|code| !code.starts_with('2')).cloned());
        } else {
            statuses.extend(codes(cells[2]));
        }
        rows.push((method, path, statuses));
    }
    rows
}

#[tokio::test]
async fn the_document_covers_every_rest_path_method_and_status_of_the_reference() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .get(format!("http://{}/openapi.json", app.rest_addr))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let document = body_json(response).await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    let rows = rest_table(&reference());
    assert_eq!(rows.len(), 8, "the reference's REST table has eight rows");
    for (method, path, statuses) in rows {
        let documented = paths
            .iter()
            .find(|(documented, _)| documented.trim_end_matches('/') == path)
            .map(|(_, item)| &item[&method])
            .unwrap_or_else(|| panic!("{path} is documented"));
        let responses = documented["responses"].as_object().expect("responses");
        for status in statuses {
            assert!(
                responses.contains_key(&status),
                "{method} {path} documents {status}"
            );
        }
        assert_eq!(documented["security"][0]["bearer"], Value::Array(vec![]));
    }
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
}
