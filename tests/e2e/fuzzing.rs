//! The whole API fuzzed against its own OpenAPI document by schemathesis (pinned in the
//! project venv; settings in tests/schemathesis.toml): no 5xx, and every response — its status,
//! content type, headers and body — as documented, for an administrator, a staff member and a
//! customer, each fresh for the run.

use portico::domain::BuiltinRole;
use reqwest::StatusCode;

use crate::support::{DEVICE, PASSWORD, spawn_app, venv_tool, workspace};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_is_as_the_openapi_document_says_under_schemathesis() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let staff = app.staff_token(BuiltinRole::SalesManager).await;
    let customer_email = app.active_customer(&admin, false).await;
    let signed_in = app.sign_in(&customer_email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    let customer = signed_in.body["access_token"].as_str().expect("token").to_owned();

    // A directory of its own: schemathesis keeps reports and a cache where it runs.
    let run_dir = std::env::temp_dir().join(format!("portico-schemathesis-{}", ulid::Ulid::generate()));
    std::fs::create_dir_all(&run_dir).expect("run directory");
    let schemathesis = venv_tool("schemathesis");
    let started = std::time::Instant::now();
    let output = tokio::process::Command::new(&schemathesis)
        .current_dir(&run_dir)
        .arg("--no-color")
        .arg("--config-file")
        .arg(workspace().join("tests/schemathesis.toml"))
        .args(["run", &format!("{}/openapi.json", app.base)])
        .env("PORTICO_FUZZ_HOOKS", workspace().join("tests/schemathesis_hooks.py"))
        .env("PORTICO_FUZZ_DEVICE", DEVICE)
        .env("PORTICO_FUZZ_ADMIN", &admin)
        .env("PORTICO_FUZZ_STAFF", &staff)
        .env("PORTICO_FUZZ_CUSTOMER", &customer)
        .output()
        .await
        .unwrap_or_else(|error| panic!("{} (run `make venv`): {error}", schemathesis.display()));
    let report =
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    let cases = report.lines().find(|line| line.contains(" generated,")).unwrap_or("no test cases").trim();
    println!("schemathesis: {cases} in {:.1} s", started.elapsed().as_secs_f64());
    if output.status.success() {
        let _ = std::fs::remove_dir_all(&run_dir);
        return;
    }
    let saved = run_dir.join("schemathesis-output.txt");
    std::fs::write(&saved, &report).expect("save the report");
    // The failures (each with a curl line to reproduce it) and the summary, within reason.
    let failures = report.find("FAILURES").map_or(report.as_str(), |start| &report[start..]);
    let shown: String = failures.lines().take(400).collect::<Vec<_>>().join("\n");
    let summary = report.find("SUMMARY").map_or("", |start| &report[start..]);
    panic!(
        "schemathesis found responses the OpenAPI document does not describe ({cases}); full report in {}:\n{shown}\n…\n{summary}",
        saved.display()
    );
}
