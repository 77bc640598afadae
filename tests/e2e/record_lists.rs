//! Record lists beyond criteria: `?field=value` equality, lists of an owner and of a contact
//! from their indexes, order by creation or last change, cursors bound to their list, and a
//! unique contact field answered from its guard.

use portico::domain::BuiltinRole;
use reqwest::StatusCode;
use serde_json::{Value, json};
use ulid::Ulid;

use crate::contact_fields::{Setup, setup};
use crate::support::{TestApp, error_fields, spawn_app};

async fn create(app: &TestApp, token: &str, module: &str, body: Value) -> String {
    let response = app.post(&format!("/records/{module}"), body, Some(token)).await;
    assert_eq!(response.status, StatusCode::CREATED, "{module}: {:?}", response.body);
    response.body["id"].as_str().expect("id").to_owned()
}

/// Every item of a list, following its cursors; the ids in the order they came.
async fn all_ids(app: &TestApp, token: &str, path: &str) -> Vec<String> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut ids = Vec::new();
    let mut next = format!("{path}{separator}limit=100");
    loop {
        let page = app.get(&next, Some(token)).await;
        assert_eq!(page.status, StatusCode::OK, "{next}: {:?}", page.body);
        ids.extend(
            page.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|r| r["id"].as_str().expect("id").to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(cursor) => next = format!("{path}{separator}limit=100&cursor={cursor}"),
            None => return ids,
        }
    }
}

#[tokio::test]
async fn an_owner_s_records_come_from_the_owner_index_and_match_fields() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let agents =
        (app.staff_member(BuiltinRole::FieldAgent).await, app.staff_member(BuiltinRole::FieldAgent).await);
    let (owner, other) = (agents.0.1, agents.1.1);
    let task = |subject: &str, status: &str, owner: &str| json!({"fields": {"subject": subject, "status": status}, "owner_id": owner});
    let first = create(&app, &admin, "tasks", task("Call", "Open", &owner)).await;
    let second = create(&app, &admin, "tasks", task("Visit", "Done", &owner)).await;
    let third = create(&app, &admin, "tasks", json!({"fields": {"status": "Open"}, "owner_id": owner})).await;
    create(&app, &admin, "tasks", task("Call", "Open", &other)).await;
    create(&app, &admin, "deals", json!({"fields": {"name": "Not a task"}, "owner_id": owner})).await;

    let mine = format!("/records/tasks?owner_id={owner}");
    let (app, requests) = app.counting_requests().await;
    assert_eq!(all_ids(&app, &admin, &mine).await.len(), 3);
    let sent = requests.take_work_bodies();
    assert_eq!(sent.len(), 1, "one Query: {sent:?}");
    assert!(sent[0].contains(r#""IndexName":"GSI3""#), "{sent:?}");
    assert_eq!(all_ids(&app, &admin, &mine).await, [first.as_str(), second.as_str(), third.as_str()]);
    assert_eq!(
        all_ids(&app, &admin, &format!("{mine}&sort=-created_at")).await,
        [third.as_str(), second.as_str(), first.as_str()]
    );
    assert_eq!(all_ids(&app, &admin, &format!("{mine}&status=Open")).await, [first.as_str(), third.as_str()]);
    assert_eq!(all_ids(&app, &admin, &format!("{mine}&status=Open&subject=Call")).await, [first.as_str()]);
    assert_eq!(
        all_ids(&app, &admin, &format!("{mine}&subject=")).await,
        [third.as_str()],
        "empty matches empty"
    );
    let filtered = format!(
        "{mine}&where=%7B%22field%22%3A%22subject%22%2C%22op%22%3A%22starts_with%22%2C%22value%22%3A%22V%22%7D"
    );
    assert_eq!(all_ids(&app, &admin, &filtered).await, [second.as_str()], "criteria and the index together");

    // One page at a time, and a cursor only continues its own list.
    let page = app.get(&format!("{mine}&limit=1"), Some(&admin)).await.body;
    let cursor = page["next_cursor"].as_str().expect("more pages");
    let next = app.get(&format!("{mine}&limit=1&cursor={cursor}"), Some(&admin)).await.body;
    assert_eq!(next["items"][0]["id"], second.as_str());
    for foreign in [
        format!("/records/tasks?owner_id={other}&cursor={cursor}"),
        format!("/records/tasks?cursor={cursor}"),
        format!("/records/deals?owner_id={owner}&cursor={cursor}"),
    ] {
        let refused = app.get(&foreign, Some(&admin)).await;
        assert_eq!(
            (refused.status, refused.body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_cursor")),
            "{foreign}"
        );
    }

    // The caller's own records.
    let agent = app.staff_token(BuiltinRole::FieldAgent).await;
    let own = create(&app, &agent, "tasks", json!({"fields": {"subject": "Mine"}})).await;
    assert_eq!(all_ids(&app, &agent, "/records/tasks?owner_id=me").await, [own]);
}

#[tokio::test]
async fn bad_list_parameters_are_named() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    for (path, fields) in [
        ("/records/tasks?colour=red", vec!["colour"]),
        ("/records/tasks?status=Maybe&due_date=tomorrow", vec!["status", "due_date"]),
        ("/records/tasks?tags=a", vec!["tags"]),
        ("/records/tasks?status=Open&status=Done", vec!["status"]),
        ("/records/tasks?owner_id=someone&limit=many", vec!["limit", "owner_id"]),
        ("/records/tasks?sort=subject", vec!["sort"]),
        (&format!("/records/tasks?contact_id={}&sort=updated_at", Ulid::generate()), vec!["sort"]),
        (
            "/records/tasks?where=%7B%22field%22%3A%22nope%22%2C%22op%22%3A%22eq%22%2C%22value%22%3A1%7D",
            vec!["where.field"],
        ),
    ] {
        let refused = app.get(path, Some(&admin)).await;
        assert_eq!(
            (refused.status, error_fields(&refused.body)),
            (StatusCode::BAD_REQUEST, fields),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_contact_s_records_come_from_the_contact_index() {
    let (app, requests) = spawn_app().await.counting_requests().await;
    let (admin, _) = app.admin_token().await;
    let contact = create(&app, &admin, "contacts", json!({"fields": {"first_name": "Cem"}})).await;
    let elsewhere = create(&app, &admin, "contacts", json!({"fields": {"first_name": "Ada"}})).await;
    let deal = |amount: u32, contact: &str| json!({"fields": {"name": "Deal", "amount": amount, "contact_id": contact}});
    let small = create(&app, &admin, "deals", deal(100, &contact)).await;
    let big = create(&app, &admin, "deals", deal(900, &contact)).await;
    create(&app, &admin, "deals", deal(100, &elsewhere)).await;
    let case =
        create(&app, &admin, "cases", json!({"fields": {"subject": "Help", "contact_id": contact}})).await;

    assert_eq!(
        all_ids(&app, &admin, &format!("/records/deals?contact_id={contact}")).await,
        [small.as_str(), big.as_str()]
    );
    assert_eq!(
        all_ids(&app, &admin, &format!("/records/deals?contact_id={contact}&amount=900")).await,
        [big.as_str()]
    );
    requests.take();
    assert_eq!(all_ids(&app, &admin, &format!("/records/cases?contact_id={contact}")).await, [case.as_str()]);
    let sent = requests.take_work_bodies();
    assert_eq!(sent.len(), 1, "one Query: {sent:?}");
    assert!(sent[0].contains(r#""IndexName":"GSI2""#), "{sent:?}");

    // Moving a deal to another contact moves it between the contacts' lists.
    let moved = app
        .request(
            reqwest::Method::PATCH,
            &format!("/records/deals/{small}"),
            Some(json!({"fields": {"contact_id": elsewhere}, "version": 1})),
            Some(&admin),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(all_ids(&app, &admin, &format!("/records/deals?contact_id={contact}")).await, [big.as_str()]);
    assert!(all_ids(&app, &admin, &format!("/records/deals?contact_id={elsewhere}")).await.contains(&small));
}

#[tokio::test]
async fn lists_sort_by_last_change_either_way() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let tag = Ulid::generate().to_string();
    let product = |n: u32| json!({"fields": {"name": tag, "code": format!("P{n}"), "active": n != 2}});
    let (first, second, third) = (
        create(&app, &admin, "products", product(1)).await,
        create(&app, &admin, "products", product(2)).await,
        create(&app, &admin, "products", product(3)).await,
    );
    let touched = app
        .request(
            reqwest::Method::PATCH,
            &format!("/records/products/{first}"),
            Some(json!({"fields": {"price": 5}, "version": 1})),
            Some(&admin),
        )
        .await;
    assert_eq!(touched.status, StatusCode::OK);
    let by_tag = format!("/records/products?name={tag}");
    assert_eq!(
        all_ids(&app, &admin, &by_tag).await,
        [first.as_str(), second.as_str(), third.as_str()],
        "by creation"
    );
    assert_eq!(
        all_ids(&app, &admin, &format!("{by_tag}&sort=updated_at")).await,
        [second.as_str(), third.as_str(), first.as_str()]
    );
    assert_eq!(
        all_ids(&app, &admin, &format!("{by_tag}&sort=-updated_at")).await,
        [first.as_str(), third.as_str(), second.as_str()]
    );
    assert_eq!(all_ids(&app, &admin, &format!("{by_tag}&active=false")).await, [second.as_str()]);
    assert_eq!(
        all_ids(&app, &admin, &format!("{by_tag}&price=5.0")).await,
        [first.as_str()],
        "numbers compare as numbers"
    );
}

#[tokio::test]
async fn a_unique_field_is_matched_through_its_guard_and_masked_fields_are_refused() {
    let app = spawn_app().await;
    let Setup { admin, agent, .. } = setup(&app).await;
    let loyalty = format!("L-{}", Ulid::generate());
    let body = json!({"fields": {"first_name": "Una", "Loyalty ID": loyalty, "Salary": 4200}});
    let contact = create(&app, &admin, "contacts", body).await;
    create(
        &app,
        &admin,
        "contacts",
        json!({"fields": {"first_name": "Una", "Loyalty ID": format!("{loyalty}-2")}}),
    )
    .await;

    let (app, counter) = app.counting_requests().await;
    let path = format!("/records/contacts?Loyalty%20ID={loyalty}");
    let found = app.get(&path, Some(&agent)).await;
    let sent = counter.take_work_bodies();
    assert_eq!(found.status, StatusCode::OK, "{:?}", found.body);
    let items = found.body["items"].as_array().expect("items");
    assert_eq!(items.iter().map(|r| r["id"].as_str().expect("id")).collect::<Vec<_>>(), [contact.as_str()]);
    assert_eq!(items[0]["fields"]["Salary"], Value::Null, "still masked for the agent");
    assert!(found.body.get("next_cursor").is_none());
    // The contact fields, the guard and the record: no Query over contacts at all.
    assert_eq!(sent.len(), 3, "a unique value is looked up, not searched: {sent:?}");
    assert!(!sent.iter().any(|body| body.contains("IndexName")), "{sent:?}");
    let other_name = app.get(&format!("{path}&first_name=Ivo"), Some(&agent)).await;
    assert_eq!(other_name.body["items"], json!([]), "the other conditions still apply");
    let absent = app.get("/records/contacts?Loyalty%20ID=nobody-has-this", Some(&agent)).await;
    assert_eq!((absent.status, absent.body["items"].clone()), (StatusCode::OK, json!([])));

    for path in
        ["/records/contacts?Salary=4200", "/records/contacts?sort=Salary", "/records/contacts?sort=-Salary"]
    {
        let refused = app.get(path, Some(&agent)).await;
        assert_eq!(
            (refused.status, refused.body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("masked_field")),
            "{path}"
        );
        assert!(!refused.body.to_string().contains("4200"));
    }
    let allowed =
        app.get(&format!("/records/contacts?Salary=4200&Loyalty%20ID={loyalty}"), Some(&admin)).await;
    assert_eq!(allowed.body["items"][0]["id"], contact.as_str(), "with the permission, masked fields filter");
}

#[tokio::test]
async fn lists_sort_by_the_module_s_sort_field_with_blanks_last() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let tag = Ulid::generate().to_string();
    let task = |due: Option<&str>| json!({"fields": {"subject": tag, "due_date": due}});
    let march = create(&app, &admin, "tasks", task(Some("2027-03-01"))).await;
    let january = create(&app, &admin, "tasks", task(Some("2027-01-15"))).await;
    let undated = create(&app, &admin, "tasks", task(None)).await;
    let february = create(&app, &admin, "tasks", task(Some("2027-02-10"))).await;
    let by_due = format!("/records/tasks?subject={tag}&sort=due_date");
    let expected = [january.as_str(), february.as_str(), march.as_str(), undated.as_str()];
    assert_eq!(all_ids(&app, &admin, &by_due).await, expected);
    let reversed: Vec<&str> = expected.iter().rev().copied().collect();
    assert_eq!(
        all_ids(&app, &admin, &format!("/records/tasks?subject={tag}&sort=-due_date")).await,
        reversed
    );

    // The index follows changes: January moves to April, March loses its date.
    for (id, due) in [(&january, json!("2027-04-01")), (&march, Value::Null)] {
        let path = format!("/records/tasks/{id}");
        let changed = app
            .request(
                reqwest::Method::PATCH,
                &path,
                Some(json!({"fields": {"due_date": due}, "version": 1})),
                Some(&admin),
            )
            .await;
        assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    }
    let ids = all_ids(&app, &admin, &by_due).await;
    assert_eq!(ids[..2], [february.as_str(), january.as_str()]);
    assert_eq!(ids.len(), 4, "undated ones stay listed, last");

    let surname = Ulid::generate().to_string();
    let contact = |last: &str| json!({"fields": {"first_name": surname, "last_name": last}});
    // "Zeta" < "alpha" byte-wise: only ignoring case puts alpha first.
    let (zeta, alpha) = (
        create(&app, &admin, "contacts", contact("Zeta")).await,
        create(&app, &admin, "contacts", contact("alpha")).await,
    );
    let by_name = format!("/records/contacts?first_name={surname}&sort=last_name");
    assert_eq!(all_ids(&app, &admin, &by_name).await, [alpha.as_str(), zeta.as_str()], "ignoring case");
}

/// A CSV page: its rows (header first) and the next page's cursor.
async fn csv_page(app: &TestApp, token: &str, path: &str) -> (Vec<Vec<String>>, Option<String>) {
    let response = app
        .http
        .get(format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("accept", "text/csv")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let cursor = response.headers().get("next-cursor").map(|value| value.to_str().expect("ascii").to_owned());
    let body = response.bytes().await.expect("body");
    let rows = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&body[..])
        .records()
        .map(|row| row.expect("csv row").iter().map(str::to_owned).collect())
        .collect();
    (rows, cursor)
}

#[tokio::test]
async fn a_csv_export_pages_like_the_list_and_leaves_masked_columns_out() {
    let app = spawn_app().await;
    let Setup { admin, agent, .. } = setup(&app).await;
    let tag = Ulid::generate().to_string();
    for (last, salary) in [("Ok", 1111), ("=HYPERLINK(\"http://evil\")", 2222), ("Three", 3333)] {
        let fields = json!({"first_name": tag, "last_name": last, "Salary": salary});
        create(&app, &admin, "contacts", json!({"fields": fields})).await;
    }
    let path = format!("/records/contacts?first_name={tag}&limit=2");
    let (first, cursor) = csv_page(&app, &agent, &path).await;
    let header = &first[0];
    assert_eq!(header[..5], ["id", "owner_id", "version", "created_at", "updated_at"]);
    assert!(header.contains(&"Loyalty ID".to_owned()) && header.contains(&"last_name".to_owned()));
    assert!(!header.contains(&"Salary".to_owned()), "a masked column is left out: {header:?}");
    let cursor = cursor.expect("a second page");
    let (second, last) = csv_page(&app, &agent, &format!("{path}&cursor={cursor}")).await;
    assert_eq!((first.len() - 1, second.len() - 1, last), (2, 1, None));
    // Field cells only: ids and timestamps are random digits that may spell a salary.
    let cells: Vec<&String> = first[1..].iter().chain(&second[1..]).flat_map(|row| &row[5..]).collect();
    assert!(
        !cells.iter().any(|cell| ["1111", "2222", "3333"].iter().any(|salary| cell.contains(salary))),
        "{cells:?}"
    );
    let column = header.iter().position(|name| name == "last_name").expect("last_name");
    assert_eq!(first[2][column], "'=HYPERLINK(\"http://evil\")", "formulas are defused");

    let (full, _) = csv_page(&app, &admin, &format!("/records/contacts?first_name={tag}")).await;
    let salary = full[0].iter().position(|name| name == "Salary").expect("admins see Salary");
    assert_eq!(
        full[1..].iter().map(|row| row[salary].as_str()).collect::<Vec<_>>(),
        ["1111", "2222", "3333"]
    );
    let too_big = app.get(&format!("/records/contacts?first_name={tag}&limit=1000"), Some(&admin)).await;
    assert_eq!(too_big.status, StatusCode::BAD_REQUEST, "JSON pages stay at 100");
}

/// `make bench`: an owner's 100 tasks among `LIST_BENCH_RECORDS` (default 5 000), read from
/// the owner index, against the same 100 found by filtering the whole module. Prints the time
/// and DynamoDB requests of each and their ratio. A measurement, not a test.
#[tokio::test]
#[ignore = "benchmark: run with `make bench`"]
async fn list_benchmark() {
    use futures::stream::{self, StreamExt};
    use portico::domain::modules::{CrmRecord, module};

    let total: usize = std::env::var("LIST_BENCH_RECORDS").ok().and_then(|n| n.parse().ok()).unwrap_or(5_000);
    let per_owner = 100;
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let tasks = module("tasks").expect("tasks");
    let owners: Vec<Ulid> = (0..total.div_ceil(per_owner)).map(|_| Ulid::generate()).collect();
    let schema = portico::domain::contact_fields::ModuleSchema::builtin(tasks);
    let seeded = std::time::Instant::now();
    stream::iter(0..total)
        .for_each_concurrent(16, |i| {
            let owner = owners[i / per_owner];
            let (store, schema) = (&app.state.store, &schema);
            async move {
                let now = chrono::Utc::now();
                let fields = [
                    ("subject".to_owned(), portico::criteria::Value::String(format!("owner-{owner}"))),
                    ("status".to_owned(), portico::criteria::Value::String("Open".into())),
                ];
                let record = CrmRecord {
                    id: Ulid::generate(),
                    module: tasks,
                    owner_id: owner,
                    version: 1,
                    fields: fields.into_iter().collect(),
                    created_at: now,
                    updated_at: now,
                    updated_by: portico::domain::modules::Actor::System,
                    origin: portico::domain::modules::Origin::Import,
                };
                store
                    .commit(store.record_creation(&record, schema, &[]).expect("items"))
                    .await
                    .expect("seed");
            }
        })
        .await;
    println!("seeded {total} tasks for {} owners in {:.1} s", owners.len(), seeded.elapsed().as_secs_f64());

    let (app, requests) = app.counting_requests().await;
    let owner = owners[owners.len() / 2];
    let measure = |path: String| {
        let (app, admin, requests) = (&app, &admin, &requests);
        async move {
            requests.take();
            let runs = 5;
            let started = std::time::Instant::now();
            for _ in 0..runs {
                assert_eq!(all_ids(app, admin, &path).await.len(), per_owner);
            }
            (started.elapsed().as_secs_f64() / runs as f64, requests.take() / runs)
        }
    };
    let (indexed, indexed_requests) = measure(format!("/records/tasks?owner_id={owner}")).await;
    let (filtered, filtered_requests) = measure(format!("/records/tasks?subject=owner-{owner}")).await;
    println!(
        "an owner's {per_owner} tasks among {total}: owner index {:.1} ms, {indexed_requests} request(s); \
         module filter {:.1} ms, {filtered_requests} requests; {:.0}x the time, {:.0}x the requests",
        indexed * 1000.0,
        filtered * 1000.0,
        filtered / indexed,
        filtered_requests as f64 / indexed_requests as f64
    );
}
