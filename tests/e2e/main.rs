//! End-to-end tests: each test gets its own DynamoDB table in a shared moto server and the
//! merged routers on a random port, and walks a flow over HTTP as a client would.
//! Run through `make test` (which starts moto and sets PORTICO_TEST_MOTO_ENDPOINT).

mod admin;
mod bad_input;
mod bounded_waits;
mod contact_fields;
mod contract;
mod cost;
mod criteria_pushdown;
mod customers;
mod forms;
mod function_actions;
mod fuzzing;
mod generated_client;
mod import;
mod labels;
mod lifecycle;
mod links;
mod otp_challenges;
mod otp_rules;
mod passwords;
mod portal;
mod record_access;
mod record_lists;
mod records;
mod registration;
mod roles;
mod round_trips;
mod runtime_protocol;
mod sessions;
mod sign_in;
mod store;
mod support;
mod tracing_spans;
mod users;
mod workflows;
