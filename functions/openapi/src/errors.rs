//! The errors every operation can send, documented in one place from what the operation takes,
//! so no annotation has to repeat them and none can forget one:
//!
//! - every problem is `application/problem+json` (RFC 9457) with the `Problem` schema, as
//!   `ApiError` sends it;
//! - 400 where an operation takes parameters or a body (`validation_failed` naming the fields,
//!   `malformed_json`, `invalid_query`, a missing `X-Device-Id`);
//! - 401 with `WWW-Authenticate: Bearer` where it needs a token;
//! - 403 where only one kind of account may call (staff: `/admin/`, `/records/`, `/imports/`,
//!   `/forms`; customers: `/portal/`) or a right is needed;
//! - 413 and 415 where it takes a body;
//! - 503 with `Retry-After` where it reaches the table, SES or SNS (all but the static pages);
//! - `Retry-After` on every documented 429.
//!
//! An annotation still names what only its handler knows (403, 404, 409, 429 …) and may give any
//! of these a more precise description, which is kept.

use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Content, HeaderBuilder, OpenApi as Document, Ref, RefOr, Response};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Operations that never reach a dependency: the document itself, the admin page's files and
/// the link pages that only show a button (their POST does the work).
const STATIC_OPERATIONS: [&str; 7] =
    ["openapi_json", "index", "asset", "show_verify_email", "show_link", "show", "show_reset_page"];

/// Where only staff (or only customers, `/portal/`) may call: the other kind's token gets 403.
const ONE_KIND_PATHS: [&str; 5] = ["/admin/", "/records/", "/imports/", "/forms", "/portal/"];

/// Completes every operation of `document` as the module documentation says.
pub fn document_errors(document: &mut Document) {
    for (path, item) in document.paths.paths.iter_mut() {
        let one_kind = ONE_KIND_PATHS.iter().any(|prefix| path.starts_with(prefix));
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
        ];
        for operation in operations.into_iter().flatten() {
            complete(operation, one_kind);
        }
    }
}

fn complete(operation: &mut Operation, one_kind: bool) {
    let has_input =
        operation.request_body.is_some() || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let secured = operation.security.as_ref().is_some_and(|requirements| !requirements.is_empty());
    let reaches_dependencies =
        !operation.operation_id.as_deref().is_some_and(|id| STATIC_OPERATIONS.contains(&id));
    if has_input {
        add(
            operation,
            400,
            "`validation_failed` (the fields in `errors`), `malformed_json`, `invalid_query` or another bad input named by `code`",
        );
    }
    if secured {
        add(
            operation,
            401,
            "`missing_token`, `invalid_token` (invalid or expired) or `session_ended` (signed out, password changed or access removed)",
        );
    }
    if secured && one_kind {
        add(
            operation,
            403,
            "`forbidden`: the other kind of account (a customer on a staff route, staff on the portal), or staff without the right this route needs",
        );
    }
    if operation.request_body.is_some() {
        add(operation, 413, "`payload_too_large`: the body is over the limit (256 KiB)");
        add(operation, 415, "`unsupported_media_type`: the body is not of the documented content type");
    }
    if reaches_dependencies {
        add(operation, 503, "`unavailable`: a dependency is busy or unreachable; retry after Retry-After");
    }
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else { continue };
        if response.description.is_empty() {
            response.description = reason(status).unwrap_or("Response").to_owned();
        }
        if status.starts_with(['4', '5']) {
            as_problem(status, response);
        }
    }
}

/// Adds a problem response for `status` unless the annotation documents one.
fn add(operation: &mut Operation, status: u16, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| RefOr::T(Response::new(description)));
}

/// The body every `ApiError` has, and the headers it sets for its status.
fn as_problem(status: &str, response: &mut Response) {
    response.content.shift_remove("application/json");
    response
        .content
        .insert(PROBLEM_JSON.to_owned(), RefOr::T(Content::new(Some(Ref::from_schema_name("Problem")))));
    let integer = || ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).build();
    let text = || ObjectBuilder::new().schema_type(Type::String).build();
    match status {
        "401" => {
            response.headers.entry("WWW-Authenticate".to_owned()).or_insert_with(|| {
                RefOr::T(HeaderBuilder::new().schema(Some(text())).description(Some("`Bearer`")).build())
            });
        }
        "429" | "503" => {
            response.headers.entry("Retry-After".to_owned()).or_insert_with(|| {
                RefOr::T(
                    HeaderBuilder::new()
                        .schema(Some(integer()))
                        .description(Some("Seconds to wait before trying again"))
                        .build(),
                )
            });
        }
        _ => {}
    }
}

fn reason(status: &str) -> Option<&'static str> {
    let code = status.parse::<u16>().ok()?;
    axum::http::StatusCode::from_u16(code).ok()?.canonical_reason()
}
