//! The extension itself: the page at `/`, its static files, and the Tableau manifest.
//!
//! The page is rendered once at start-up from the configuration (it holds no per-user data),
//! so serving it costs a clone of a few kilobytes.

use crate::oauth::Providers;
use crate::settings::Settings;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;

const INDEX_TEMPLATE: &str = include_str!("../../assets/extension/index.html");
const MANIFEST_TEMPLATE: &str = include_str!("../../manifests/oauth-broker.trex");

/// Files built into the binary, so it runs from any directory.
const EMBEDDED: &[(&str, &[u8])] = &[
    ("app.js", include_bytes!("../../assets/static/app.js")),
    ("app.css", include_bytes!("../../assets/static/app.css")),
    ("icon.svg", include_bytes!("../../assets/static/icon.svg")),
    ("icon.png", include_bytes!("../../assets/static/icon.png")),
];

pub struct ExtensionAssets {
    index_html: String,
    index_csp: String,
    manifest: String,
    files: HashMap<String, (&'static str, Vec<u8>)>,
    version: String,
}

impl ExtensionAssets {
    /// Renders the page and loads the static files; `vendor_dir` is where the Tableau
    /// Extensions API library is looked for (it is not ours to ship).
    pub fn build(settings: &Settings, providers: &Providers, vendor_dir: &Path) -> Self {
        let mut files: HashMap<String, (&'static str, Vec<u8>)> = EMBEDDED
            .iter()
            .map(|(name, bytes)| ((*name).to_owned(), (content_type(name), bytes.to_vec())))
            .collect();
        if let Ok(entries) = std::fs::read_dir(vendor_dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".js")
                    && let Ok(bytes) = std::fs::read(entry.path())
                {
                    files.insert(format!("vendor/{name}"), (content_type(&name), bytes));
                }
            }
        }
        let mut hasher = Sha256::new();
        let mut names: Vec<&String> = files.keys().collect();
        names.sort();
        for name in names {
            hasher.update(name.as_bytes());
            hasher.update(&files[name].1);
        }
        let version: String = hasher
            .finalize()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();

        let public = settings.server.public_base();
        let ws_url = websocket_url(&public);
        let provider_list: Vec<serde_json::Value> = providers
            .iter()
            .map(|p| {
                serde_json::json!({
                    "name": p.name,
                    "label": p.label,
                    "apiUrl": p.api_url,
                })
            })
            .collect();
        let config = serde_json::json!({
            "wsUrl": ws_url,
            "confirmCode": settings.signin.confirm_code,
            "providers": provider_list,
        });
        // `<` escaped so no value can close the script element it sits in.
        let config_json = config.to_string().replace('<', "\\u003c");
        let tableau_url = &settings.extension.tableau_api_url;
        let index_html = INDEX_TEMPLATE
            .replace("{{asset_version}}", &version)
            .replace("{{tableau_api_url}}", &crate::pages::escape(tableau_url))
            .replace("{{config_json}}", &config_json);

        let mut script_src = vec!["'self'".to_owned()];
        script_src.extend(origin_of(tableau_url));
        let mut connect_src = vec!["'self'".to_owned()];
        connect_src.extend(origin_of(&ws_url));
        for p in providers.iter() {
            connect_src.extend(origin_of(&p.api_url));
        }
        connect_src.dedup();
        let index_csp = format!(
            "default-src 'none'; script-src {}; style-src 'self'; img-src 'self' data: https:; \
             connect-src {}; base-uri 'none'; form-action 'none'; object-src 'none'",
            script_src.join(" "),
            connect_src.join(" ")
        );

        Self {
            index_html,
            index_csp,
            manifest: render_manifest(&public),
            files,
            version,
        }
    }

    pub fn manifest(&self) -> &str {
        &self.manifest
    }
}

/// The `.trex` manifest for a public URL.
pub fn render_manifest(public_base: &str) -> String {
    MANIFEST_TEMPLATE.replace("{{PUBLIC_URL}}", &crate::pages::escape(public_base))
}

fn websocket_url(public_base: &str) -> String {
    let ws = if let Some(rest) = public_base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = public_base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        public_base.to_owned()
    };
    format!("{ws}/ws")
}

fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    Some(parsed.origin().ascii_serialization()).filter(|o| o != "null")
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

pub async fn index(assets: web::Data<ExtensionAssets>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, assets.index_csp.as_str()))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(assets.index_html.clone())
}

pub async fn static_file(
    req: HttpRequest,
    path: web::Path<String>,
    assets: web::Data<ExtensionAssets>,
) -> HttpResponse {
    let Some((content_type, bytes)) = assets.files.get(path.as_str()) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found");
    };
    // A request naming the current version may be cached for good; anything else is
    // revalidated, so an upgrade never serves a stale script.
    let versioned = req.query_string() == format!("v={}", assets.version);
    let cache = if versioned {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    HttpResponse::Ok()
        .content_type(*content_type)
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static(cache)))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::ETAG, format!("\"{}\"", assets.version)))
        .body(bytes.clone())
}

pub async fn manifest(assets: web::Data<ExtensionAssets>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/xml; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(assets.manifest.clone())
}
