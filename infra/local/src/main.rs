//! `portico-local`: run the whole system on this machine, or create an administrator.
//!
//! ```text
//! portico-local                      start moto, the table, the API on http://127.0.0.1:3000
//! portico-local create-admin EMAIL   create an administrator in the configured table (AWS too)
//! portico-local count-admins         count the administrators of a table from before the count
//! portico-local index-customers      give the customers of a table from before the search its keys
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use portico::{AppState, Config};
use portico_local::{app, create_admin, lambda, moto, moto_sdk_config, random_password, streams, table};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Settings of the local stack, each with a default that works on a fresh checkout.
struct LocalSettings {
    port: u16,
    moto_port: u16,
    /// The Python with moto installed (the Makefile's venv).
    python: PathBuf,
    admin_email: String,
    admin_password: Option<String>,
}

impl LocalSettings {
    fn from_env() -> Result<Self, Error> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Ok(Self {
            port: var("PORT").map(|p| p.parse()).transpose()?.unwrap_or(3000),
            moto_port: var("MOTO_PORT").map(|p| p.parse()).transpose()?.unwrap_or(4566),
            python: var("MOTO_PYTHON")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(".venv/bin/python")),
            admin_email: var("PORTICO_ADMIN_EMAIL").unwrap_or_else(|| "admin@portico.local".into()),
            admin_password: var("PORTICO_ADMIN_PASSWORD"),
        })
    }

    /// Portico's configuration for the local stack: environment first, local defaults after.
    fn portico_config(&self) -> Result<Config, Error> {
        let endpoint = format!("http://127.0.0.1:{}", self.moto_port);
        let public_url = format!("http://127.0.0.1:{}", self.port);
        Ok(Config::from_lookup(|name| {
            std::env::var(name).ok().filter(|v| !v.is_empty()).or_else(|| {
                Some(match name {
                    "TABLE_NAME" => "portico-local".to_owned(),
                    "AWS_ENDPOINT_URL" => endpoint.clone(),
                    "MAIL_SENDER" => "no-reply@portico.local".to_owned(),
                    // WhatsApp sends reach moto_server.py's recorder and the printed outbox.
                    "WHATSAPP_PHONE_NUMBER_ID" => "phone-number-id-local".to_owned(),
                    "PUBLIC_BASE_URL" => public_url.clone(),
                    // Made in moto's Secrets Manager at start and read from it, as on AWS.
                    "PORTICO_SECRET_ID" => portico_local::LOCAL_MASTER_SECRET.to_owned(),
                    // Local receivers listen on http://127.0.0.1.
                    "WEBHOOKS_ALLOW_LOCAL" => "true".to_owned(),
                    _ => return None,
                })
            })
        })?)
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,aws_config=warn,aws_smithy_runtime=warn".into()),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] | ["run"] => run(LocalSettings::from_env()?).await,
        ["create-admin", email] => create_admin_in_configured_table(email).await,
        ["count-admins"] => count_admins_in_configured_table().await,
        ["index-customers"] => index_customers_in_configured_table().await,
        _ => {
            eprintln!(
                "usage: portico-local [run] | portico-local create-admin EMAIL | portico-local count-admins | portico-local index-customers"
            );
            std::process::exit(2);
        }
    }
}

/// For AWS (or any configured endpoint): reads Portico's usual environment (TABLE_NAME, …) and
/// AWS credentials from the default chain.
async fn create_admin_in_configured_table(email: &str) -> Result<(), Error> {
    let settings = LocalSettings::from_env()?;
    let state = AppState::new(Config::from_env()?).await?;
    let password = settings.admin_password.clone().unwrap_or_else(random_password);
    if create_admin(&state, email, "Administrator", &password).await? {
        println!("administrator {email} created; password: {password}");
    } else {
        println!("{email} already has an account; nothing changed");
    }
    Ok(())
}

/// For a table from before the administrator count (AWS or local): counts the active staff users
/// holding both `users.manage` and `settings.manage` once, if the table has no count yet. Until
/// then no write can change who they are. A table that has a count keeps it.
async fn count_admins_in_configured_table() -> Result<(), Error> {
    let state = AppState::new(Config::from_env()?).await?;
    let count = state.store.count_administrators().await?;
    println!("{count} administrator(s) (active staff holding users.manage and settings.manage)");
    Ok(())
}

/// For a table from before the customer search (AWS or local): gives every customer the keys
/// `GET /admin/customers?q=` finds it by. Repeatable.
async fn index_customers_in_configured_table() -> Result<(), Error> {
    let state = AppState::new(Config::from_env()?).await?;
    let written = state.store.index_customers_for_search().await?;
    println!("{written} customer(s) given their search keys");
    Ok(())
}

async fn run(settings: LocalSettings) -> Result<(), Error> {
    let mut config = settings.portico_config()?;
    // Function actions reach a sample Lambda function on loopback (moto runs none).
    let sample = lambda::LambdaTarget::start(lambda::sample_function).await?;
    config.function_action_arns.push(lambda::SAMPLE_FUNCTION_ARN.to_owned());
    config.lambda_endpoint_url = Some(sample.endpoint.clone());
    let endpoint = format!("http://127.0.0.1:{}", settings.moto_port);
    let _moto = moto::ensure_running(&settings.python, settings.moto_port).await?;
    let sdk = moto_sdk_config(&endpoint, &config.region).await;

    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    match dynamodb.describe_table().table_name(&config.table_name).send().await {
        Ok(_) => println!("table {} exists", config.table_name),
        Err(error) if error.code() == Some("ResourceNotFoundException") => {
            let definition = table::table_definition(table::TEMPLATE)?;
            table::create_table(&dynamodb, &config.table_name, &definition).await?;
            println!("table {} created from infra/template.yaml", config.table_name);
        }
        Err(error) => return Err(error.into()),
    }
    aws_sdk_ses::Client::new(&sdk).verify_email_identity().email_address(&config.mail_sender).send().await?;
    portico_local::ensure_master_secret(&sdk, &config.master_secret.secret_id).await?;

    let state = AppState::build(config, &sdk).await?;
    let password = settings.admin_password.clone().unwrap_or_else(random_password);
    if create_admin(&state, &settings.admin_email, "Administrator", &password).await? {
        println!("seeded administrator: {}  password: {password}", settings.admin_email);
    } else {
        println!("administrator {} exists (password as printed when it was seeded)", settings.admin_email);
    }

    let dead_letters = streams::DeadLetters::default();
    let polled = streams::poll(state.clone(), endpoint.clone(), Duration::from_millis(250), dead_letters);
    tokio::spawn(async move {
        if let Err(error) = polled.await {
            eprintln!("the stream poller stopped: {error}; workflow rules do not run");
        }
    });
    println!("polling the table's stream: workflow rules run on record changes");
    println!("sample function for function actions: {} (scores deals)", lambda::SAMPLE_FUNCTION_ARN);
    tokio::spawn(portico_housekeeping::tick_locally(state.clone(), portico_housekeeping::LOCAL_TICK));
    println!(
        "housekeeping every {} s: time rules (inactive customers) run",
        portico_housekeeping::LOCAL_TICK.as_secs()
    );
    let outbox = moto::Outbox::new(endpoint);
    tokio::spawn(print_outbox(outbox.clone()));
    let address = SocketAddr::from(([127, 0, 0, 1], settings.port));
    let listener = tokio::net::TcpListener::bind(address).await?;
    println!("Portico API on http://{address}  (OpenAPI: /openapi.json, sent messages: /_local/outbox)");
    axum::serve(listener, app(state, outbox).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

/// Ctrl-C or SIGTERM: stop serving, so the moto server this process started is stopped too.
async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

/// Prints each new mail, SMS and WhatsApp message, so a person can follow a code or a link.
async fn print_outbox(outbox: moto::Outbox) {
    let mut since = moto::OutboxCursor::default();
    loop {
        if let Ok((messages, next)) = outbox.messages_since(since).await {
            since = next;
            for message in &messages {
                println!(
                    "\n──── {} to {} ────\n{}{}\n",
                    message.channel,
                    message.to.join(", "),
                    message.subject.as_deref().map(|s| format!("Subject: {s}\n\n")).unwrap_or_default(),
                    message.body
                );
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
