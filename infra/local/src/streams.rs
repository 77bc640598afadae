//! The local stand-in for Lambda's DynamoDB event source mapping: polls the table's stream on
//! moto and hands each batch to the `workflows` handler in the shape AWS uses. moto's stream
//! records carry no `eventSourceARN`; it is filled in here. Like the AWS mapping configured in
//! `infra/template.yaml`: batches of up to 100 records in shard order; a reported failure is
//! the checkpoint, retried from there; a record that keeps failing is sent to the dead letters
//! (logged, and kept in `DeadLetters`) and the shard moves on.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event;
use portico::AppState;
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// Attempts of one record before it goes to the dead letters (the template's
/// `MaximumRetryAttempts` is 5; locally fewer, so a poison record shows quickly).
pub const MAX_ATTEMPTS: u32 = 3;
const BATCH_SIZE: usize = 100;

/// Records that failed every attempt, as the on-failure queue would hold them.
#[derive(Clone, Default)]
pub struct DeadLetters(Arc<Mutex<Vec<Value>>>);

impl DeadLetters {
    pub async fn records(&self) -> Vec<Value> {
        self.0.lock().await.clone()
    }
}

/// A client of moto's DynamoDB Streams API (JSON over HTTP, as the SDK sends it).
struct Streams {
    http: reqwest::Client,
    endpoint: String,
    authorization: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("stream request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the table has no stream")]
    NoStream,
    #[error("unexpected stream answer: {0}")]
    Answer(String),
}

impl Streams {
    async fn call(&self, operation: &str, body: Value) -> Result<Value, StreamError> {
        let response = self
            .http
            .post(&self.endpoint)
            .header("x-amz-target", format!("DynamoDBStreams_20120810.{operation}"))
            .header("content-type", "application/x-amz-json-1.0")
            .header("authorization", &self.authorization)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let answer: Value = response.json().await?;
        if !status.is_success() {
            return Err(StreamError::Answer(answer.to_string()));
        }
        Ok(answer)
    }
}

/// Polls `table`'s stream every `interval` until the task is dropped, feeding the handler. A
/// failed read is logged and tried again at the next poll.
pub async fn poll(
    state: AppState,
    endpoint: String,
    interval: Duration,
    dead_letters: DeadLetters,
) -> Result<(), StreamError> {
    let region = state.config.region.clone();
    let table = state.store.table().to_owned();
    let described = state.store.client().describe_table().table_name(&table).send().await;
    let stream_arn =
        described.ok().and_then(|output| output.table?.latest_stream_arn).ok_or(StreamError::NoStream)?;
    let streams = Streams {
        http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?,
        endpoint,
        authorization: format!(
            "AWS4-HMAC-SHA256 Credential=local/20260101/{region}/dynamodb/aws4_request, SignedHeaders=host, Signature=local"
        ),
    };
    // Per shard, the last sequence number read. A fresh iterator is asked for on every poll:
    // moto restores its state after a cancelled transaction, leaving earlier iterators on a
    // copy of the shard that no longer grows.
    let mut shards: Vec<(String, Option<String>)> = Vec::new();
    let mut pending: Vec<Value> = Vec::new();
    let mut attempts = 0;
    loop {
        if pending.is_empty() {
            match read_new(&streams, &stream_arn, &mut shards).await {
                Ok(records) => pending.extend(records),
                Err(error) => {
                    // moto restarting, a dropped connection: described again at the next poll.
                    tracing::warn!(%error, "reading the stream failed; trying again");
                    shards.clear();
                }
            }
        }
        if pending.is_empty() {
            tokio::time::sleep(interval).await;
            continue;
        }
        let batch: Vec<Value> = pending
            .iter()
            .take(BATCH_SIZE)
            .map(|record| {
                let mut record = record.clone();
                record["eventSourceARN"] = json!(stream_arn);
                record
            })
            .collect();
        let event: Event = match serde_json::from_value(json!({"Records": batch})) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(%error, "a batch that is no stream event; its first record goes to the dead letters");
                dead_letters.0.lock().await.push(pending.remove(0));
                continue;
            }
        };
        let response = portico_workflows::handle_batch(&state, event).await;
        let failed = response.batch_item_failures.first().and_then(|failure| failure.item_identifier.clone());
        let done = match failed {
            None => batch.len(),
            Some(sequence) => batch
                .iter()
                .position(|record| record["dynamodb"]["SequenceNumber"].as_str() == Some(sequence.as_str()))
                .unwrap_or(0),
        };
        if done > 0 {
            pending.drain(..done);
            attempts = 0;
            continue;
        }
        attempts += 1;
        if attempts >= MAX_ATTEMPTS {
            let poison = pending.remove(0);
            tracing::error!(event_id = %poison["eventID"], "a stream record failed {MAX_ATTEMPTS} times; sent to the dead letters");
            dead_letters.0.lock().await.push(poison);
            attempts = 0;
        } else {
            tokio::time::sleep(interval).await;
        }
    }
}

/// The records after the last ones read, from every shard (the stream described first when its
/// shards are not known yet).
async fn read_new(
    streams: &Streams,
    stream_arn: &str,
    shards: &mut Vec<(String, Option<String>)>,
) -> Result<Vec<Value>, StreamError> {
    if shards.is_empty() {
        let description = streams.call("DescribeStream", json!({"StreamArn": stream_arn})).await?;
        let described = description["StreamDescription"]["Shards"].as_array().cloned().unwrap_or_default();
        *shards = described
            .iter()
            .filter_map(|shard| Some((shard["ShardId"].as_str()?.to_owned(), None)))
            .collect();
    }
    let mut records = Vec::new();
    for (shard_id, last) in shards.iter_mut() {
        let position = match last.as_deref() {
            Some(sequence) => {
                json!({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": sequence})
            }
            None => json!({"ShardIteratorType": "TRIM_HORIZON"}),
        };
        let mut request = json!({"StreamArn": stream_arn, "ShardId": shard_id});
        if let (Some(request), Some(position)) = (request.as_object_mut(), position.as_object()) {
            request.extend(position.clone());
        }
        let iterator = streams.call("GetShardIterator", request).await?;
        let Some(iterator) = iterator["ShardIterator"].as_str() else { continue };
        let page =
            streams.call("GetRecords", json!({"ShardIterator": iterator, "Limit": BATCH_SIZE})).await?;
        let read = page["Records"].as_array().cloned().unwrap_or_default();
        if let Some(sequence) = read.last().and_then(|record| record["dynamodb"]["SequenceNumber"].as_str()) {
            *last = Some(sequence.to_owned());
        }
        records.extend(read);
    }
    Ok(records)
}
