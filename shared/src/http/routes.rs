//! `portico::routes!`: `utoipa_axum::routes!` whose OpenAPI parts exist only where the document
//! is generated.
//!
//! The functions serve the committed OpenAPI document (`functions/openapi/openapi.json`), so a
//! Lambda needs of each handler only its path, its methods and the handler itself. Built with
//! `utoipa_axum::routes!`, every cold start also built every operation and schema of the
//! function's part of the document and threw it away (2 ms of `admin`'s init), and every binary
//! linked that code. This macro routes the same way in every build — each handler's `path()`
//! and `methods()` from its `#[utoipa::path]` — so the tests exercise the routing the Lambdas
//! run; only with the `openapi` feature does it also build the operations and schemas. The
//! generator (`portico-openapi`'s `generate` feature, on in the tests) turns it on; its
//! golden-file test checks the document. Without it nothing calls the rest of `#[utoipa::path]`'s
//! code, and the linker drops it.
//!
//! It relies on the `@path` arm of `utoipa_axum::routes!`, which resolves `module::handler` to
//! the `__path_handler` type `#[utoipa::path]` generates, as utoipa-axum's own macro does
//! (`Cargo.lock` pins it; a change there fails to compile, it cannot route wrongly). Callers
//! depend on `axum`, `utoipa` and `utoipa-axum`, as for `utoipa_axum::routes!`.

/// The handlers of one path, as `utoipa_axum::routes!(a, b)` takes them, for
/// `OpenApiRouter::routes`.
#[macro_export]
macro_rules! routes {
    ($($handler:path),+ $(,)?) => {{
        use ::utoipa_axum::PathItemExt as _;
        #[allow(unused_mut)]
        let mut schemas =
            ::std::vec::Vec::<(::std::string::String, ::utoipa::openapi::RefOr<::utoipa::openapi::schema::Schema>)>::new();
        let mut paths = ::utoipa::openapi::path::Paths::new();
        let mut method_router = ::axum::routing::MethodRouter::new();
        $(
            // `paste!` turns the `path` fragment back into tokens the `@path` arm can match.
            let (path, methods) = ::utoipa_axum::paste! {(
                ::utoipa_axum::routes!(@path [path()] of $handler),
                ::utoipa_axum::routes!(@path [methods()] of $handler),
            )};
            for method in &methods {
                method_router = method_router.on(method.to_method_filter(), $handler);
            }
            paths.add_path_operation(path, methods, $crate::__route_operation!($handler, schemas));
        )+
        (schemas, paths, method_router)
    }};
}

/// The handler's OpenAPI operation, its tags added and its schemas pushed onto `$schemas`, as
/// `utoipa_axum::routes!` builds them.
#[cfg(feature = "openapi")]
#[doc(hidden)]
#[macro_export]
macro_rules! __route_operation {
    ($handler:path, $schemas:ident) => {
        ::utoipa_axum::paste! {{
            let mut operation = ::utoipa_axum::routes!(@path [operation()] of $handler);
            let tags = ::utoipa_axum::routes!(@path [tags()] of $handler);
            ::utoipa_axum::routes!(@path [schemas(&mut $schemas)] of $handler);
            if !tags.is_empty() {
                operation.tags.get_or_insert_with(::std::vec::Vec::new).extend(tags.iter().map(::std::string::ToString::to_string));
            }
            operation
        }}
    };
}

/// Without the document: an empty operation, no schemas.
#[cfg(not(feature = "openapi"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __route_operation {
    ($handler:path, $schemas:ident) => {
        ::utoipa::openapi::path::Operation::new()
    };
}
