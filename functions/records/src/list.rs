//! `GET /records/{module}`: the list's HTTP face. Planning (index, pushdown, scope) lives in
//! `portico::records::list`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use portico::domain::modules::Origin;
use portico::error::Problem;
use portico::http::cursor::MAX_PAGE_SIZE;
use portico::http::{ApiQuery, PageQuery, PagedResponse, Staff};
use portico::records::list::ListPlan;
use portico::records::{Caller, Need, RecordView, View, custom_fields};
use portico::{ApiError, AppState};
use utoipa::IntoParams;

use crate::export;

/// The parameters a list takes besides `?<field>=<value>` (documentation; parsed by `ListPlan`).
#[expect(dead_code, reason = "documents the query parameters that ListPlan parses from raw pairs")]
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Items per page, 1–100 (default 25); CSV pages up to 1000.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page; send the same parameters with it.
    pub cursor: Option<String>,
    /// Criteria (JSON, SPEC §7) the records must match, e.g.
    /// `{"field":"stage","op":"eq","value":"Negotiation"}`.
    #[param(rename = "where")]
    pub filter: Option<String>,
    /// `created_at` (default), `updated_at`, or the module's sort field (contacts `last_name`,
    /// accounts and products `name`, deals `close_date`, quotes `valid_until`, invoices and
    /// tasks `due_date`, cases `subject`, meetings `starts_at`, deliveries `scheduled_for`:
    /// texts ignoring case, records without a value last); a leading `-` reverses (records
    /// without a value first). Lists of a contact come by `created_at`.
    pub sort: Option<String>,
    /// Only the records this user owns (`me`: the caller), read from the owner index. Staff
    /// whose role reaches only their own records of the module always get those.
    pub owner_id: Option<String>,
}

#[utoipa::path(get, path = "/records/{module}", tag = "records", security(("bearer" = [])),
    description = "Any other parameter `<field>=<value>` keeps the records whose field equals the value \
        (an empty value: whose field is empty). Lists read one index: the owner's with `owner_id` (and \
        always for staff limited to their own records), the contact's with `contact_id`, a unique contact \
        field's guard when matching one, else the module's, in the order `sort` names.",
    params(("module" = String, Path), ListQuery),
    responses((status = 200, content(
            (inline(PagedResponse<RecordView>) = "application/json"),
            (String = "text/csv")
        ), description = "A page of records. With `Accept: text/csv`, the page as CSV (up to 1000 rows) with \
            the next page's cursor in the `Next-Cursor` header; masked columns are left out for callers \
            who may not see them"), (status = 400, body = Problem),
        (status = 403, body = Problem, description = "`forbidden` (also: another owner's list for staff limited to their own), or `masked_field`: filtering or sorting on a field hidden from the caller"),
        (status = 404, body = Problem)))]
pub(crate) async fn list_records(
    State(state): State<AppState>,
    Staff(claims, _): Staff,
    Path(module): Path<String>,
    headers: HeaderMap,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let caller = Caller::staff(&claims, Origin::Api);
    let module = caller.module(&module, Need::List)?;
    let custom = custom_fields(&state.store, module).await?;
    let view = View::new(&caller, module, &custom);
    let plan = ListPlan::parse(pairs, &view)?;
    let csv = export::wants_csv(&headers);
    let max_page = if csv { export::MAX_CSV_PAGE } else { MAX_PAGE_SIZE };
    let page_query = PageQuery { limit: plan.limit, cursor: plan.cursor.clone() };
    let (limit, start) = page_query.resolve_up_to(&state.keys, max_page)?;
    let page = plan.read_page(&state.store, &view, limit, start).await?;
    if csv {
        let page = PagedResponse::from_page(&state.keys, page, |record| record);
        return export::csv_response(&view, &page.items, page.next_cursor);
    }
    Ok(Json(PagedResponse::from_page(&state.keys, page, |record| view.render(&record))).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_list_documents_its_parameters_by_their_query_names() {
        let document = serde_json::to_value(crate::openapi()).unwrap_or_default();
        let parameters = &document["paths"]["/records/{module}"]["get"]["parameters"];
        let names: Vec<&str> =
            parameters.as_array().into_iter().flatten().filter_map(|p| p["name"].as_str()).collect();
        assert_eq!(names, ["module", "limit", "cursor", "where", "sort", "owner_id"]);
        assert_eq!(&names[1..], portico::records::list::PARAMETERS);
    }
}
