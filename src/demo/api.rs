//! The demo Web API, shaped like Spotify's: `GET /demo/v1/me/top/artists` with a Bearer access
//! token, answering a fixed list of made-up artists.
//!
//! The extension page calls it straight from the browser, from another origin than the broker's
//! (`localhost` against `127.0.0.1`), so every answer under `/demo/v1` allows any origin and
//! preflights are answered. Any origin is safe here: the API reads only the Bearer token, never
//! cookies.

use super::DemoProvider;
use super::sealed::Kind;
use super::token::AccessGrant;
use crate::query::StrictQuery as Params;
use actix_web::dev::Service;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, guard, web};

/// The scope Spotify requires for top artists and tracks.
const TOP_READ_SCOPE: &str = "user-top-read";
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 50;

#[derive(Debug)]
struct Artist {
    name: &'static str,
    genres: &'static [&'static str],
    popularity: u8,
    id: &'static str,
}

/// Invented artists; any likeness to a real one is a coincidence.
const ARTISTS: &[Artist] = &[
    Artist {
        name: "Marigold Static",
        genres: &["dream pop", "shoegaze"],
        popularity: 81,
        id: "0dEm0aRt1sTmAr1g0ldStc",
    },
    Artist {
        name: "Quiet Harbor Collective",
        genres: &["ambient", "modern classical"],
        popularity: 74,
        id: "0dEm0aRt1sTqU1eThArb0r",
    },
    Artist {
        name: "Juniper and the Tidewalkers",
        genres: &["indie folk"],
        popularity: 69,
        id: "0dEm0aRt1sTjUn1pErTdW",
    },
    Artist {
        name: "Neon Orchard",
        genres: &["synthwave", "electropop"],
        popularity: 66,
        id: "0dEm0aRt1sTnE0n0rchRd",
    },
    Artist {
        name: "Saffron Radio",
        genres: &["afrobeat", "funk"],
        popularity: 61,
        id: "0dEm0aRt1sTsAffr0nRd0",
    },
    Artist {
        name: "Lumen Kestrel",
        genres: &["art rock"],
        popularity: 57,
        id: "0dEm0aRt1sTlUmEnKstRl",
    },
    Artist {
        name: "The Paper Comets",
        genres: &["power pop", "indie rock"],
        popularity: 52,
        id: "0dEm0aRt1sTpApErC0mEt",
    },
    Artist {
        name: "Okapi Sundays",
        genres: &["jazz fusion"],
        popularity: 44,
        id: "0dEm0aRt1sT0kAp1SnDys",
    },
];

/// Errors in Spotify's Web API shape: `{"error":{"status":N,"message":"..."}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApiError {
    NoToken,
    NotBearer,
    InvalidToken,
    ExpiredToken,
    InsufficientScope,
    BadParameter(&'static str),
    NotFound,
}

impl ApiError {
    fn status(self) -> StatusCode {
        match self {
            ApiError::NoToken
            | ApiError::NotBearer
            | ApiError::InvalidToken
            | ApiError::ExpiredToken => StatusCode::UNAUTHORIZED,
            ApiError::InsufficientScope => StatusCode::FORBIDDEN,
            ApiError::BadParameter(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound => StatusCode::NOT_FOUND,
        }
    }

    fn message(self) -> &'static str {
        match self {
            ApiError::NoToken => "No token provided",
            ApiError::NotBearer => "Only valid bearer authentication supported",
            ApiError::InvalidToken => "Invalid access token",
            ApiError::ExpiredToken => "The access token expired",
            ApiError::InsufficientScope => "Insufficient client scope",
            ApiError::BadParameter(message) => message,
            ApiError::NotFound => "Service not found",
        }
    }

    fn respond(self) -> HttpResponse {
        let status = self.status();
        let mut builder = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            builder.insert_header((
                header::WWW_AUTHENTICATE,
                "Bearer realm=\"demo\", error=\"invalid_token\"",
            ));
        }
        builder.json(serde_json::json!({
            "error": { "status": status.as_u16(), "message": self.message() }
        }))
    }
}

/// Registers `/v1` inside the `/demo` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1")
            .wrap_fn(|req, srv| {
                // Only a page of an allowed origin may read the answers, as a real API that
                // lists its clients' origins would do; `Vary` keeps caches from mixing them.
                let allowed = req.headers().get(header::ORIGIN).cloned().filter(|origin| {
                    let provider = req.app_data::<web::Data<DemoProvider>>();
                    match (provider, origin.to_str()) {
                        (Some(provider), Ok(origin)) => provider.api_allows(origin),
                        _ => false,
                    }
                });
                let answer = srv.call(req);
                async move {
                    let mut answer = answer.await?;
                    let headers = answer.headers_mut();
                    headers.insert(header::VARY, header::HeaderValue::from_static("Origin"));
                    if let Some(origin) = allowed {
                        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                    }
                    Ok(answer)
                }
            })
            // A guard on the resource (not on a route) lets a GET fall through to the routes
            // below instead of ending in 405 here.
            .service(
                web::resource("/{tail:.*}")
                    .guard(guard::Options())
                    .to(preflight),
            )
            .route("/me/top/artists", web::get().to(top_artists))
            .default_service(web::to(|| async { ApiError::NotFound.respond() })),
    );
}

/// `OPTIONS /demo/v1/...`: the CORS preflight for a GET carrying `Authorization`.
async fn preflight() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, OPTIONS"))
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "Authorization, Content-Type",
        ))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
        .finish()
}

/// `GET /demo/v1/me/top/artists?limit=N&offset=M`.
async fn top_artists(provider: web::Data<DemoProvider>, req: HttpRequest) -> HttpResponse {
    match provider.top_artists(&req) {
        Ok(body) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "private, max-age=0"))
            .json(body),
        Err(error) => {
            log::info!("demo API request rejected: {}", error.message());
            error.respond()
        }
    }
}

impl DemoProvider {
    fn top_artists(&self, req: &HttpRequest) -> Result<serde_json::Value, ApiError> {
        let grant = self.access_grant(req)?;
        if !grant.scope.split(' ').any(|s| s == TOP_READ_SCOPE) {
            return Err(ApiError::InsufficientScope);
        }
        let params = Params::parse(req.query_string().as_bytes())
            .map_err(|_| ApiError::BadParameter("A query parameter is repeated"))?;
        let limit = match params.get("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => text
                .parse()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or(ApiError::BadParameter("Invalid limit"))?,
        };
        let offset: usize = match params.get("offset") {
            None => 0,
            Some(text) => text
                .parse()
                .map_err(|_| ApiError::BadParameter("Invalid offset"))?,
        };
        if let Some(range) = params.get("time_range")
            && !["short_term", "medium_term", "long_term"].contains(&range)
        {
            return Err(ApiError::BadParameter("Invalid time range"));
        }
        let items: Vec<serde_json::Value> = ARTISTS
            .iter()
            .skip(offset)
            .take(limit)
            .map(|artist| {
                serde_json::json!({
                    "name": artist.name,
                    "genres": artist.genres,
                    "popularity": artist.popularity,
                    "id": artist.id,
                    "type": "artist",
                    "uri": format!("spotify:artist:{}", artist.id),
                    "external_urls": {
                        "spotify": format!("https://example.invalid/artist/{}", artist.id)
                    },
                })
            })
            .collect();
        Ok(serde_json::json!({
            "items": items,
            "total": ARTISTS.len(),
            "limit": limit,
            "offset": offset,
            "href": null,
            "next": null,
            "previous": null,
        }))
    }

    fn access_grant(&self, req: &HttpRequest) -> Result<AccessGrant, ApiError> {
        let value = req
            .headers()
            .get(header::AUTHORIZATION)
            .ok_or(ApiError::NoToken)?;
        let (scheme, token) = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .ok_or(ApiError::NotBearer)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::NotBearer);
        }
        let grant: AccessGrant = self
            .sealer
            .open(Kind::Access, token.trim())
            .ok_or(ApiError::InvalidToken)?;
        if grant.client_id != self.client_id {
            return Err(ApiError::InvalidToken);
        }
        if self.now() >= grant.expires_at {
            return Err(ApiError::ExpiredToken);
        }
        Ok(grant)
    }
}
