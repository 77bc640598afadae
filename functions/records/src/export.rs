//! A list page as CSV (`Accept: text/csv`): the export path. Same records, same masking: a
//! masked field's column is left out for callers who may not see it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portico::ApiError;
use portico::criteria::{FieldType, Value};
use portico::domain::modules::{CrmRecord, field_json};
use serde_json::Value as JsonValue;

use portico::records::View;

/// CSV pages may be larger than JSON ones: exports read many.
pub(crate) const MAX_CSV_PAGE: u32 = 1000;

/// Columns every record has, before its fields.
const RECORD_COLUMNS: [&str; 5] = ["id", "owner_id", "version", "created_at", "updated_at"];

/// Whether the client asked for CSV rather than JSON.
pub(crate) fn wants_csv(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|media| {
            media.split(';').next().is_some_and(|media| media.trim().eq_ignore_ascii_case("text/csv"))
        })
}

/// The fields the caller may see, in a stable order: built-in ones, then custom ones.
fn visible_fields<'a>(view: &'a View<'_>) -> Vec<(&'a str, &'a FieldType)> {
    let builtin = view.module().fields.iter();
    let custom = view.schema.custom.iter().map(|field| (field.name.as_str(), &field.field_type));
    builtin.chain(custom).filter(|(name, _)| !view.hides(name)).collect()
}

/// A cell for `value`. Text a spreadsheet would run as a formula gets a leading `'` (OWASP's
/// advice on CSV injection): any text but a phone number, whose `+` is validated E.164.
fn cell(field_type: &FieldType, value: Option<&Value>) -> String {
    let Some(value) = value else { return String::new() };
    match (field_type, field_json(field_type, value)) {
        (FieldType::Phone, JsonValue::String(text)) => text,
        (_, JsonValue::String(text)) => defused(&text),
        (_, JsonValue::Null) => String::new(),
        (_, other) => other.to_string(),
    }
}

/// `text` safe for a spreadsheet: a leading `'` before what could start a formula, and no NUL
/// (which cuts a cell short in some readers).
fn defused(text: &str) -> String {
    let text = text.replace('\0', "");
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text }
}

/// `records` as a CSV document, with the next page's cursor in a `Next-Cursor` header.
pub(crate) fn csv_response(
    view: &View<'_>,
    records: &[CrmRecord],
    next_cursor: Option<String>,
) -> Result<Response, ApiError> {
    let fields = visible_fields(view);
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Custom field names are admins' text: defused like values.
    let header = RECORD_COLUMNS
        .iter()
        .map(|column| (*column).to_owned())
        .chain(fields.iter().map(|(name, _)| defused(name)));
    writer.write_record(header).map_err(ApiError::internal)?;
    for record in records {
        let mut row = vec![
            record.id.to_string(),
            record.owner_id.to_string(),
            record.version.to_string(),
            portico::time::format(record.created_at),
            portico::time::format(record.updated_at),
        ];
        row.extend(fields.iter().map(|(name, field_type)| cell(field_type, record.fields.get(*name))));
        writer.write_record(&row).map_err(ApiError::internal)?;
    }
    let body = writer.into_inner().map_err(ApiError::internal)?;
    let mut response =
        (StatusCode::OK, [(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response();
    if let Some(cursor) = next_cursor.and_then(|cursor| HeaderValue::from_str(&cursor).ok()) {
        response.headers_mut().insert("next-cursor", cursor);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_in_free_text_are_defused_and_typed_values_kept() {
        let text = |t: &str| Value::String(t.to_owned());
        assert_eq!(cell(&FieldType::Text, Some(&text("=HYPERLINK(\"x\")"))), "'=HYPERLINK(\"x\")");
        assert_eq!(cell(&FieldType::Text, Some(&text("-2+3"))), "'-2+3");
        assert_eq!(cell(&FieldType::Text, Some(&text("plain"))), "plain");
        assert_eq!(cell(&FieldType::Phone, Some(&text("+4930123456"))), "+4930123456");
        assert_eq!(cell(&FieldType::Email, Some(&text("=cmd@example.com"))), "'=cmd@example.com");
        assert_eq!(cell(&FieldType::Number, Some(&Value::Number("-5".parse().expect("number")))), "-5");
        assert_eq!(cell(&FieldType::List, Some(&Value::List(vec![text("a"), text("b")]))), r#"["a","b"]"#);
        assert_eq!(cell(&FieldType::Text, None), "");
        assert_eq!(cell(&FieldType::Text, Some(&text("a\0b"))), "ab");
        assert_eq!(cell(&FieldType::Text, Some(&text("\0=1+1"))), "'=1+1");
    }

    #[test]
    fn header_cells_are_defused_like_values() {
        assert_eq!(defused("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(defused("Customer no"), "Customer no");
    }

    #[test]
    fn csv_is_asked_for_among_other_types() {
        let with = |accept: &str| {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_str(accept).expect("header"));
            wants_csv(&headers)
        };
        assert!(with("text/csv"));
        assert!(with("application/json;q=0.5, Text/CSV;q=0.9"));
        assert!(!with("application/json"));
        assert!(!wants_csv(&axum::http::HeaderMap::new()));
    }
}
