//! Issue 12 item 5: what an endpoint costs per million requests on AWS, from what the
//! round-trip test measured (the DynamoDB requests, their kinds and sizes, the mails and SMS)
//! and a stated model of the rest (durations). Printed by `round_trips` for BENCHMARKS.md.

use serde_json::Value;

use crate::support::Sent;

/// List prices, us-east-1 (2025): on-demand DynamoDB, Lambda on arm64, the HTTP API, SES, SNS
/// SMS to the US (other countries differ, most cost more).
const PER_MILLION_READ_UNITS: f64 = 0.125;
const PER_MILLION_WRITE_UNITS: f64 = 0.625;
const PER_MILLION_LAMBDA_REQUESTS: f64 = 0.20;
const PER_GB_SECOND: f64 = 0.000_013_333_4;
const PER_MILLION_HTTP_API_REQUESTS: f64 = 1.00;
const PER_MAIL: f64 = 0.000_10;
const PER_SMS_US: f64 = 0.005_81;

/// The duration model: Lambda's own work, each AWS call's wait in-region, one argon2id hash or
/// verify at 1 024 MB (BENCHMARKS.md, "Hot code").
const BASE_MS: f64 = 2.0;
const DYNAMODB_CALL_MS: f64 = 5.0;
const MESSAGE_CALL_MS: f64 = 30.0;
const ARGON2_AT_1024_MB_MS: f64 = 150.0;

/// Request units one endpoint's DynamoDB requests consume.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Units {
    pub read: f64,
    pub write: f64,
}

fn per(bytes: usize, unit: usize) -> f64 {
    bytes.div_ceil(unit).max(1) as f64
}

/// The units of `sent`, as on-demand DynamoDB bills them, approximately: strongly consistent
/// reads 1 per 4 KB read (a Query or GetItem by its answer's size, an index Query half that, a
/// BatchGetItem by its keys), writes 1 per KB written (sized by the request, where DynamoDB
/// takes the larger of the item before and after: equal for items under 1 KB, as nearly all
/// here are), transactions twice that per item. Writes to the table's indexes come on top (a
/// record sits in up to seven): not counted here.
pub fn units(sent: &[Sent]) -> Units {
    let mut units = Units::default();
    for request in sent {
        let body: Value = serde_json::from_str(&request.body).unwrap_or_default();
        match request.operation.rsplit('.').next().unwrap_or_default() {
            // Index reads are eventually consistent: half a unit per 4 KB.
            "Query" | "Scan" if body.get("IndexName").is_some() => {
                units.read += per(request.response_bytes, 4096) / 2.0;
            }
            "GetItem" | "Query" | "Scan" => units.read += per(request.response_bytes, 4096),
            "BatchGetItem" => {
                units.read += body["RequestItems"].as_object().map_or(0, |tables| {
                    tables.values().map(|t| t["Keys"].as_array().map_or(0, Vec::len)).sum()
                }) as f64;
            }
            "PutItem" | "UpdateItem" | "DeleteItem" => units.write += per(request.body.len(), 1024),
            "BatchWriteItem" => {
                units.write += body["RequestItems"]
                    .as_object()
                    .map_or(0, |tables| tables.values().map(|t| t.as_array().map_or(0, Vec::len)).sum())
                    as f64;
            }
            "TransactWriteItems" => {
                for item in body["TransactItems"].as_array().into_iter().flatten() {
                    let size = per(item.to_string().len(), 1024);
                    if item.get("ConditionCheck").is_some() {
                        units.read += 2.0 * size;
                    } else {
                        units.write += 2.0 * size;
                    }
                }
            }
            _ => {}
        }
    }
    units
}

/// The memory of the function serving `path` (infra/template.yaml): the password-hashing
/// functions get 1 024 MB, the rest 128 MB.
fn memory_mb(path: &str) -> f64 {
    let hashing = ["/registrations", "/sessions", "/me", "/passwords", "/links/", "/admin/"];
    let lean = ["/admin/otp-rules", "/admin/portal/", "/admin/customers/{id}/contact"];
    if hashing.iter().any(|prefix| path.starts_with(prefix)) && !lean.iter().any(|p| path.starts_with(p)) {
        1024.0
    } else {
        128.0
    }
}

/// How many argon2id hashes or verifies an endpoint's call runs.
fn hashes(label: &str) -> f64 {
    match label {
        "change password" => 2.0,
        "register"
        | "register (address taken)"
        | "change e-mail"
        | "reset confirm"
        | "reset page (submit)"
        | "create user" => 1.0,
        label if label.starts_with("sign in") => 1.0,
        _ => 0.0,
    }
}

/// One row of the cost table: the endpoint's USD per million requests, by part.
pub fn row(
    label: &str,
    method: &str,
    path: &str,
    units: Units,
    dynamodb: usize,
    mails: usize,
    sms: usize,
) -> String {
    let memory = memory_mb(path);
    let ms = BASE_MS
        + DYNAMODB_CALL_MS * dynamodb as f64
        + MESSAGE_CALL_MS * (mails + sms) as f64
        + ARGON2_AT_1024_MB_MS * (1024.0 / memory) * hashes(label);
    let lambda = PER_MILLION_LAMBDA_REQUESTS + (memory / 1024.0) * (ms / 1000.0) * PER_GB_SECOND * 1e6;
    let database = units.read * PER_MILLION_READ_UNITS + units.write * PER_MILLION_WRITE_UNITS;
    let messages = (mails as f64 * PER_MAIL + sms as f64 * PER_SMS_US) * 1e6;
    let total = PER_MILLION_HTTP_API_REQUESTS + lambda + database + messages;
    format!(
        "| `{method} {path}` | {label} | {memory:.0} MB | {ms:.0} ms | {:.1} / {:.1} | {lambda:.2} | {database:.2} | {messages:.0} | {total:.2} |",
        units.read, units.write
    )
}

pub const HEADER: &str = "| endpoint | case | Lambda | modelled duration | DynamoDB RRU / WRU | Lambda $ | DynamoDB $ | mail and SMS $ | total $ (with the HTTP API's 1.00) |\n|---|---|---|---|---|---|---|---|---|";

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(operation: &str, body: &str, response_bytes: usize) -> Sent {
        Sent { operation: format!("DynamoDB_20120810.{operation}"), body: body.into(), response_bytes }
    }

    #[test]
    fn units_follow_dynamodb_s_billing() {
        let requests = [
            sent("GetItem", "{}", 300),
            sent("Query", "{}", 9000),
            sent("BatchGetItem", r#"{"RequestItems":{"t":{"Keys":[{},{}]}}}"#, 100),
            sent("UpdateItem", &"x".repeat(1500), 10),
            sent("TransactWriteItems", r#"{"TransactItems":[{"Put":{}},{"ConditionCheck":{}}]}"#, 0),
        ];
        assert_eq!(units(&requests), Units { read: 1.0 + 3.0 + 2.0 + 2.0, write: 2.0 + 2.0 });
    }
}
