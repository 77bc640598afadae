//! The customer portal over HTTP (issue 15): seed 001's exposure examples, the account ↔
//! contact link, and the paths an attacker would take to another customer's records — ids,
//! filters, sorts, cursors of another customer or module, hidden fields, other kinds of token.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::otp_challenges::patch_current;
use crate::support::{PASSWORD, Response, TestApp, error_fields, spawn_app, unique_email};

async fn create(app: &TestApp, admin: &str, module: &str, fields: Value) -> String {
    let created = app.post(&format!("/records/{module}"), json!({"fields": fields}), Some(admin)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

async fn configure(app: &TestApp, admin: &str, module: &str, definition: Value) -> Response {
    app.request(Method::PUT, &format!("/admin/portal/modules/{module}"), Some(definition), Some(admin)).await
}

async fn configured(app: &TestApp, admin: &str, module: &str, definition: Value) {
    let saved = configure(app, admin, module, definition).await;
    assert_eq!(saved.status, StatusCode::OK, "{module}: {:?}", saved.body);
}

/// Seed 001's portal: the customer's contact, their approved quotes, the products of their
/// country and the meetings in their city.
async fn seed_portal(app: &TestApp, admin: &str) {
    configured(
        app,
        admin,
        "contacts",
        json!({"exposure": "primary",
        "fields": ["first_name", "last_name", "email", "billing_city"]}),
    )
    .await;
    configured(
        app,
        admin,
        "quotes",
        json!({"exposure": "related", "lookup": "contact_id",
        "fields": ["subject", "stage", "total"],
        "criteria": {"all": [{"field": "stage", "op": "eq", "value": "Approved"},
                             {"field": "stage", "op": "ne", "value": "Negotiation"}]}}),
    )
    .await;
    configured(
        app,
        admin,
        "products",
        json!({"exposure": "public", "fields": ["name", "price"],
        "criteria": {"field": "region", "op": "eq", "field_ref": "$user.billing_country"}}),
    )
    .await;
    configured(
        app,
        admin,
        "meetings",
        json!({"exposure": "public", "fields": ["title", "starts_at"],
        "criteria": {"field": "location", "op": "eq", "field_ref": "$user.billing_city"}}),
    )
    .await;
}

/// Registers `email` under a policy that verifies addresses, verifies it and signs in.
async fn verified_customer(app: &TestApp, admin: &str, email: &str, name: &str) -> String {
    app.set_policy(
        admin,
        json!({"notify_on_registration": false, "admin_approval": "none",
        "device_confirmation": false, "email_verification": "required"}),
    )
    .await;
    let registered = app
        .post(
            "/registrations",
            json!({"email": email, "password": PASSWORD, "name": name, "account_type": "person"}),
            None,
        )
        .await;
    assert_eq!(registered.status, StatusCode::ACCEPTED, "{:?}", registered.body);
    let code = app.verification_code(email).await;
    let verified = app.post("/registrations/verify", json!({"email": email, "code": code}), None).await;
    assert_eq!(verified.status, StatusCode::OK, "{:?}", verified.body);
    signed_in(app, email).await
}

async fn signed_in(app: &TestApp, email: &str) -> String {
    let signed_in = app.sign_in(email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    signed_in.body["access_token"].as_str().expect("token").to_owned()
}

fn ids(page: &Response) -> Vec<String> {
    page.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| item["id"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn field_names(item: &Value) -> Vec<String> {
    item["fields"].as_object().map(|fields| fields.keys().cloned().collect()).unwrap_or_default()
}

/// An administrator, Patricie's contact (CZ, Brno) with her quotes, another customer's quote,
/// products and meetings, and the seed's portal configuration.
struct Seed {
    admin: String,
    patricie: String,
    contact: String,
    approved: String,
    negotiation: String,
    draft: String,
    foreign_quote: String,
    products: [String; 3],
    meetings: [String; 2],
}

async fn seed(app: &TestApp) -> Seed {
    let (admin, _) = app.admin_token().await;
    let patricie = unique_email("patricie");
    let contact = create(
        app,
        &admin,
        "contacts",
        json!({"first_name": "Patricie", "last_name": "Nováková",
        "email": patricie, "billing_country": "CZ", "billing_city": "Brno", "lifecycle": "Customer"}),
    )
    .await;
    let other = create(
        app,
        &admin,
        "contacts",
        json!({"last_name": "Other", "email": unique_email("other"),
        "billing_country": "SK", "billing_city": "Praha"}),
    )
    .await;
    let quote = |subject: &str, stage: &str, contact: &str| json!({"subject": subject, "stage": stage, "total": 1200, "valid_until": "2027-01-31", "contact_id": contact});
    let approved = create(app, &admin, "quotes", quote("Server rack", "Approved", &contact)).await;
    let negotiation =
        create(app, &admin, "quotes", quote("Discount on racks", "Negotiation", &contact)).await;
    let draft = create(app, &admin, "quotes", quote("Draft offer", "Draft", &contact)).await;
    let foreign_quote = create(app, &admin, "quotes", quote("Their rack", "Approved", &other)).await;
    let product = |name: &str, region: &str| json!({"name": name, "price": 99, "region": region, "code": "internal-code"});
    let products = [
        create(app, &admin, "products", product("Rack CZ", "CZ")).await,
        create(app, &admin, "products", product("Cable CZ", "cz")).await,
        create(app, &admin, "products", product("Rack SK", "SK")).await,
    ];
    let meeting = |title: &str, location: &str| json!({"title": title, "starts_at": "2027-02-01T09:00:00Z", "location": location});
    let meetings = [
        create(app, &admin, "meetings", meeting("Install in Brno", "Brno")).await,
        create(app, &admin, "meetings", meeting("Install in Praha", "Praha")).await,
    ];
    seed_portal(app, &admin).await;
    Seed { admin, patricie, contact, approved, negotiation, draft, foreign_quote, products, meetings }
}

#[tokio::test]
async fn patricie_sees_exactly_what_the_seed_exposes() {
    let app = spawn_app().await;
    let seed = seed(&app).await;
    let token = verified_customer(&app, &seed.admin, &seed.patricie, "Patricie Nováková").await;

    let modules = app.get("/portal/modules", Some(&token)).await;
    assert_eq!(modules.status, StatusCode::OK, "{:?}", modules.body);
    let names: Vec<&str> =
        modules.body["items"].as_array().into_iter().flatten().filter_map(|m| m["module"].as_str()).collect();
    assert_eq!(names, ["contacts", "meetings", "products", "quotes"]);

    // Her verified address linked her to her contact.
    let own = app.get("/portal/records/contacts", Some(&token)).await;
    assert_eq!(ids(&own), [seed.contact.as_str()]);
    assert_eq!(own.body["items"][0]["fields"]["billing_city"], "Brno");
    assert_eq!(field_names(&own.body["items"][0]), ["billing_city", "email", "first_name", "last_name"]);

    // Quotes: approved only; internal stages never show; only the shown fields.
    let quotes = app.get("/portal/records/quotes", Some(&token)).await;
    assert_eq!(ids(&quotes), [seed.approved.as_str()]);
    assert_eq!(field_names(&quotes.body["items"][0]), ["stage", "subject", "total"]);
    assert!(
        quotes.body["items"][0].get("version").is_none() && quotes.body["items"][0].get("owner_id").is_none()
    );
    for hidden in [&seed.negotiation, &seed.draft, &seed.foreign_quote] {
        let read = app.get(&format!("/portal/records/quotes/{hidden}"), Some(&token)).await;
        assert_eq!(read.status, StatusCode::NOT_FOUND, "{hidden}");
    }
    let read = app.get(&format!("/portal/records/quotes/{}", seed.approved), Some(&token)).await;
    assert_eq!((read.status, read.body["fields"]["subject"].as_str()), (StatusCode::OK, Some("Server rack")));

    // Products of her country (compared as the criteria compare: "cz" is not "CZ"), by name.
    let products = app.get("/portal/records/products", Some(&token)).await;
    assert_eq!(ids(&products), [seed.products[0].as_str()]);
    assert_eq!(field_names(&products.body["items"][0]), ["name", "price"]);
    // Meetings in her city.
    let meetings = app.get("/portal/records/meetings", Some(&token)).await;
    assert_eq!(ids(&meetings), [seed.meetings[0].as_str()]);

    // The quote moves to Negotiation: gone at the next request, by list and by id.
    let moved = patch_current(
        &app,
        &format!("/records/quotes/{}", seed.approved),
        &seed.admin,
        json!({"stage": "Negotiation"}),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert!(ids(&app.get("/portal/records/quotes", Some(&token)).await).is_empty());
    let gone = app.get(&format!("/portal/records/quotes/{}", seed.approved), Some(&token)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    // Her city changes: the field match follows at the next request.
    let moved = patch_current(
        &app,
        &format!("/records/contacts/{}", seed.contact),
        &seed.admin,
        json!({"billing_city": "Praha"}),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(ids(&app.get("/portal/records/meetings", Some(&token)).await), [seed.meetings[1].as_str()]);
    let before = app.get(&format!("/portal/records/meetings/{}", seed.meetings[0]), Some(&token)).await;
    assert_eq!(before.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_customer_never_reaches_another_customer_s_records() {
    let app = spawn_app().await;
    let seed = seed(&app).await;
    let patricie = verified_customer(&app, &seed.admin, &seed.patricie, "Patricie Nováková").await;
    // A second customer with two approved quotes of their own.
    let karel_email = unique_email("karel");
    let karel_contact = create(
        &app,
        &seed.admin,
        "contacts",
        json!({"last_name": "Dvořák", "email": karel_email,
        "billing_country": "SK", "billing_city": "Praha"}),
    )
    .await;
    for subject in ["Karel's first", "Karel's second"] {
        create(
            &app,
            &seed.admin,
            "quotes",
            json!({"subject": subject, "stage": "Approved", "contact_id": karel_contact}),
        )
        .await;
    }
    let karel = verified_customer(&app, &seed.admin, &karel_email, "Karel Dvořák").await;

    // By id: another's record reads exactly like one that does not exist.
    let foreign = app.get(&format!("/portal/records/quotes/{}", seed.approved), Some(&karel)).await;
    let missing = app.get(&format!("/portal/records/quotes/{}", ulid::Ulid::generate()), Some(&karel)).await;
    assert_eq!((foreign.status, &foreign.body["code"]), (StatusCode::NOT_FOUND, &missing.body["code"]));
    assert_eq!(foreign.body["detail"], missing.body["detail"]);
    let other_contact = app.get(&format!("/portal/records/contacts/{}", seed.contact), Some(&karel)).await;
    assert_eq!(other_contact.status, StatusCode::NOT_FOUND);

    // By filter and sort: a field not shown is refused exactly like one that does not exist.
    let by_contact =
        app.get(&format!("/portal/records/quotes?contact_id={}", seed.contact), Some(&karel)).await;
    let by_nothing = app.get("/portal/records/quotes?colour=red", Some(&karel)).await;
    assert_eq!(by_contact.status, StatusCode::BAD_REQUEST);
    assert_eq!(by_contact.body["errors"][0]["message"], by_nothing.body["errors"][0]["message"]);
    // A choice the field lacks answers like a hidden one (an empty page), so internal stages
    // can't be told from made-up ones; neither lists the options.
    for stage in ["Secret", "Negotiation"] {
        let probed = app.get(&format!("/portal/records/quotes?stage={stage}"), Some(&karel)).await;
        assert_eq!((probed.status, ids(&probed).len()), (StatusCode::OK, 0), "{stage}: {:?}", probed.body);
    }
    let modules = app.get("/portal/modules", Some(&karel)).await;
    assert!(!modules.body.to_string().contains("Negotiation"), "{:?}", modules.body);
    let by_hidden_date = app.get("/portal/records/quotes?valid_until=2027-01-31", Some(&karel)).await;
    assert_eq!(by_hidden_date.status, StatusCode::BAD_REQUEST);
    let sorted_hidden = app.get("/portal/records/quotes?sort=valid_until", Some(&karel)).await;
    assert_eq!(sorted_hidden.status, StatusCode::BAD_REQUEST);
    // A shown field filters within the customer's own records only.
    let approved = app.get("/portal/records/quotes?stage=Approved&limit=1", Some(&karel)).await;
    assert_eq!(approved.status, StatusCode::OK, "{:?}", approved.body);
    assert_eq!(ids(&approved).len(), 1);

    // By cursor: Karel's cursor opens for Karel's quotes only.
    let cursor = approved.body["next_cursor"].as_str().expect("a second page").to_owned();
    let next = app
        .get(&format!("/portal/records/quotes?stage=Approved&limit=1&cursor={cursor}"), Some(&karel))
        .await;
    assert_eq!((next.status, ids(&next).len()), (StatusCode::OK, 1));
    let mut seen = ids(&approved);
    seen.extend(ids(&next));
    assert!(!seen.contains(&seed.approved) && !seen.contains(&seed.foreign_quote));
    // One character in the middle changed (the last may carry only padding bits, and may be the
    // replacement already).
    let middle = cursor.len() / 2;
    let other = if &cursor[middle..=middle] == "A" { "B" } else { "A" };
    let tampered = format!("{}{other}{}", &cursor[..middle], &cursor[middle + 1..]);
    for (path, token) in [
        (format!("/portal/records/quotes?cursor={cursor}"), &patricie),
        (format!("/portal/records/products?cursor={cursor}"), &karel),
        (format!("/portal/records/quotes?cursor={tampered}"), &karel),
    ] {
        let refused = app.get(&path, Some(token)).await;
        assert_eq!(
            (refused.status, refused.body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_cursor")),
            "{path}"
        );
    }
    // The cursor carries nothing readable (index keys would hold the region or sort values).
    assert!(!cursor.contains("quotes") && !cursor.contains(&karel_contact));

    // Tokens of the other kind never cross.
    let staff_on_portal = app.get("/portal/records/quotes", Some(&seed.admin)).await;
    assert_eq!(staff_on_portal.status, StatusCode::FORBIDDEN);
    for path in ["/records/quotes", "/admin/portal/modules", "/admin/portal/preview?user_id=x&module=quotes"]
    {
        assert_eq!(app.get(path, Some(&karel)).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(app.get("/portal/records/quotes", None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn another_person_s_address_never_links_to_their_contact() {
    let app = spawn_app().await;
    let seed = seed(&app).await;
    // Without verification anyone may register with Patricie's address: they get a new contact.
    app.set_policy(
        &seed.admin,
        json!({"notify_on_registration": false, "admin_approval": "none",
        "device_confirmation": false, "email_verification": "none"}),
    )
    .await;
    let registered = app
        .post(
            "/registrations",
            json!({"email": seed.patricie, "password": PASSWORD, "name": "Not Patricie",
            "account_type": "company", "company_name": "Impostor s.r.o.", "phone": "+420601234567"}),
            None,
        )
        .await;
    assert_eq!(registered.status, StatusCode::ACCEPTED, "{:?}", registered.body);
    let impostor = signed_in(&app, &seed.patricie).await;
    assert!(ids(&app.get("/portal/records/quotes", Some(&impostor)).await).is_empty());
    let own = app.get("/portal/records/contacts", Some(&impostor)).await;
    let own_id = ids(&own).pop().unwrap_or_else(|| panic!("a contact of their own: {:?}", own.body));
    assert_ne!(own_id, seed.contact);
    assert_eq!(
        (
            own.body["items"][0]["fields"]["first_name"].as_str(),
            own.body["items"][0]["fields"]["last_name"].as_str()
        ),
        (Some("Not"), Some("Patricie"))
    );
    // The new contact holds the registration: its company as an account record, its phone.
    let contact = app.get(&format!("/records/contacts/{own_id}"), Some(&seed.admin)).await;
    assert_eq!(contact.body["fields"]["phone"], "+420601234567");
    assert_eq!(contact.body["origin"].as_str().map(|origin| origin.starts_with("portal:")), Some(true));
    let company = app
        .get(
            &format!("/records/accounts/{}", contact.body["fields"]["account_id"].as_str().unwrap_or("-")),
            Some(&seed.admin),
        )
        .await;
    assert_eq!(company.body["fields"]["name"], "Impostor s.r.o.");

    // A verified address with two unlinked contacts is ambiguous: a new contact too.
    let twice = unique_email("twice");
    for name in ["First", "Second"] {
        create(&app, &seed.admin, "contacts", json!({"last_name": name, "email": twice})).await;
    }
    let token = verified_customer(&app, &seed.admin, &twice, "Tomáš Dvojitý").await;
    let own = app.get("/portal/records/contacts", Some(&token)).await;
    assert_eq!(own.body["items"][0]["fields"]["last_name"], "Dvojitý");
}

#[tokio::test]
async fn concurrent_first_requests_link_one_contact() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    seed_portal(&app, &admin).await;
    let email = app.active_customer(&admin, false).await;
    let token = signed_in(&app, &email).await;
    let answers = join_all((0..8).map(|_| app.get("/portal/records/contacts", Some(&token)))).await;
    let linked: Vec<Vec<String>> = answers
        .iter()
        .map(|answer| {
            assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
            ids(answer)
        })
        .collect();
    assert!(linked.windows(2).all(|pair| pair[0] == pair[1]), "{linked:?}");
    let contacts = app
        .get(&format!("/records/contacts?email={}", crate::support::urlencode(&email)), Some(&admin))
        .await;
    assert_eq!(ids(&contacts), linked[0], "exactly one contact was made");
}

#[tokio::test]
async fn an_approved_customer_is_linked_at_approval_and_relinked_by_staff() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    seed_portal(&app, &admin).await;
    app.set_policy(
        &admin,
        json!({"notify_on_registration": false, "admin_approval": "all",
        "device_confirmation": false, "email_verification": "none"}),
    )
    .await;
    let email = unique_email("approved");
    assert_eq!(app.register(&email, "person").await.status, StatusCode::ACCEPTED);
    let id = app.account_id(&email).await;
    let approved = app.post(&format!("/admin/registrations/{id}/approve"), json!({}), Some(&admin)).await;
    assert_eq!(approved.status, StatusCode::OK, "{:?}", approved.body);
    let first = approved.body["contact_id"].as_str().expect("linked at approval").to_owned();

    // A linked contact can't be deleted; staff move the customer to another contact first.
    let refused =
        app.request(Method::DELETE, &format!("/records/contacts/{first}"), None, Some(&admin)).await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (StatusCode::CONFLICT, Some("contact_linked"))
    );
    let second = create(&app, &admin, "contacts", json!({"last_name": "Lee", "billing_city": "Brno"})).await;
    let link = |contact: &str| json!({"contact_id": contact});
    let relinked = app
        .request(Method::PUT, &format!("/admin/customers/{id}/contact"), Some(link(&second)), Some(&admin))
        .await;
    assert_eq!(
        (relinked.status, relinked.body["contact_id"].as_str()),
        (StatusCode::OK, Some(second.as_str()))
    );
    let token = signed_in(&app, &email).await;
    assert_eq!(ids(&app.get("/portal/records/contacts", Some(&token)).await), [second.as_str()]);
    let freed = app.request(Method::DELETE, &format!("/records/contacts/{first}"), None, Some(&admin)).await;
    assert_eq!(freed.status, StatusCode::NO_CONTENT, "{:?}", freed.body);

    // No second customer on a linked contact; no contact that does not exist.
    let other = app.active_customer(&admin, false).await;
    let other_id = app.account_id(&other).await;
    let taken = app
        .request(
            Method::PUT,
            &format!("/admin/customers/{other_id}/contact"),
            Some(link(&second)),
            Some(&admin),
        )
        .await;
    assert_eq!((taken.status, taken.body["code"].as_str()), (StatusCode::CONFLICT, Some("contact_linked")));
    let nowhere = app
        .request(Method::PUT, &format!("/admin/customers/{id}/contact"), Some(link(&first)), Some(&admin))
        .await;
    assert_eq!(nowhere.status, StatusCode::BAD_REQUEST, "{:?}", nowhere.body);
    let agent = app.staff_token(portico::domain::BuiltinRole::FieldAgent).await;
    let forbidden = app
        .request(Method::PUT, &format!("/admin/customers/{id}/contact"), Some(link(&second)), Some(&agent))
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);

    // A customer who leaves (here: disabled) is unlinked, and their contact can then go.
    let disabled = app.post(&format!("/admin/customers/{id}/disable"), json!({}), Some(&admin)).await;
    assert_eq!(disabled.status, StatusCode::OK, "{:?}", disabled.body);
    let unlink = format!("/admin/customers/{id}/contact");
    assert_eq!(app.request(Method::DELETE, &unlink, None, Some(&admin)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.request(Method::DELETE, &unlink, None, Some(&admin)).await.status, StatusCode::NOT_FOUND);
    let gone = app.request(Method::DELETE, &format!("/records/contacts/{second}"), None, Some(&admin)).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{:?}", gone.body);
}

#[tokio::test]
async fn the_preview_explains_an_exposed_and_a_hidden_record() {
    let app = spawn_app().await;
    let seed = seed(&app).await;
    verified_customer(&app, &seed.admin, &seed.patricie, "Patricie Nováková").await;
    let user_id = app.account_id(&seed.patricie).await;
    let preview =
        app.get(&format!("/admin/portal/preview?user_id={user_id}&module=quotes"), Some(&seed.admin)).await;
    assert_eq!(preview.status, StatusCode::OK, "{:?}", preview.body);
    let records = preview.body["records"].as_array().cloned().unwrap_or_default();
    let about =
        |id: &str| records.iter().find(|record| record["record"]["id"] == id).cloned().unwrap_or(Value::Null);
    let shown = about(&seed.approved);
    assert_eq!(
        (shown["exposure"]["exposed"].as_bool(), shown["exposure"]["criteria"]["held"].as_bool()),
        (Some(true), Some(true))
    );
    let hidden = about(&seed.negotiation);
    assert_eq!(hidden["exposure"]["exposed"], false);
    let leaves = hidden["exposure"]["criteria"]["children"].as_array().cloned().unwrap_or_default();
    assert_eq!(leaves[0]["actual"], "Negotiation");
    assert_eq!((leaves[0]["held"].as_bool(), leaves[1]["held"].as_bool()), (Some(false), Some(false)));
    assert!(about(&seed.foreign_quote).is_null(), "another customer's quote is no candidate");
    // One record by id, the "why not?" question.
    let product = app
        .get(
            &format!(
                "/admin/portal/preview?user_id={user_id}&module=products&record_id={}",
                seed.products[2]
            ),
            Some(&seed.admin),
        )
        .await;
    let explained = &product.body["records"][0]["exposure"]["criteria"];
    assert_eq!(
        (explained["held"].as_bool(), explained["expected"].as_str(), explained["actual"].as_str()),
        (Some(false), Some("CZ"), Some("SK"))
    );
}

#[tokio::test]
async fn exposure_is_validated_and_versioned_on_save() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_token().await;
    let invalid = configure(&app, &admin, "quotes", json!({"exposure": "related", "lookup": "subject",
        "fields": ["subject", "colour"], "criteria": {"all": [{"field": "stage", "op": "eq", "value": "Approved?"}]}})).await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST, "{:?}", invalid.body);
    let fields: Vec<&str> = error_fields(&invalid.body);
    assert_eq!(fields, ["lookup", "fields[1]", "criteria.all[0].value"]);
    let unknown =
        configure(&app, &admin, "unicorns", json!({"exposure": "public", "fields": ["name"]})).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);

    let definition = json!({"exposure": "public", "fields": ["name", "price"]});
    let saved = configure(&app, &admin, "products", definition.clone()).await;
    assert_eq!(
        (saved.status, saved.body["version"].as_u64(), saved.body["read"].as_str()),
        (StatusCode::OK, Some(1), Some("module_filtered"))
    );
    let again = configure(&app, &admin, "products", definition.clone()).await;
    assert_eq!((again.status, again.body["code"].as_str()), (StatusCode::CONFLICT, Some("exists")));
    let keyed = json!({"exposure": "public", "fields": ["name", "price"],
        "criteria": {"field": "region", "op": "eq", "field_ref": "$user.billing_country"}});
    let replace = |version: &str| {
        let app = &app;
        let admin = &admin;
        let keyed = keyed.clone();
        let version = version.to_owned();
        async move {
            let request = app
                .http
                .put(format!("{}/admin/portal/modules/products", app.base))
                .bearer_auth(admin)
                .header("if-match", version)
                .json(&keyed);
            let response = request.send().await.expect("sent");
            (response.status(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = replace("\"1\"").await;
    assert_eq!(
        (status, body["version"].as_u64(), body["read"].as_str(), body["read_key"].as_str()),
        (StatusCode::OK, Some(2), Some("key_index"), Some("region = $user.billing_country"))
    );
    let (stale, _) = replace("1").await;
    assert_eq!(stale, StatusCode::PRECONDITION_FAILED);

    // A masked field never reaches the portal, even a customer's own.
    let field = app
        .post(
            "/admin/contact-fields",
            json!({"name": "credit_note", "field_type": {"type": "text"}, "projects": [], "masked": true}),
            Some(&admin),
        )
        .await;
    assert!(field.status.is_success(), "{:?}", field.body);
    let masked = configure(
        &app,
        &admin,
        "contacts",
        json!({"exposure": "primary", "fields": ["last_name", "credit_note"]}),
    )
    .await;
    assert_eq!(
        (masked.status, masked.body["errors"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("fields[1]"))
    );
    let agent = app.staff_token(portico::domain::BuiltinRole::FieldAgent).await;
    assert_eq!(configure(&app, &agent, "products", definition).await.status, StatusCode::FORBIDDEN);
    let removed = app.request(Method::DELETE, "/admin/portal/modules/products", None, Some(&admin)).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/admin/portal/modules/products", Some(&admin)).await.status, StatusCode::NOT_FOUND);
}

/// `make bench`: seed 001's exposures over modules of 1 000 and 100 000 records each
/// (`PORTAL_BENCH_SIZES`), seeded with BatchWriteItem: DynamoDB requests per page and read
/// amplification (items DynamoDB read, its `ScannedCount`, per item returned) over the first
/// pages, with products also exposed by a criterion no index serves, for comparison. Moto
/// answers a GSI query by walking its whole table, so only the counts mean anything here.
#[tokio::test]
#[ignore = "benchmark: run with `make bench`"]
async fn portal_benchmark() {
    let sizes: Vec<usize> = std::env::var("PORTAL_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,100000".into())
        .split(',')
        .filter_map(|size| size.trim().parse().ok())
        .collect();
    println!(
        "| exposure | read | records per module | pages read | requests per page | items read | items returned | read amplification |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for size in sizes {
        portal_benchmark_at(size).await;
    }
}

async fn portal_benchmark_at(size: usize) {
    use futures::stream::{self, StreamExt};
    use portico::criteria::Value as V;
    use portico::domain::contact_fields::ModuleSchema;
    use portico::domain::modules::{Actor, CrmRecord, Origin, module};
    use portico::domain::portal::PortalModuleDefinition;
    use portico::records::portal::{Customer, PortalConfig, PortalList};
    use portico::store::portal::StoredPortalModule;
    use ulid::Ulid;

    let app = spawn_app().await;
    let store = &app.state.store;
    let (owner, contact_id) = (Ulid::generate(), Ulid::generate());
    let record = |module_name: &str, id: Ulid, fields: Vec<(&str, V)>| {
        let now = chrono::Utc::now();
        CrmRecord {
            id,
            module: module(module_name).expect("module"),
            owner_id: owner,
            version: 1,
            fields: fields.into_iter().map(|(name, value)| (name.to_owned(), value)).collect(),
            created_at: now,
            updated_at: now,
            updated_by: Actor::System,
            origin: Origin::Import,
        }
    };
    let text = |value: String| V::String(value);
    let seeded = std::time::Instant::now();
    let mut by_module: Vec<(&str, Vec<CrmRecord>)> = vec![(
        "contacts",
        vec![record(
            "contacts",
            contact_id,
            vec![
                ("last_name", text("Nováková".into())),
                ("billing_country", text("R7".into())),
                ("billing_city", text("City 42".into())),
            ],
        )],
    )];
    // The customer's 10 quotes (6 approved, 2 in negotiation, 2 drafts) among the module's.
    let stages = ["Approved", "Approved", "Approved", "Negotiation", "Draft"];
    let others: Vec<String> = (0..size.div_ceil(10)).map(|_| Ulid::generate().to_string()).collect();
    let quotes = (0..size)
        .map(|i| {
            let (contact, stage) = match i {
                0..6 => (contact_id.to_string(), "Approved"),
                6..8 => (contact_id.to_string(), "Negotiation"),
                8..10 => (contact_id.to_string(), "Draft"),
                _ => (others[i % others.len()].clone(), stages[i % stages.len()]),
            };
            record(
                "quotes",
                Ulid::generate(),
                vec![
                    ("subject", text(format!("Quote {i}"))),
                    ("stage", text(stage.into())),
                    ("contact_id", text(contact)),
                ],
            )
        })
        .collect();
    by_module.push(("quotes", quotes));
    let products = (0..size)
        .map(|i| {
            record(
                "products",
                Ulid::generate(),
                vec![("name", text(format!("Product {i:06}"))), ("region", text(format!("R{}", i % 50)))],
            )
        })
        .collect();
    by_module.push(("products", products));
    let meetings = (0..size)
        .map(|i| {
            record(
                "meetings",
                Ulid::generate(),
                vec![("title", text(format!("Visit {i}"))), ("location", text(format!("City {}", i % 100)))],
            )
        })
        .collect();
    by_module.push(("meetings", meetings));
    for (name, records) in &by_module {
        let schema = ModuleSchema::builtin(module(name).expect("module"));
        stream::iter(records.chunks(250))
            .for_each_concurrent(8, |chunk| {
                let schema = &schema;
                async move { store.put_records_in_bulk(chunk, schema).await.expect("seed") }
            })
            .await;
    }
    eprintln!("seeded {} records per module in {:.1} s", size, seeded.elapsed().as_secs_f64());

    let exposures = [
        (
            "quotes",
            "related: stage Approved, not Negotiation",
            json!({"exposure": "related", "lookup": "contact_id",
            "fields": ["subject", "stage"], "criteria": {"all": [{"field": "stage", "op": "eq", "value": "Approved"},
            {"field": "stage", "op": "ne", "value": "Negotiation"}]}}),
        ),
        (
            "products",
            "public: region = $user.billing_country",
            json!({"exposure": "public", "fields": ["name"],
            "criteria": {"field": "region", "op": "eq", "field_ref": "$user.billing_country"}}),
        ),
        (
            "meetings",
            "public: location = $user.billing_city",
            json!({"exposure": "public", "fields": ["title"],
            "sort": "created_at",
            "criteria": {"field": "location", "op": "starts_with", "field_ref": "$user.billing_city"}}),
        ),
    ];
    // Meetings are first read without the key (starts_with is no equality), then with it.
    let mut runs: Vec<(&str, String, Value)> = exposures
        .iter()
        .map(|(module, label, definition)| (*module, (*label).to_owned(), definition.clone()))
        .collect();
    runs[2].1 = "public: location starts with $user.billing_city (no index serves it)".into();
    runs.push(("meetings", "public: location = $user.billing_city".into(), json!({"exposure": "public",
        "fields": ["title", "starts_at"], "criteria": {"field": "location", "op": "eq", "field_ref": "$user.billing_city"}})));
    for (module_name, label, definition) in runs {
        let definition: PortalModuleDefinition = serde_json::from_value(definition).expect("definition");
        let _ = store.delete_portal_module(module_name).await;
        let stored = StoredPortalModule {
            module: module_name.into(),
            version: 1,
            definition,
            updated_at: chrono::Utc::now(),
        };
        assert!(store.put_portal_module(&stored).await.expect("saved"));
        let config = PortalConfig::load(store).await.expect("config");
        let exposed = config.module(module_name).expect("exposed");
        let contact = config.contact(store, contact_id).await.expect("read").expect("contact");
        let customer = Customer { account_id: Ulid::generate(), contact };
        let list = PortalList::parse(&[], exposed, &config.custom).expect("plan");
        let (mut pages, mut queries, mut scanned, mut returned, mut start) = (0, 0, 0, 0, None);
        while pages < 4 {
            let page = list.read_page(store, &config, exposed, &customer, 25, start).await.expect("page");
            pages += 1;
            queries += page.queries;
            scanned += page.scanned;
            returned += page.items.len();
            start = page.next;
            if start.is_none() {
                break;
            }
        }
        let read = match exposed.read {
            portico::domain::portal::PortalRead::ContactRecords => "contact index",
            portico::domain::portal::PortalRead::Key(_) => "key index",
            portico::domain::portal::PortalRead::Module => "module, filtered",
            portico::domain::portal::PortalRead::OwnContact => "own contact",
        };
        println!(
            "| {label} | {read} | {size} | {pages} | {:.1} | {scanned} | {returned} | {:.2} |",
            f64::from(queries) / f64::from(pages),
            f64::from(scanned) / returned.max(1) as f64
        );
    }
}
