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
    #[error("Portico's moto server (infra/local/moto_server.py) did not answer on {0} within 20 s")]
    NotReady(String),
    #[error("reading moto's sent messages failed")]
    Read(#[from] reqwest::Error),
}

/// The route of `moto_server.py` that lists sent mail and SMS (see its docstring).
pub const OUTBOX_PATH: &str = "/_portico/outbox";

/// Whether Portico's moto server (`moto_server.py`, with its outbox route) answers at `endpoint`.
pub async fn is_running(endpoint: &str) -> bool {
    reqwest::get(format!("{endpoint}{OUTBOX_PATH}?mail_since={}&sms_since={}", u32::MAX, u32::MAX))
        .await
        .is_ok_and(|r| r.status().is_success())
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
    /// `email`, `sms` or `whatsapp`.
    pub channel: String,
    pub to: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub body: String,
    /// A WhatsApp send: the `SendWhatsAppMessage` request as the SDK sent it, and its
    /// `message` blob decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_json: Option<serde_json::Value>,
}

/// What `GET /_portico/outbox` answers.
#[derive(Deserialize)]
struct OutboxPage {
    mail: Vec<SentMail>,
    sms: Vec<SentSms>,
    #[serde(default)]
    whatsapp: Vec<SentWhatsApp>,
    next: OutboxCursor,
}

#[derive(Deserialize)]
struct SentWhatsApp {
    to: Vec<String>,
    body: String,
    request: serde_json::Value,
    message_json: serde_json::Value,
}

#[derive(Deserialize)]
struct SentMail {
    to: Vec<String>,
    subject: Option<String>,
    body: String,
}

#[derive(Deserialize)]
struct SentSms {
    to: Vec<String>,
    body: String,
}

/// How many mails and SMS an earlier read covered: the next read returns only newer ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct OutboxCursor {
    pub mail: usize,
    pub sms: usize,
    pub whatsapp: usize,
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
        Ok(self.read(OutboxCursor::default(), None).await?.0)
    }

    /// The messages sent to `recipient` (an e-mail address or a phone number), mail first.
    pub async fn messages_to(&self, recipient: &str) -> Result<Vec<OutboxMessage>, MotoError> {
        Ok(self.read(OutboxCursor::default(), Some(recipient)).await?.0)
    }

    /// The messages sent after those `since` covered, and the cursor for the next call.
    pub async fn messages_since(
        &self,
        since: OutboxCursor,
    ) -> Result<(Vec<OutboxMessage>, OutboxCursor), MotoError> {
        self.read(since, None).await
    }

    async fn read(
        &self,
        since: OutboxCursor,
        recipient: Option<&str>,
    ) -> Result<(Vec<OutboxMessage>, OutboxCursor), MotoError> {
        let mut query = vec![
            ("mail_since", since.mail.to_string()),
            ("sms_since", since.sms.to_string()),
            ("whatsapp_since", since.whatsapp.to_string()),
        ];
        if let Some(recipient) = recipient {
            query.push(("to", recipient.to_owned()));
        }
        let page: OutboxPage = self
            .http
            .get(format!("{}{OUTBOX_PATH}", self.endpoint))
            .query(&query)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let mails = page.mail.into_iter().map(|mail| OutboxMessage {
            channel: "email".into(),
            to: mail.to,
            subject: mail.subject,
            body: mail.body,
            request: None,
            message_json: None,
        });
        let sms = page.sms.into_iter().map(|sms| OutboxMessage {
            channel: "sms".into(),
            to: sms.to,
            subject: None,
            body: sms.body,
            request: None,
            message_json: None,
        });
        let whatsapp = page.whatsapp.into_iter().map(|sent| OutboxMessage {
            channel: "whatsapp".into(),
            to: sent.to,
            subject: None,
            body: sent.body,
            request: Some(sent.request),
            message_json: Some(sent.message_json),
        });
        Ok((mails.chain(sms).chain(whatsapp).collect(), page.next))
    }
}
