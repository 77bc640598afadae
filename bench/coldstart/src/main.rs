//! `make bench`'s cold-start harness (issue 12).
//!
//! Starts each function's release binary as Lambda does — a fresh process, the Lambda
//! environment, a runtime API on loopback (`runtime_api`) — hands it one fixture from `events/`
//! that reads DynamoDB, and times process start → first `/next` (init) and → the response
//! (first response). Every round starts every subject once, so noise falls on all alike; the
//! first round warms the page cache and is not counted. Beside the functions run the baselines of
//! `bench/baselines` (hello world; the same DynamoDB call on the bare SDK, in one mode per lever).
//!
//! moto serves HTTPS with a test CA made for the run, and the binaries trust it through
//! `SSL_CERT_FILE` (the system bundle plus the test CA, one file as on Lambda), so a first
//! response pays the handshake and the root-store loading.
//!
//! Every function reads its master secret from moto's Secrets Manager at init, as on Lambda.
//!
//! `coldstart --help` lists the options (`USAGE` below). `coldstart init-parts` is the child
//! that times the parts of a function's init in-process.

mod init_parts;
mod report;
mod runtime_api;

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use portico::auth::{Grants, Keys};
use portico::domain::account::{Account, PasswordHash};
use portico::domain::{AccountKind, BuiltinRole, Email, ModuleAccess, Permission};
use portico::store::accounts::StaffWrite;

use runtime_api::Call;

type BoxError = Box<dyn Error + Send + Sync>;

const REGION: &str = "us-east-1";
const TABLE: &str = "portico-coldstart";
const SECRET: &str = "coldstart-bench-secret-0123456789abcdef01";
/// The Secrets Manager secret (in moto) holding `SECRET`, which the functions read at init.
const SECRET_ID: &str = "portico/coldstart-master-secret";

const USAGE: &str = "\
usage: coldstart [--runs N] [--only FUNCTION,...] [--write BENCHMARKS.md]
                 [--extra FUNCTION:LABEL=PATH]... [--before FUNCTION=PATH]... [--arm64 DIR]

  --runs N        cold starts per subject after one uncounted round (default 20)
  --only F,G      only these functions (e.g. registration,sessions), beside hello world, the bare
                  SDK and the bare SDK reading the secret (Secrets Manager, KMS); the other levers
                  are left out. A
                  reduced run for a quick before/after: its tables are not the full bench's
  --write FILE    put the tables between the cold-start markers of FILE (BENCHMARKS.md)
  --extra F:L=P   another build P of function F (or of `hello`, or of `bare-sdk` in its `eager`
                  mode) as a row labelled L, e.g. one built with opt-level = \"z\"
  --before F=P    a build P of function F from before the secret was read at init: it gets the
                  secret in PORTICO_SECRET, as the template gave it then
  --arm64 DIR     cargo-lambda's build of the same tree (`make bench-size`: target/lambda): each
                  binary's arm64 bootstrap DIR/NAME/bootstrap is sized beside it, and the size
                  goal judges it
";
/// Placeholder in fixtures of routes that need a staff access token; the bench signs one.
const TOKEN_PLACEHOLDER: &str = "{{STAFF_ACCESS_TOKEN}}";
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
const SYSTEM_CERT_DIR: &str = "/etc/ssl/certs";

/// Each function's cold-start fixture: one DynamoDB call (`openapi` makes none), and the status
/// it must answer.
const FIXTURES: [(&str, &str, u16); 9] = [
    ("registration", "get-policy.json", 200),
    ("sessions", "refresh-unknown.json", 401),
    ("admin", "get-registration-settings.json", 200),
    ("openapi", "get-openapi.json", 200),
    ("records", "get-task-unknown.json", 404),
    ("otp", "list-rules.json", 200),
    ("portal", "list-config.json", 200),
    // The stream consumer: a deal inserted, the rules read (two Queries in parallel); its "200" is
    // an empty `batchItemFailures`.
    ("workflows", "insert-deal.json", 200),
    // The scheduled function: the rules read (two Queries in parallel), none of them a time
    // rule; its "200" is a run summary.
    ("housekeeping", "scheduled.json", 200),
];

/// What the bench starts: a binary, its arguments and environment, the event it gets.
pub struct Subject {
    pub label: String,
    pub kind: Kind,
    binary: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    event: String,
    /// The status its response must carry; `None`: measured for init alone.
    expect: Option<u16>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Hello,
    Bare,
    Lever,
    Function,
}

/// One cold start.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub init: Duration,
    pub first_response: Option<Duration>,
    pub peak_rss_kib: Option<u64>,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn main() -> Result<(), BoxError> {
    let runtime = tokio::runtime::Runtime::new()?;
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("init-parts") {
        return runtime.block_on(init_parts::run());
    }
    let mut options = Options { runs: 20, ..Options::default() };
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value\n\n{USAGE}"));
        match arg.as_str() {
            "--runs" => options.runs = value()?.parse()?,
            "--only" => options.only = Some(value()?.split(',').map(str::to_owned).collect()),
            "--write" => options.write = Some(PathBuf::from(value()?)),
            "--extra" => options.extras.push(value()?),
            "--before" => options.before.push(value()?),
            "--arm64" => options.arm64 = Some(PathBuf::from(value()?)),
            "--help" | "-h" => {
                print!("{USAGE}");
                return Ok(());
            }
            _ => return Err(format!("unknown argument {arg}\n\n{USAGE}").into()),
        }
    }
    runtime.block_on(bench(options))
}

#[derive(Default)]
struct Options {
    runs: usize,
    /// Only these functions, and no levers but the secret read's.
    only: Option<Vec<String>>,
    write: Option<PathBuf>,
    extras: Vec<String>,
    before: Vec<String>,
    arm64: Option<PathBuf>,
}

async fn bench(options: Options) -> Result<(), BoxError> {
    let Options { runs, only, write, extras, before, arm64 } = options;
    let started = Instant::now();
    let bin_dir = std::env::current_exe()?.parent().ok_or("no binary dir")?.to_path_buf();
    let work = bin_dir.join("coldstart-run");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let python = workspace().join(".venv/bin/python");

    // A test CA and moto on HTTPS.
    let status = std::process::Command::new(&python)
        .arg(workspace().join("bench/coldstart/make_certs.py"))
        .arg(&work)
        .status()?;
    if !status.success() {
        return Err("making the test certificates failed".into());
    }
    let ca = std::fs::read(work.join("ca.pem"))?;
    let mut bundle = std::fs::read(SYSTEM_BUNDLE).unwrap_or_default();
    let system_roots = bundle.len();
    bundle.extend_from_slice(&ca);
    let bundle_path = work.join("bundle.pem");
    std::fs::write(&bundle_path, &bundle)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let _moto = tokio::process::Command::new(&python)
        .arg(workspace().join("infra/local/moto_server.py"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .arg("--certfile")
        .arg(work.join("server.pem"))
        .arg("--keyfile")
        .arg(work.join("server-key.pem"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(work.join("moto.log"))?)
        .kill_on_drop(true)
        .spawn()?;
    let endpoint = format!("https://127.0.0.1:{port}");
    let (token, session) = staff_token()?;
    seed(&endpoint, &ca, session).await?;

    let common: Vec<(String, String)> = [
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/02/[$LATEST]coldstart"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_ENDPOINT_URL", &endpoint),
        ("SSL_CERT_FILE", &bundle_path.to_string_lossy()),
        ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true"),
        ("TABLE_NAME", TABLE),
        ("MAIL_SENDER", "no-reply@example.com"),
        ("PUBLIC_BASE_URL", "https://api.example.com"),
        ("PORTICO_SECRET_ID", SECRET_ID),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect();
    let fixture = |function: &str, file: &str| -> Result<String, BoxError> {
        let path = workspace().join("events").join(function).join(file);
        Ok(std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .replace(TOKEN_PLACEHOLDER, &token))
    };
    let policy_event = fixture("registration", "get-policy.json")?;
    let subject = |label: &str, kind, binary: &str, args: &[&str], expect| Subject {
        label: label.to_owned(),
        kind,
        binary: bin_dir.join(binary),
        args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        env: common.clone(),
        event: policy_event.clone(),
        expect,
    };
    let with_cert_dir = |mut subject: Subject| {
        subject.env.push(("SSL_CERT_DIR".to_owned(), SYSTEM_CERT_DIR.to_owned()));
        subject
    };
    let mut subjects = vec![
        subject("hello world", Kind::Hello, "hello", &[], Some(200)),
        subject("hello world, no tracing subscriber", Kind::Lever, "hello", &["--no-tracing"], Some(200)),
        subject("bare SDK", Kind::Bare, "bare-sdk", &["direct", TABLE], Some(200)),
        subject(
            "bare SDK, aws-config loader (as before)",
            Kind::Lever,
            "bare-sdk",
            &["eager", TABLE],
            Some(200),
        ),
        subject("bare SDK, client at first request", Kind::Lever, "bare-sdk", &["lazy", TABLE], Some(200)),
        subject("bare SDK, connection primed at init", Kind::Lever, "bare-sdk", &["prime", TABLE], Some(200)),
        subject(
            "bare SDK + SES + SNS clients at init",
            Kind::Lever,
            "bare-sdk",
            &["three-clients", TABLE],
            Some(200),
        ),
        subject(
            "bare SDK + SES + SNS, one HTTP client",
            Kind::Lever,
            "bare-sdk",
            &["shared-http", TABLE],
            Some(200),
        ),
        with_cert_dir(subject(
            "bare SDK, roots from bundle + /etc/ssl/certs",
            Kind::Lever,
            "bare-sdk",
            &["eager", TABLE],
            Some(200),
        )),
        subject("bare SDK, no roots loaded (init only)", Kind::Lever, "bare-sdk", &["no-roots", TABLE], None),
        subject(
            "bare SDK + master secret read at init (GetSecretValue)",
            Kind::Lever,
            "bare-sdk",
            &["secret", TABLE],
            Some(200),
        ),
        subject(
            "bare SDK + master secret decrypted at init (KMS-encrypted variable, Decrypt)",
            Kind::Lever,
            "bare-sdk",
            &["kms", TABLE],
            Some(200),
        ),
    ];
    let ciphertext = kms_encrypted_secret(&bin_dir.join("bare-sdk"), &common).await?;
    for subject in subjects.iter_mut().filter(|s| s.args.first().is_some_and(|mode| mode == "kms")) {
        subject.env.push(("PORTICO_SECRET_CIPHERTEXT".to_owned(), ciphertext.clone()));
    }
    if only.is_some() {
        let about_the_secret = |mode: &String| mode == "secret" || mode == "kms";
        subjects.retain(|s| s.kind != Kind::Lever || s.args.first().is_some_and(about_the_secret));
    }
    let wanted = |function: &str| only.as_ref().is_none_or(|only| only.iter().any(|f| f == function));
    for (function, file, status) in FIXTURES.into_iter().filter(|(function, ..)| wanted(function)) {
        let mut function_subject = subject(function, Kind::Function, function, &[], Some(status));
        function_subject.event = fixture(function, file)?;
        subjects.push(function_subject);
    }
    for extra in &extras {
        let (name, path) = extra.split_once('=').ok_or("--extra FUNCTION:LABEL=PATH")?;
        let (function, label) = name.split_once(':').unwrap_or((name, name));
        let mut extra_subject = match function {
            "hello" => subject(label, Kind::Lever, "hello", &[], Some(200)),
            "bare-sdk" => subject(label, Kind::Lever, "bare-sdk", &["eager", TABLE], Some(200)),
            _ => {
                let (_, file, status) = FIXTURES
                    .iter()
                    .find(|(f, ..)| *f == function)
                    .ok_or_else(|| format!("no fixture for {function}"))?;
                let mut function_subject = subject(label, Kind::Function, function, &[], Some(*status));
                function_subject.event = fixture(function, file)?;
                function_subject
            }
        };
        extra_subject.binary = PathBuf::from(path);
        subjects.push(extra_subject);
    }
    for old in &before {
        let (function, path) = old.split_once('=').ok_or("--before FUNCTION=PATH")?;
        let (_, file, status) = FIXTURES
            .iter()
            .find(|(f, ..)| *f == function)
            .ok_or_else(|| format!("no fixture for {function}"))?;
        let label = format!("{function} (before: secret in the environment)");
        let mut old_subject = subject(&label, Kind::Function, function, &[], Some(*status));
        old_subject.event = fixture(function, file)?;
        old_subject.env.push(("PORTICO_SECRET".to_owned(), SECRET.to_owned()));
        old_subject.binary = PathBuf::from(path);
        subjects.push(old_subject);
    }
    for subject in &subjects {
        if !subject.binary.exists() {
            return Err(format!("{} is not built (make bench builds it)", subject.binary.display()).into());
        }
    }

    // A round that is not counted, then `runs` rounds.
    let mut samples: Vec<Vec<Sample>> = subjects.iter().map(|_| Vec::with_capacity(runs)).collect();
    for round in 0..=runs {
        for (subject, samples) in subjects.iter().zip(&mut samples) {
            let sample = cold_start(subject, &work).await.map_err(|e| format!("{}: {e}", subject.label))?;
            if round > 0 {
                samples.push(sample);
            }
        }
    }

    // The parts of a function's init, timed inside a fresh process.
    let mut parts: BTreeMap<usize, (String, Vec<Duration>)> = BTreeMap::new();
    for _ in 0..runs {
        let output = tokio::process::Command::new(std::env::current_exe()?)
            .arg("init-parts")
            .env_clear()
            .envs(common.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stderr(Stdio::null())
            .output()
            .await?;
        if !output.status.success() {
            return Err("init-parts failed".into());
        }
        for (index, line) in String::from_utf8_lossy(&output.stdout).lines().enumerate() {
            let (micros, name) = line.split_once(' ').ok_or("init-parts output")?;
            let entry = parts.entry(index).or_insert_with(|| (name.to_owned(), Vec::new()));
            entry.1.push(Duration::from_micros(micros.parse()?));
        }
    }

    let sizes: Vec<report::Sizes> = subjects
        .iter()
        .map(|s| report::Sizes {
            x86_64: std::fs::metadata(&s.binary).ok().map(|m| m.len()),
            // Only this tree's builds have theirs there; an `--extra` or `--before` build has none.
            arm64: arm64
                .as_ref()
                .filter(|_| s.binary.parent() == Some(bin_dir.as_path()))
                .and_then(|dir| std::fs::metadata(dir.join(s.binary_name()).join("bootstrap")).ok())
                .map(|m| m.len()),
        })
        .collect();
    let context =
        report::Context { runs, system_roots: system_roots > 0, elapsed: started.elapsed(), cpu: cpu_name() };
    let text =
        report::render(&subjects, &samples, &sizes, &parts.into_values().collect::<Vec<_>>(), &context);
    println!("{text}");
    if let Some(path) = write {
        report::write_between_markers(&path, &text)?;
        println!("written to {}", path.display());
    }
    Ok(())
}

/// The table, as `infra/template.yaml` defines it (without its stream: nothing here reads it),
/// with the account and session of the staff token (`(account, session)`): every authenticated
/// request checks that its session lives, staff routes that its account is active staff.
async fn seed(
    endpoint: &str,
    ca: &[u8],
    (account, session): (ulid::Ulid, ulid::Ulid),
) -> Result<(), BoxError> {
    let context =
        TlsContext::builder().with_trust_store(TrustStore::empty().with_pem_certificate(ca)).build()?;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("bench", "bench", None, None, "coldstart"))
        .http_client(http)
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let ready = Instant::now();
    while client.list_tables().send().await.is_err() {
        if ready.elapsed() > Duration::from_secs(20) {
            return Err(
                "moto did not answer over HTTPS within 20 s (see target/release/coldstart-run/moto.log)"
                    .into(),
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(SECRET_ID)
        .secret_string(SECRET)
        .send()
        .await?;
    let template = std::fs::read_to_string(workspace().join("infra/template.yaml"))?;
    let definition = portico_local::table::table_definition(&template)?.without_stream();
    portico_local::table::create_table(&client, TABLE, &definition).await?;
    // Staff routes read the caller's account with the session: an active administrator.
    let mut staff = Account::new_staff(
        Email::parse("bench@example.com")?,
        "Bench".to_owned(),
        PasswordHash::new("unused: the bench never signs in".to_owned()),
        vec![BuiltinRole::Administrator.id().to_owned()],
        Vec::new(),
        chrono::Utc::now(),
    );
    staff.id = account;
    let store = portico::store::Store::new(client.clone(), TABLE);
    store.count_administrators().await?;
    match store.create_staff(&staff, None, &[BuiltinRole::Administrator.definition()]).await? {
        StaffWrite::Done => {}
        refused => return Err(format!("the bench's staff account was not stored: {refused:?}").into()),
    }
    let (pk, sk) = portico::store::keys::session(account, session);
    client
        .put_item()
        .table_name(TABLE)
        .item("PK", aws_sdk_dynamodb::types::AttributeValue::S(pk))
        .item("SK", aws_sdk_dynamodb::types::AttributeValue::S(sk))
        .item("entity", aws_sdk_dynamodb::types::AttributeValue::S("session".into()))
        .send()
        .await?;
    Ok(())
}

/// `SECRET` encrypted with a key made in moto's KMS (by `bare-sdk kms-setup`), base64: the value
/// of a KMS-encrypted variable, as Lambda's encryption helpers would store it.
async fn kms_encrypted_secret(bare_sdk: &Path, env: &[(String, String)]) -> Result<String, BoxError> {
    let output = tokio::process::Command::new(bare_sdk)
        .args(["kms-setup", TABLE])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("PORTICO_SECRET_VALUE", SECRET)
        .env("AWS_LAMBDA_FUNCTION_NAME", "kms-setup")
        .output()
        .await?;
    if !output.status.success() {
        return Err(format!("bare-sdk kms-setup failed: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}

/// A staff access token as `sessions` would issue it: settings and read access to tasks; with
/// its account and session ids.
fn staff_token() -> Result<(String, (ulid::Ulid, ulid::Ulid)), BoxError> {
    let lookup = |name: &str| match name {
        "TABLE_NAME" => Some(TABLE.to_owned()),
        "MAIL_SENDER" => Some("no-reply@example.com".to_owned()),
        "PUBLIC_BASE_URL" => Some("https://api.example.com".to_owned()),
        "PORTICO_SECRET_ID" => Some(SECRET_ID.to_owned()),
        _ => None,
    };
    let config = portico::Config::from_lookup(lookup)?;
    // The value the functions read from moto (`seed` stores it).
    let keys = Keys::derive(SECRET.as_bytes(), &config.jwt_issuer, &config.jwt_audience);
    let grants = Grants {
        permissions: vec![Permission::SettingsManage],
        modules: BTreeMap::from([("tasks".to_owned(), ModuleAccess::READ_WRITE)]),
        projects: Vec::new(),
    };
    let (account, session) = (ulid::Ulid::generate(), ulid::Ulid::generate());
    let (token, _) =
        keys.jwt.issue_access(account, AccountKind::Staff, grants, session, chrono::Utc::now())?;
    Ok((token, (account, session)))
}

/// Starts `subject` once and follows it to its response (or, init only, its first `/next`);
/// then reads its peak RSS and kills it.
async fn cold_start(subject: &Subject, work: &Path) -> Result<Sample, BoxError> {
    let (address, mut calls, server) = runtime_api::start(subject.event.clone()).await?;
    let stderr = std::fs::File::create(work.join(format!("{}.stderr", subject.binary_name())))?;
    let start = Instant::now();
    let mut process = tokio::process::Command::new(&subject.binary)
        .args(&subject.args)
        .env_clear()
        .envs(subject.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", &address)
        .env("AWS_LAMBDA_FUNCTION_NAME", format!("portico-{}", subject.binary_name()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()?;
    let pid = process.id().ok_or("no pid")?;
    let followed = tokio::time::timeout(Duration::from_secs(30), async {
        let mut init = None;
        let mut first_response = None;
        loop {
            tokio::select! {
                call = calls.recv() => match call {
                    Some(Call::Next(at)) => {
                        if init.is_none() {
                            init = Some(at - start);
                            if subject.expect.is_none() {
                                return Ok((init, None));
                            }
                        } else {
                            // Polling again: the first request is done; the process idles.
                            return Ok((init, first_response));
                        }
                    }
                    Some(Call::Ended(at, kind, body)) => {
                        check(subject, kind, &body)?;
                        first_response = Some(at - start);
                    }
                    None => return Err::<_, BoxError>("the runtime API stopped".into()),
                },
                status = process.wait() => {
                    return Err(format!("exited ({}) before answering; see its stderr in {}", status?, work.display()).into());
                }
            }
        }
    })
    .await
    .map_err(|_| "no answer within 30 s")??;
    let peak_rss_kib = peak_rss_kib(pid);
    process.kill().await?;
    server.abort();
    let (init, first_response) = followed;
    Ok(Sample { init: init.ok_or("no init")?, first_response, peak_rss_kib })
}

impl Subject {
    fn binary_name(&self) -> String {
        self.binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

/// The response must be the fixture's: a wrong answer would time the wrong path.
fn check(subject: &Subject, kind: &str, body: &str) -> Result<(), BoxError> {
    let response: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let status = response["statusCode"].as_u64().or_else(|| {
        let stream_done =
            response["batchItemFailures"].as_array().is_some_and(|failures| failures.is_empty());
        let run_done = response["stopped_early"] == serde_json::Value::Bool(false);
        (stream_done || run_done).then_some(200)
    });
    if kind != "response" || status != subject.expect.map(u64::from) {
        return Err(format!("expected {:?}, got {kind}: {body}", subject.expect).into());
    }
    Ok(())
}

/// Peak resident set (`VmHWM`) of a live process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned())
}
