//! `spawn_app()` and the client helpers every test uses.

use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_types::config_bag::{Storable, StoreReplace};

use portico::config::PasswordCost;
use portico::{AppState, Config};
use portico_local::moto::{Outbox, OutboxMessage};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ulid::Ulid;

pub const DEVICE: &str = "test-device-0123456789abcdef";
pub const PASSWORD: &str = "correct horse battery staple";
pub const SENDER: &str = "no-reply@portico.test";
pub const REGION: &str = "us-east-1";
/// The master secret every test app reads from moto's Secrets Manager at its start, as a
/// function does at its cold start (`portico_local::ensure_master_secret` makes it).
pub const TEST_MASTER_SECRET: &str = "portico/test-master-secret";

pub fn moto_endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        std::env::var("PORTICO_TEST_MOTO_ENDPOINT")
            .expect("PORTICO_TEST_MOTO_ENDPOINT is not set: run the tests with `make test` (it starts moto)")
    })
}

/// The repository's root.
pub fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A tool the Makefile installs, pinned, in the project venv (`make venv`).
pub fn venv_tool(name: &str) -> std::path::PathBuf {
    workspace().join(".venv/bin").join(name)
}

/// A unique address per call, so tests sharing moto's outbox read only their own mail.
pub fn unique_email(name: &str) -> String {
    format!("{name}-{}@example.com", Ulid::generate().to_string().to_lowercase())
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub state: AppState,
    pub outbox: Outbox,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

pub struct Response {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

/// Portico's settings for a test, with two cheap costs the environment could never set: no
/// enumeration floor (one test checks the floor with `spawn_app_with`) and argon2id at its least
/// cost (m = 8 KiB, t = 1), so hashing a password takes microseconds instead of tens of ms.
/// The WhatsApp number tests send from (moto_server.py records the requests).
pub const WHATSAPP_NUMBER_ID: &str = "phone-number-id-0123456789abcdef0123456789abcdef";

pub fn test_config(table: &str) -> Config {
    let mut config = Config::from_lookup(|name| {
        Some(match name {
            "TABLE_NAME" => table.to_owned(),
            "AWS_ENDPOINT_URL" => moto_endpoint().to_owned(),
            "AWS_REGION" => REGION.to_owned(),
            "MAIL_SENDER" => SENDER.to_owned(),
            "WHATSAPP_PHONE_NUMBER_ID" => WHATSAPP_NUMBER_ID.to_owned(),
            "PUBLIC_BASE_URL" => "http://portico.test".to_owned(),
            "PORTICO_SECRET_ID" => TEST_MASTER_SECRET.to_owned(),
            "WEBHOOKS_ALLOW_LOCAL" => "true".to_owned(),
            _ => return None,
        })
    })
    .expect("test config is valid");
    config.enumeration_floor = std::time::Duration::ZERO;
    // Every test registers from 127.0.0.1; one test checks the limits with `spawn_app_with`.
    config.registrations_per_ip = 10_000;
    config.registrations_per_network = 10_000;
    config.password_cost = PasswordCost::new(8, 1, 1).expect("argon2's least cost");
    config
}

/// Logs go to the test output only with TEST_LOG set (e.g. `TEST_LOG=debug make test`).
fn init_tracing() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        if let Ok(filter) = std::env::var("TEST_LOG") {
            tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().init();
        }
    });
}

/// A fresh table (from infra/template.yaml, without its stream) and the whole API on a random port.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// `spawn_app` with `adjust` applied to the test config.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn(adjust, false).await
}

/// `spawn_app` with the table's stream on and the local poller feeding it to the workflows
/// handler (as `make run` does); the poller's dead letters.
pub async fn spawn_app_with_workflows() -> (TestApp, portico_local::streams::DeadLetters) {
    let app = spawn(|_| {}, true).await;
    let dead_letters = portico_local::streams::DeadLetters::default();
    let polled = portico_local::streams::poll(
        app.state.clone(),
        moto_endpoint().to_owned(),
        std::time::Duration::from_millis(50),
        dead_letters.clone(),
    );
    tokio::spawn(async move { polled.await.expect("the stream poller stopped") });
    (app, dead_letters)
}

async fn spawn(adjust: impl FnOnce(&mut Config), stream: bool) -> TestApp {
    init_tracing();
    let table = format!("t-{}", Ulid::generate());
    let sdk = portico_local::moto_sdk_config(moto_endpoint(), REGION).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    // Most tests read no stream: without it moto keeps no stream record per write.
    let definition =
        portico_local::table::table_definition(portico_local::table::TEMPLATE).expect("template");
    let definition = if stream { definition } else { definition.without_stream() };
    portico_local::table::create_table(&dynamodb, &table, &definition).await.expect("create table");
    aws_sdk_ses::Client::new(&sdk)
        .verify_email_identity()
        .email_address(SENDER)
        .send()
        .await
        .expect("verify sender");

    portico_local::ensure_master_secret(&sdk, TEST_MASTER_SECRET).await.expect("master secret");

    let mut config = test_config(&table);
    adjust(&mut config);
    let state = AppState::build(config, &sdk).await.expect("the master secret is read from moto");
    let outbox = Outbox::new(moto_endpoint());
    let base = serve(state.clone(), outbox.clone()).await;
    TestApp { base, http: reqwest::Client::new(), state, outbox, dynamodb }
}

/// Serves the whole API with `state` on a random port; returns its base URL.
pub async fn serve(state: AppState, outbox: Outbox) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let app = portico_local::app(state, outbox).into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

impl TestApp {
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Response {
        let mut request =
            self.http.request(method, format!("{}{path}", self.base)).header("x-device-id", DEVICE);
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Response { status, body, headers }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, None, token).await
    }

    pub async fn post(&self, path: &str, body: Value, token: Option<&str>) -> Response {
        self.request(Method::POST, path, Some(body), token).await
    }

    /// Sends raw bytes with a given content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Response {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        Response { status, body, headers }
    }

    /// Creates an administrator and signs in; returns the access token.
    pub async fn admin_token(&self) -> (String, String) {
        let email = unique_email("admin");
        assert!(
            portico_local::create_admin(&self.state, &email, "Admin", PASSWORD).await.expect("seed admin")
        );
        let token = self.sign_in(&email, PASSWORD).await;
        assert_eq!(token.status, StatusCode::OK, "admin sign-in: {:?}", token.body);
        (token.body["access_token"].as_str().expect("token").to_owned(), email)
    }

    /// Creates a staff member with `role` and signs in; returns the access token.
    pub async fn staff_token(&self, role: portico::domain::BuiltinRole) -> String {
        self.staff_member(role).await.0
    }

    /// Creates a staff member with `role` and signs in; returns the access token and account id.
    pub async fn staff_member(&self, role: portico::domain::BuiltinRole) -> (String, String) {
        let email = unique_email(role.id());
        assert!(
            portico_local::create_staff(&self.state, &email, "Staff", PASSWORD, &[role])
                .await
                .expect("seed staff")
        );
        let signed_in = self.sign_in(&email, PASSWORD).await;
        assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
        let token = signed_in.body["access_token"].as_str().expect("token").to_owned();
        (token, self.account_id(&email).await)
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Response {
        self.post("/sessions", json!({"email": email, "password": password}), None).await
    }

    /// Sends `body` to `path` from the device `device`.
    pub async fn post_from(&self, device: &str, path: &str, body: Value, token: Option<&str>) -> Response {
        let mut request =
            self.http.post(format!("{}{path}", self.base)).header("x-device-id", device).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        Response { status, body, headers }
    }

    pub async fn sign_in_from(&self, device: &str, email: &str, password: &str) -> Response {
        self.post_from(device, "/sessions", json!({"email": email, "password": password}), None).await
    }

    /// Registers an active, verified customer (no approval, no verification) from `DEVICE`.
    pub async fn active_customer(&self, admin: &str, device_confirmation: bool) -> String {
        self.set_policy(
            admin,
            json!({"notify_on_registration": false, "admin_approval": "none",
                   "device_confirmation": device_confirmation, "email_verification": "none"}),
        )
        .await;
        let email = unique_email("customer");
        assert_eq!(self.register(&email, "person").await.status, StatusCode::ACCEPTED);
        email
    }

    pub async fn set_policy(&self, token: &str, policy: Value) {
        let response =
            self.request(Method::PUT, "/admin/settings/registration", Some(policy), Some(token)).await;
        assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    }

    pub async fn register(&self, email: &str, account_type: &str) -> Response {
        let mut body =
            json!({"email": email, "password": PASSWORD, "name": "Ann Lee", "account_type": account_type});
        if account_type == "company" {
            body["company_name"] = json!("Lee Logistics s.r.o.");
        }
        self.post("/registrations", body, None).await
    }

    pub async fn mails_to(&self, email: &str) -> Vec<OutboxMessage> {
        self.outbox
            .messages_to(email)
            .await
            .expect("outbox")
            .into_iter()
            .filter(|message| message.channel == "email" && message.to.iter().any(|to| to == email))
            .collect()
    }

    /// The six-digit code of the latest verification mail to `email`.
    pub async fn verification_code(&self, email: &str) -> String {
        let mail = self.latest_mail(email, "Confirm your e-mail address").await;
        let code = mail
            .body
            .split_whitespace()
            .find(|word| word.len() == 6 && word.bytes().all(|b| b.is_ascii_digit()));
        code.expect("a code in the mail").to_owned()
    }

    /// The link token of the latest verification mail to `email`.
    pub async fn verification_token(&self, email: &str) -> String {
        let mail = self.latest_mail(email, "Confirm your e-mail address").await;
        let start = mail.body.find("token=").expect("a link in the mail") + "token=".len();
        mail.body[start..].split_whitespace().next().expect("token").to_owned()
    }

    pub async fn latest_mail(&self, email: &str, subject: &str) -> OutboxMessage {
        self.mails_to(email)
            .await
            .into_iter()
            .rev()
            .find(|mail| mail.subject.as_deref() == Some(subject))
            .unwrap_or_else(|| panic!("no mail {subject:?} to {email}"))
    }

    /// Every item in this test's table (tests may scan; request paths never do).
    pub async fn item_count(&self) -> usize {
        let output = self.dynamodb.scan().table_name(self.state.store.table()).send().await.expect("scan");
        output.items.unwrap_or_default().len()
    }

    /// The id of the customer registered with `email`.
    pub async fn account_id(&self, email: &str) -> String {
        let email = portico::domain::Email::parse(email).expect("email");
        self.state.store.account_id_by_email(&email).await.expect("read").expect("account exists").to_string()
    }
}

/// One request an AWS client sent: its operation (DynamoDB's `X-Amz-Target`, e.g.
/// `DynamoDB_20120810.Query`), its body, and how large the answer was.
#[derive(Debug, Clone, Default)]
pub struct Sent {
    pub operation: String,
    pub body: String,
    pub response_bytes: usize,
}

/// Records the requests an AWS client sends.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(pub Arc<Mutex<Vec<Sent>>>);

/// Which `Sent` a request in flight is (concurrent requests answer in any order).
#[derive(Debug, Clone)]
struct SentIndex(usize);

impl Storable for SentIndex {
    type Storer = StoreReplace<Self>;
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        config: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let request = context.request();
        let body = request.body().bytes().map(String::from_utf8_lossy).unwrap_or_default().into_owned();
        let operation = request.headers().get("x-amz-target").unwrap_or_default().to_owned();
        let mut sent = self.0.lock().expect("not poisoned");
        sent.push(Sent { operation, body, response_bytes: 0 });
        config.interceptor_state().store_put(SentIndex(sent.len() - 1));
        Ok(())
    }

    // After deserialization: before it the body is still a stream and has no bytes.
    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        config: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let bytes = context.response().body().bytes().map_or(0, <[u8]>::len);
        if let Some(SentIndex(index)) = config.load::<SentIndex>()
            && let Some(sent) = self.0.lock().expect("not poisoned").get_mut(*index)
        {
            sent.response_bytes = bytes;
        }
        Ok(())
    }
}

impl RequestCounter {
    /// Requests counted since the last call.
    pub fn take(&self) -> usize {
        self.take_sent().len()
    }

    /// The bodies of the requests sent since the last call.
    pub fn take_bodies(&self) -> Vec<String> {
        self.take_sent().into_iter().map(|sent| sent.body).collect()
    }

    /// The bodies sent since the last call but the session check every authenticated request
    /// starts with.
    pub fn take_work_bodies(&self) -> Vec<String> {
        self.take_bodies().into_iter().filter(|body| !is_session_check(body)).collect()
    }

    /// The requests sent since the last call.
    pub fn take_sent(&self) -> Vec<Sent> {
        std::mem::take(&mut *self.0.lock().expect("not poisoned"))
    }
}

/// The requests a counting copy of the app sends, per AWS service.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub dynamodb: RequestCounter,
    /// SES requests: one per mail sent.
    pub ses: RequestCounter,
    /// SNS requests: one per SMS sent.
    pub sns: RequestCounter,
}

impl TestApp {
    /// The same API and table, served again by a copy whose DynamoDB requests are counted.
    pub async fn counting_requests(self) -> (TestApp, RequestCounter) {
        let (app, counters) = self.counting().await;
        (app, counters.dynamodb)
    }

    /// The same API and table, served again by a copy whose DynamoDB, SES and SNS requests are
    /// counted (by an interceptor on each SDK client); its `state` counts too.
    pub async fn counting(self) -> (TestApp, Counters) {
        let counters = Counters::default();
        let sdk = portico_local::moto_sdk_config(moto_endpoint(), REGION).await;
        let dynamodb =
            aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(counters.dynamodb.clone()).build();
        let store = portico::store::Store::new(
            aws_sdk_dynamodb::Client::from_conf(dynamodb),
            self.state.store.table(),
        );
        let ses = aws_sdk_ses::config::Builder::from(&sdk).interceptor(counters.ses.clone()).build();
        let sns = aws_sdk_sns::config::Builder::from(&sdk).interceptor(counters.sns.clone()).build();
        let notifier = portico::notify::Notifier::with_clients(
            &sdk,
            Some(aws_sdk_ses::Client::from_conf(ses)),
            Some(aws_sdk_sns::Client::from_conf(sns)),
            self.state.config.mail_sender.as_str(),
        )
        .with_whatsapp(self.state.config.whatsapp.clone());
        let state = self.state.clone().with_store(store).with_notifier(notifier);
        let base = serve(state.clone(), self.outbox.clone()).await;
        (TestApp { base, state, ..self }, counters)
    }
}

/// Percent-encodes every byte but ASCII letters and digits (for a query parameter).
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// The `field` of each of a problem's `errors` (empty when it has none).
pub fn error_fields(body: &Value) -> Vec<&str> {
    body["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|error| error["field"].as_str()).collect())
        .unwrap_or_default()
}

/// Waits (up to 20 s, checking every 100 ms) until `check` holds; the stream is asynchronous.
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within 20 s");
}

/// Saves workflow rule `rule` as `admin`; its id.
pub async fn create_workflow_rule(app: &TestApp, admin: &str, rule: Value) -> String {
    let created = app.post("/admin/workflow-rules", rule, Some(admin)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

/// Whether a request body is the session check of an authenticated request: a GetItem of the
/// session item, its key only, or (staff routes and the caller's own account) one BatchGetItem
/// of the session and the account.
pub fn is_session_check(body: &str) -> bool {
    let session_only = body.contains(r#""S":"SESSION#"#) && body.contains(r#""ProjectionExpression":"PK""#);
    let with_account = body.contains(r#""RequestItems""#)
        && body.contains(r#""S":"SESSION#"#)
        && body.contains(r#""S":"ACCOUNT""#)
        && body.matches(r#""PK":"#).count() == 2;
    session_only || with_account
}
