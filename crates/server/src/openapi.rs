//! The API described for machines and people: `GET /openapi.json`, generated from the very types
//! and handler annotations the routes use (so it cannot drift from them), and `GET /docs`, a page
//! that renders it without fetching anything from elsewhere (servers often have no internet).

use std::sync::Arc;

use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi};

use crate::error::{OpenAiErrorBody, PlainErrorBody, TeiErrorBody};

/// The description's parts no handler carries: title, tags, the error shapes, the key scheme.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "embedd",
        description = "One embedding service behind the APIs clients already speak: OpenAI, \
            Ollama, Hugging Face text-embeddings-inference (TEI), the seed's own route and its \
            sentence-transformers service. Each dialect answers errors in its own shape."
    ),
    tags(
        (name = "OpenAI", description = "OpenAI's embeddings and models API; any model by name"),
        (name = "Seed", description = "embedd's own route, with the fallback chain and every output kind"),
        (name = "Ollama", description = "Ollama's API; `{\"error\": \"...\"}` errors"),
        (name = "TEI", description = "text-embeddings-inference's API, on the default model; TEI's errors and statuses"),
        (name = "sentence-transformers service", description = "The seed's Python service's API"),
        (name = "Operations", description = "Liveness, readiness and metrics"),
        (name = "Pages", description = "What a person reads: the status page and this description")
    ),
    // Registered by hand in `router`: the path holds a wildcard (model names contain `/`),
    // which the description writes as a plain parameter.
    paths(crate::openai::get_model),
    components(schemas(OpenAiErrorBody, PlainErrorBody, TeiErrorBody)),
    modifiers(&BearerKeys)
)]
struct Description;

/// Declares the optional `Authorization: Bearer` key: every operation may go without (a server
/// started without keys, or a public route) or with one.
struct BearerKeys;

impl Modify for BearerKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "Needed when the server has keys (`server.api_keys_env` or \
                         `server.api_keys_file`), on every route but `server.public_routes`.",
                    ))
                    .build(),
            ),
        );
        openapi.security = Some(vec![
            SecurityRequirement::default(),
            SecurityRequirement::new("api_key", Vec::<String>::new()),
        ]);
    }
}

/// The description before the routes add their paths.
pub fn base() -> utoipa::openapi::OpenApi {
    Description::openapi()
}

/// The errors of the OpenAI-shaped routes (OpenAI and the seed's).
#[derive(IntoResponses)]
pub enum OpenAiErrors {
    /// The request is malformed or a value is wrong: `param` names the field.
    #[response(status = 400)]
    BadRequest(OpenAiErrorBody),
    /// No key, or not one of the server's.
    #[response(status = 401)]
    Unauthorized(OpenAiErrorBody),
    /// No model of that name.
    #[response(status = 404)]
    NotFound(OpenAiErrorBody),
    /// The body did not arrive within `server.body_timeout`.
    #[response(status = 408)]
    BodyTimeout(OpenAiErrorBody),
    /// The body is larger than the server accepts.
    #[response(status = 413)]
    TooLarge(OpenAiErrorBody),
    /// The key's budget is used up; `Retry-After` says when to try again.
    #[response(status = 429)]
    RateLimited(OpenAiErrorBody),
    /// A remote provider answered with an error.
    #[response(status = 502)]
    BadGateway(OpenAiErrorBody),
    /// No model could serve (down, circuit open), or the queue is full.
    #[response(status = 503)]
    Unavailable(OpenAiErrorBody),
    /// A model did not answer in time.
    #[response(status = 504)]
    Timeout(OpenAiErrorBody),
}

/// The errors of the Ollama and sentence-transformers-service routes: OpenAI's statuses,
/// `{"error": "..."}` bodies.
#[derive(IntoResponses)]
pub enum PlainErrors {
    /// The request is malformed or a value is wrong.
    #[response(status = 400)]
    BadRequest(PlainErrorBody),
    /// No key, or not one of the server's.
    #[response(status = 401)]
    Unauthorized(PlainErrorBody),
    /// No model of that name.
    #[response(status = 404)]
    NotFound(PlainErrorBody),
    /// The key's budget is used up; `Retry-After` says when to try again.
    #[response(status = 429)]
    RateLimited(PlainErrorBody),
    /// The body did not arrive within `server.body_timeout`.
    #[response(status = 408)]
    BodyTimeout(PlainErrorBody),
    /// The body is larger than the server accepts.
    #[response(status = 413)]
    TooLarge(PlainErrorBody),
    /// A remote provider answered with an error.
    #[response(status = 502)]
    BadGateway(PlainErrorBody),
    /// No model could serve, or the queue is full.
    #[response(status = 503)]
    Unavailable(PlainErrorBody),
    /// A model did not answer in time.
    #[response(status = 504)]
    Timeout(PlainErrorBody),
}

/// The errors of the TEI routes, with TEI's statuses.
#[derive(IntoResponses)]
pub enum TeiErrors {
    /// No key, or not one of the server's (`Unauthorized`).
    #[response(status = 401)]
    Unauthorized(TeiErrorBody),
    /// The body did not arrive within `server.body_timeout` (`Validation`).
    #[response(status = 408)]
    BodyTimeout(TeiErrorBody),
    /// An input, or the request, is over a size limit (`Validation`).
    #[response(status = 413)]
    TooLarge(TeiErrorBody),
    /// The request is malformed or a value is wrong (`Validation`).
    #[response(status = 422)]
    Invalid(TeiErrorBody),
    /// The queue is full or the key's budget is used up (`Overloaded`).
    #[response(status = 429)]
    Overloaded(TeiErrorBody),
    /// The model failed (`Backend`).
    #[response(status = 424)]
    Backend(TeiErrorBody),
    /// No model can serve (`Unhealthy`).
    #[response(status = 503)]
    Unhealthy(TeiErrorBody),
}

/// The finished description, serialised once when the router is built.
#[derive(Clone)]
pub struct Spec(pub Arc<str>);

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "Pages",
    summary = "This description (OpenAPI 3)",
    responses((status = 200, description = "The description", content_type = "application/json", body = Object))
)]
pub async fn spec(Extension(spec): Extension<Spec>) -> Response {
    ([(CONTENT_TYPE, "application/json")], spec.0.to_string()).into_response()
}

/// `GET /docs`.
#[utoipa::path(
    get,
    path = "/docs",
    operation_id = "docs",
    tag = "Pages",
    summary = "The description, rendered for a person",
    responses((status = 200, description = "The page", content_type = "text/html", body = String))
)]
pub async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}
