//! The moto server: started if none answers, and read back for the outbox of sent mail and SMS.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::process::{Child, Command};

/// A moto server this process started; killed when dropped.
pub struct MotoProcess {
    _child: Child,
}

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error("could not start {0} (run `make venv` first): {1}")]
    Spawn(String, #[source] std::io::Error),
    #[error("moto did not answer on {0} within 20 s")]
    NotReady(String),
    #[error("reading moto's sent messages failed")]
    Read(#[from] reqwest::Error),
}

/// Whether a moto server answers at `endpoint`.
pub async fn is_running(endpoint: &str) -> bool {
    reqwest::get(format!("{endpoint}/moto-api/data.json")).await.is_ok_and(|r| r.status().is_success())
}

/// `moto_server.py`: moto with requests serialised, so its conditional writes are atomic.
pub const SERVER_SCRIPT: &str = include_str!("../moto_server.py");

/// Starts moto (with `python`, the project venv's interpreter) on 127.0.0.1:`port` unless a
/// server already answers there.
pub async fn ensure_running(python: &Path, port: u16) -> Result<Option<MotoProcess>, MotoError> {
    let endpoint = format!("http://127.0.0.1:{port}");
    if is_running(&endpoint).await {
        return Ok(None);
    }
    let child = Command::new(python)
        .args(["-c", SERVER_SCRIPT, "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| MotoError::Spawn(python.display().to_string(), e))?;
    for _ in 0..200 {
        if is_running(&endpoint).await {
            return Ok(Some(MotoProcess { _child: child }));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(MotoError::NotReady(endpoint))
}

/// One message Portico sent, as moto recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// `email` or `sms`.
    pub channel: String,
    pub to: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub body: String,
}

#[derive(Deserialize)]
struct MotoData {
    #[serde(default)]
    ses: MotoSes,
    #[serde(default)]
    sns: MotoSns,
}

#[derive(Default, Deserialize)]
struct MotoSes {
    #[serde(rename = "Message", default)]
    messages: Vec<MotoMail>,
}

#[derive(Deserialize)]
struct MotoMail {
    destinations: MotoDestinations,
    subject: Option<String>,
    body: String,
}

#[derive(Deserialize)]
struct MotoDestinations {
    #[serde(rename = "ToAddresses", default)]
    to: Vec<String>,
}

#[derive(Default, Deserialize)]
struct MotoSns {
    #[serde(rename = "SMS", default)]
    sms: Vec<MotoSms>,
}

#[derive(Deserialize)]
struct MotoSms {
    phone_number: String,
    message: String,
}

/// Reads what was sent through moto's SES and SNS.
#[derive(Clone, Debug)]
pub struct Outbox {
    endpoint: String,
    http: reqwest::Client,
}

impl Outbox {
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self { endpoint: endpoint.into(), http: reqwest::Client::new() }
    }

    /// Every message sent so far, mail first, each in sending order.
    pub async fn messages(&self) -> Result<Vec<OutboxMessage>, MotoError> {
        let data = self.dump().await?;
        let mails = data.ses.messages.into_iter().map(|mail| OutboxMessage {
            channel: "email".into(),
            to: mail.destinations.to,
            subject: mail.subject,
            body: mail.body,
        });
        let sms = data.sns.sms.into_iter().map(|sms| OutboxMessage {
            channel: "sms".into(),
            to: vec![sms.phone_number],
            subject: None,
            body: sms.message,
        });
        Ok(mails.chain(sms).collect())
    }

    /// moto's state dump. It answers 500 when a write lands while it serialises (its dicts
    /// change size mid-iteration), so a failed read is retried a few times.
    async fn dump(&self) -> Result<MotoData, MotoError> {
        let url = format!("{}/moto-api/data.json", self.endpoint);
        let mut attempt = 0;
        loop {
            let result =
                async { self.http.get(&url).send().await?.error_for_status()?.json::<MotoData>().await }
                    .await;
            match result {
                Ok(data) => return Ok(data),
                Err(error) if attempt < 5 && error.status().is_some_and(|s| s.is_server_error()) => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
}
