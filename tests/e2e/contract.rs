//! The deployment contract: every function crate has its resource in infra/template.yaml and
//! every resource its crate; every route API Gateway sends has its OpenAPI operation and every
//! documented operation its API Gateway route.

use std::collections::BTreeSet;
use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

fn template() -> Yaml {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    let text = std::fs::read_to_string(path).expect("infra/template.yaml");
    YamlLoader::load_from_str(&text).expect("valid YAML").remove(0)
}

fn functions(template: &Yaml) -> Vec<&Yaml> {
    let resources = template["Resources"].as_hash().expect("Resources");
    resources.values().filter(|r| r["Type"].as_str() == Some("AWS::Serverless::Function")).collect()
}

#[test]
fn every_function_crate_has_a_template_resource_and_back() {
    let template = template();
    let mut in_template = BTreeSet::new();
    for function in functions(&template) {
        let code_uri = function["Properties"]["CodeUri"].as_str().expect("CodeUri");
        let name = code_uri.strip_prefix("../functions/").expect("CodeUri points into functions/").to_owned();
        assert_eq!(function["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"), "{name}");
        assert_eq!(function["Metadata"]["BuildProperties"]["Binary"].as_str(), Some(name.as_str()), "{name}");
        in_template.insert(name);
    }
    let functions_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
    let crates: BTreeSet<String> = std::fs::read_dir(functions_dir)
        .expect("functions/")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(in_template, crates);
}

#[test]
fn template_routes_and_openapi_operations_match() {
    let template = template();
    let mut routes = BTreeSet::new();
    for function in functions(&template) {
        for event in function["Properties"]["Events"].as_hash().expect("Events").values() {
            assert_eq!(event["Type"].as_str(), Some("HttpApi"));
            let method = event["Properties"]["Method"].as_str().expect("Method").to_lowercase();
            routes.insert((method, event["Properties"]["Path"].as_str().expect("Path").to_owned()));
        }
    }
    let document = serde_json::to_value(portico_openapi::document()).expect("OpenAPI as JSON");
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "OpenAPI 3.1");
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            operations.insert((method.clone(), path.clone()));
        }
    }
    let undocumented: Vec<_> = routes.difference(&operations).collect();
    let unrouted: Vec<_> = operations.difference(&routes).collect();
    assert!(undocumented.is_empty(), "routes without an OpenAPI operation: {undocumented:?}");
    assert!(unrouted.is_empty(), "operations API Gateway does not route: {unrouted:?}");
}

#[tokio::test]
async fn the_document_is_served() {
    let app = crate::support::spawn_app().await;
    let served = app.get("/openapi.json", None).await;
    assert_eq!(served.status, reqwest::StatusCode::OK);
    assert_eq!(served.body["info"]["title"], "Portico");
    assert!(served.body["components"]["securitySchemes"]["bearer"].is_object());
}

/// The document is valid OpenAPI 3.1, as `openapi-spec-validator` (pinned in the project venv)
/// judges it: client generators refuse anything less.
#[test]
fn the_document_is_valid_openapi() {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = std::env::temp_dir().join(format!("portico-openapi-{}.json", std::process::id()));
    let json = portico_openapi::document().to_pretty_json().expect("document as JSON");
    std::fs::write(&path, json).expect("write the document");
    let validator = workspace.join(".venv/bin/openapi-spec-validator");
    let output = std::process::Command::new(&validator)
        .arg(&path)
        .output()
        .unwrap_or_else(|error| panic!("{} (run `make venv`): {error}", validator.display()));
    let _ = std::fs::remove_file(&path);
    let report =
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the OpenAPI document is invalid:\n{report}");
}
