//! Outgoing messages: e-mail through SES, SMS through SNS, WhatsApp through End User Messaging
//! Social. Logs name the masked recipient and the subject, never the body: bodies carry codes
//! and links.

pub mod templates;

use std::sync::{Arc, OnceLock};

use aws_config::SdkConfig;
use aws_sdk_ses::types::{Body, Content, Destination, Message};
use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sns::types::MessageAttributeValue;

use crate::config::WhatsAppSender;
use crate::domain::{Email, Locale, Phone};
pub use templates::{Mail, MailTemplate};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("sending e-mail failed")]
    Mail(#[source] BoxError),
    #[error("sending SMS failed")]
    Sms(#[source] BoxError),
    #[error("sending a WhatsApp message failed")]
    WhatsApp(#[source] BoxError),
    #[error("WhatsApp is not configured (WHATSAPP_PHONE_NUMBER_ID)")]
    WhatsAppOff,
}

/// Sends through SES and SNS clients built at the first mail or SMS, not at cold start: most
/// requests send nothing, and each client built costs a parse of the root certificates
/// (measured in BENCHMARKS.md, "Cold start").
#[derive(Clone, Debug)]
pub struct Notifier {
    clients: Arc<Clients>,
    sender: Arc<str>,
    sms_sender_id: Option<Arc<str>>,
    whatsapp: Option<Arc<WhatsAppSender>>,
}

#[derive(Debug)]
struct Clients {
    sdk: SdkConfig,
    ses: OnceLock<aws_sdk_ses::Client>,
    sns: OnceLock<aws_sdk_sns::Client>,
    whatsapp: OnceLock<aws_sdk_socialmessaging::Client>,
}

impl Notifier {
    pub fn new(sdk: &SdkConfig, sender: impl Into<Arc<str>>) -> Self {
        Self::with_clients(sdk, None, None, sender)
    }

    /// A notifier on SES and SNS clients built already (tests count their requests with
    /// interceptors); others are built from `sdk` when first used.
    pub fn with_clients(
        sdk: &SdkConfig,
        ses: Option<aws_sdk_ses::Client>,
        sns: Option<aws_sdk_sns::Client>,
        sender: impl Into<Arc<str>>,
    ) -> Self {
        let clients = Clients {
            sdk: sending_config(sdk),
            ses: ses.map_or_else(OnceLock::new, OnceLock::from),
            sns: sns.map_or_else(OnceLock::new, OnceLock::from),
            whatsapp: OnceLock::new(),
        };
        Self { clients: Arc::new(clients), sender: sender.into(), sms_sender_id: None, whatsapp: None }
    }

    /// The same notifier, sending WhatsApp messages from `sender` (none: no WhatsApp).
    pub fn with_whatsapp(mut self, sender: Option<WhatsAppSender>) -> Self {
        self.whatsapp = sender.map(Arc::new);
        self
    }

    /// Whether WhatsApp messages can be sent.
    pub fn sends_whatsapp(&self) -> bool {
        self.whatsapp.is_some()
    }

    fn ses(&self) -> &aws_sdk_ses::Client {
        self.clients.ses.get_or_init(|| aws_sdk_ses::Client::new(&self.clients.sdk))
    }

    fn sns(&self) -> &aws_sdk_sns::Client {
        self.clients.sns.get_or_init(|| aws_sdk_sns::Client::new(&self.clients.sdk))
    }

    fn social_messaging(&self) -> &aws_sdk_socialmessaging::Client {
        self.clients.whatsapp.get_or_init(|| aws_sdk_socialmessaging::Client::new(&self.clients.sdk))
    }

    /// Sends `code` to `to` with the approved authentication template (WhatsApp allows codes
    /// only in those): the code as its body parameter and behind its copy-code button.
    #[tracing::instrument(skip_all)]
    pub async fn send_whatsapp_code(
        &self,
        to: &Phone,
        code: &str,
        locale: Locale,
    ) -> Result<(), NotifyError> {
        let sender = self.whatsapp.as_deref().ok_or(NotifyError::WhatsAppOff)?;
        let message = serde_json::json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to.as_str(),
            "type": "template",
            "template": {
                "name": sender.template,
                "language": {"code": locale_code(locale)},
                "components": [
                    {"type": "body", "parameters": [{"type": "text", "text": code}]},
                    {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": code}]}
                ]
            }
        });
        let message = serde_json::to_vec(&message).map_err(|e| NotifyError::WhatsApp(e.into()))?;
        self.social_messaging()
            .send_whats_app_message()
            .origination_phone_number_id(&sender.phone_number_id)
            .meta_api_version(&sender.meta_api_version)
            .message(aws_sdk_socialmessaging::primitives::Blob::new(message))
            .send()
            .await
            .map_err(|e| NotifyError::WhatsApp(provider_failure(&e)))?;
        tracing::info!("whatsapp message sent");
        Ok(())
    }

    /// The same notifier, naming SMS with `sender_id` where the destination allows it.
    pub fn with_sms_sender_id(mut self, sender_id: Option<&str>) -> Self {
        self.sms_sender_id = sender_id.map(Arc::from);
        self
    }

    #[tracing::instrument(skip_all, fields(to = %to.masked(), subject = %mail.subject))]
    pub async fn send_mail(&self, to: &Email, mail: &Mail) -> Result<(), NotifyError> {
        let content = |text: &str| Content::builder().data(text).charset("UTF-8").build();
        let message = Message::builder()
            .subject(content(&mail.subject).map_err(|e| NotifyError::Mail(e.into()))?)
            .body(Body::builder().text(content(&mail.text).map_err(|e| NotifyError::Mail(e.into()))?).build())
            .build();
        self.ses()
            .send_email()
            .source(self.sender.as_ref())
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .message(message)
            .send()
            .await
            .map_err(|e| NotifyError::Mail(provider_failure(&e)))?;
        tracing::info!("mail sent");
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn send_sms(&self, to: &Phone, text: &str) -> Result<(), NotifyError> {
        let text_attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| NotifyError::Sms(e.into()))
        };
        // Codes are transactional: SNS routes them for delivery, not for price.
        let mut publish = self
            .sns()
            .publish()
            .phone_number(to.as_str())
            .message(text)
            .message_attributes("AWS.SNS.SMS.SMSType", text_attribute("Transactional")?);
        if let Some(sender_id) = &self.sms_sender_id {
            publish = publish.message_attributes("AWS.SNS.SMS.SenderID", text_attribute(sender_id)?);
        }
        publish.send().await.map_err(|e| NotifyError::Sms(provider_failure(&e)))?;
        tracing::info!("sms sent");
        Ok(())
    }

    /// Sends a mail whose failure must not fail the request (the customer can ask again);
    /// returns whether it went out.
    pub async fn send_mail_logged(&self, to: &Email, mail: &Mail) -> bool {
        match self.send_mail(to, mail).await {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(error = %error, cause = ?std::error::Error::source(&error), "mail not sent");
                false
            }
        }
    }
}

/// WhatsApp's language code of a template in `locale`.
fn locale_code(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "en",
        Locale::De => "de",
        Locale::Cs => "cs",
        Locale::Tr => "tr",
    }
}

/// The AWS settings senders use: one attempt, bounded by the whole operation's time. A send
/// that timed out may still have gone out; retrying it would mail or text the code twice.
fn sending_config(sdk: &SdkConfig) -> SdkConfig {
    let operation = sdk.timeout_config().and_then(|timeouts| timeouts.operation_timeout());
    let mut timeouts = aws_config::timeout::TimeoutConfig::builder();
    if let Some(operation) = operation {
        timeouts = timeouts.operation_timeout(operation).operation_attempt_timeout(operation);
    }
    if let Some(connect) = sdk.timeout_config().and_then(|timeouts| timeouts.connect_timeout()) {
        timeouts = timeouts.connect_timeout(connect);
    }
    sdk.to_builder()
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(timeouts.build())
        .build()
}

/// What went wrong with a provider call, by its kind and error code only: providers' messages
/// may echo the recipient, and errors end up in logs.
fn provider_failure<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> BoxError {
    let what = match error {
        SdkError::ServiceError(service) => {
            format!("service error {}", service.err().code().unwrap_or("(no code)"))
        }
        SdkError::TimeoutError(_) => "timeout".to_owned(),
        SdkError::DispatchFailure(_) => "dispatch failure (no connection)".to_owned(),
        SdkError::ResponseError(_) => "unreadable response".to_owned(),
        SdkError::ConstructionFailure(_) => "the request could not be built".to_owned(),
        _ => "unknown failure".to_owned(),
    };
    what.into()
}
