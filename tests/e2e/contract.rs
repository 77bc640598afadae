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

/// The stream consumer's event source: failures reported per record, bisected, retried a
/// bounded number of times for a bounded age, then sent to a queue someone is alarmed about.
#[test]
fn the_stream_consumer_checkpoints_retries_and_dead_letters() {
    let template = template();
    let resources = &template["Resources"];
    let stream = &resources["WorkflowsFunction"]["Properties"]["Events"]["TableStream"];
    assert_eq!(stream["Type"].as_str(), Some("DynamoDB"));
    let properties = &stream["Properties"];
    assert_eq!(properties["FunctionResponseTypes"][0].as_str(), Some("ReportBatchItemFailures"));
    assert_eq!(properties["BisectBatchOnFunctionError"].as_bool(), Some(true));
    assert!(properties["MaximumRetryAttempts"].as_i64().is_some_and(|tries| (1..=10).contains(&tries)));
    assert!(properties["MaximumRecordAgeInSeconds"].as_i64().is_some_and(|age| (60..=86_400).contains(&age)));
    let destination = &properties["DestinationConfig"]["OnFailure"];
    assert_eq!(destination["Type"].as_str(), Some("SQS"));
    let queue = &resources["WorkflowsDeadLetters"];
    assert_eq!(queue["Type"].as_str(), Some("AWS::SQS::Queue"));
    let alarmed = resources.as_hash().expect("resources").values().any(|resource| {
        resource["Type"].as_str() == Some("AWS::CloudWatch::Alarm")
            && resource["Properties"]["Namespace"].as_str() == Some("AWS/SQS")
    });
    assert!(alarmed, "an alarm watches the dead-letter queue");
    let filters = properties["FilterCriteria"]["Filters"].as_vec().expect("filters");
    for filter in filters {
        let pattern: serde_json::Value =
            serde_json::from_str(filter["Pattern"].as_str().expect("pattern")).expect("a JSON pattern");
        let image = pattern["dynamodb"].as_object().and_then(|images| images.values().next()).cloned();
        let entity = image.as_ref().map(|image| image["entity"]["S"].clone());
        let kind = image.as_ref().map(|image| image["kind"]["S"].clone());
        assert!(
            entity == Some(serde_json::json!(["record"]))
                || (entity == Some(serde_json::json!(["account"]))
                    && kind == Some(serde_json::json!(["customer"]))),
            "{pattern}"
        );
    }
    let timeout = resources["WorkflowsFunction"]["Properties"]["Timeout"].as_i64().expect("timeout");
    assert!(timeout >= 60, "a batch of 100 has room for its actions");
}

#[test]
fn template_routes_and_openapi_operations_match() {
    let template = template();
    let mut routes = BTreeSet::new();
    for function in functions(&template) {
        let events = function["Properties"]["Events"].as_hash().expect("Events");
        for event in
            events.values().filter(|event| !matches!(event["Type"].as_str(), Some("DynamoDB" | "Schedule")))
        {
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

#[test]
fn no_two_types_share_a_schema_name() {
    let clashes = portico_openapi::clashing_schema_names();
    assert!(
        clashes.is_empty(),
        "schema names given to different types (rename one with #[schema(as = ..)]): {clashes:?}"
    );
}

/// The function serves the committed document (`functions/openapi/openapi.json`): it must be the
/// one the code generates. `make openapi` writes it again.
#[test]
fn the_committed_document_is_the_generated_one() {
    let generated = portico_openapi::document().to_pretty_json().expect("document as JSON") + "\n";
    expect_test::expect_file!["../../functions/openapi/openapi.json"].assert_eq(&generated);
}

#[tokio::test]
async fn the_document_is_served() {
    let app = crate::support::spawn_app().await;
    let served = app.get("/openapi.json", None).await;
    assert_eq!(served.status, reqwest::StatusCode::OK);
    let committed: serde_json::Value = serde_json::from_str(portico_openapi::DOCUMENT).expect("the document");
    assert_eq!(served.body, committed);
    assert_eq!(served.body["info"]["title"], "Portico");
    assert!(served.body["components"]["securitySchemes"]["bearer"].is_object());
}

/// The document is valid OpenAPI 3.1, as `openapi-spec-validator` (pinned in the project venv)
/// judges it: client generators refuse anything less.
#[test]
fn the_document_is_valid_openapi() {
    let path = std::env::temp_dir().join(format!("portico-openapi-{}.json", std::process::id()));
    let json = portico_openapi::document().to_pretty_json().expect("document as JSON");
    std::fs::write(&path, json).expect("write the document");
    let validator = crate::support::venv_tool("openapi-spec-validator");
    let output = std::process::Command::new(&validator)
        .arg(&path)
        .output()
        .unwrap_or_else(|error| panic!("{} (run `make venv`): {error}", validator.display()));
    let _ = std::fs::remove_file(&path);
    let report =
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the OpenAPI document is invalid:\n{report}");
}

/// Staff routes answer 403 to a customer's token (and to staff without the right), the portal to
/// a staff token: each documents it, so a client generated from the document expects it.
#[test]
fn every_route_of_one_kind_of_account_documents_its_403() {
    let document: serde_json::Value =
        serde_json::from_str(&portico_openapi::document().to_json().expect("JSON")).expect("the document");
    let staff_paths = ["/admin/", "/records/", "/imports/", "/forms", "/portal/"];
    let mut undocumented = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        if !staff_paths.iter().any(|prefix| path.starts_with(prefix)) {
            continue;
        }
        for (method, operation) in item.as_object().expect("operations") {
            let secured = operation["security"].as_array().is_some_and(|security| !security.is_empty());
            if secured && operation["responses"].get("403").is_none() {
                undocumented.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(undocumented.is_empty(), "routes without a documented 403: {undocumented:?}");
}
