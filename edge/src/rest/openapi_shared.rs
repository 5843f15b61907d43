//! Answers every authenticated REST operation can give, added to the
//! document in one place: 401 with `WWW-Authenticate`, 429 with
//! `Retry-After` on writes (the rate limit), 503 and 504 (the core), and
//! 404 for a first path segment that is no language code.

use utoipa::Modify;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response, ResponseBuilder};

/// Adds the shared answers to every operation that needs a bearer token.
pub struct SharedResponses;

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let under_lang = path.starts_with("/{lang}/");
            let reads = [&mut item.get].into_iter().flatten();
            for operation in reads.filter(|operation| needs_token(operation)) {
                add_core_answers(operation, under_lang);
            }
            let writes = [&mut item.post, &mut item.put, &mut item.delete]
                .into_iter()
                .flatten();
            for operation in writes.filter(|operation| needs_token(operation)) {
                add_core_answers(operation, under_lang);
                add(operation, "429", too_many_requests());
            }
        }
    }
}

fn needs_token(operation: &Operation) -> bool {
    operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty())
}

fn add_core_answers(operation: &mut Operation, under_lang: bool) {
    if under_lang {
        let not_found = error("The first path segment is no language code").build();
        operation
            .responses
            .responses
            .entry("404".to_owned())
            .or_insert(RefOr::T(not_found));
    }
    add(operation, "401", unauthorized());
    add(operation, "503", error("The core is unreachable").build());
    add(
        operation,
        "504",
        error("The core did not answer in time").build(),
    );
}

fn add(operation: &mut Operation, status: &str, response: Response) {
    operation
        .responses
        .responses
        .insert(status.to_owned(), RefOr::T(response));
}

/// A response with an `ErrorBody`.
fn error(description: &str) -> ResponseBuilder {
    let body = Content::new(Some(Ref::from_schema_name("ErrorBody")));
    ResponseBuilder::new()
        .description(description)
        .content("application/json", body)
}

fn unauthorized() -> Response {
    let scheme = HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String).build()))
        .description(Some("Always `Bearer`"))
        .build();
    error("No usable `Authorization: Bearer <jwt>` header, or a token the core refused")
        .header("WWW-Authenticate", scheme)
        .build()
}

fn too_many_requests() -> Response {
    let seconds = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .build();
    let retry_after = HeaderBuilder::new()
        .schema(Some(seconds))
        .description(Some("Seconds until the caller's next write is allowed"))
        .build();
    error("The caller's REST writes are over the rate set by the operator")
        .header("Retry-After", retry_after)
        .build()
}
