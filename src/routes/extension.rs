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

/// The JavaScript client, for the broker's page and for pages on other origins.
const CLIENT_MODULE: &str = "oauth-broker-client.js";

/// Files built into the binary, so it runs from any directory.
const EMBEDDED: &[(&str, &[u8])] = &[
    ("app.js", include_bytes!("../../assets/static/app.js")),
    (
        CLIENT_MODULE,
        include_bytes!("../../clients/js/oauth-broker-client.js"),
    ),
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
            "brokerUrl": &public,
            "wsUrl": ws_url,
            "confirmCode": settings.signin.confirm_code,
            "tableauApiUrl": settings.extension.tableau_api_url,
            "providers": provider_list,
        });
        // `<` escaped so no value can close the script element it sits in.
        let config_json = config.to_string().replace('<', "\\u003c");
        let tableau_url = &settings.extension.tableau_api_url;
        // The page names the service it signs in to before its script runs (the first
        // provider; the script switches to a dashboard author's choice).
        let heading = providers
            .iter()
            .next()
            .map_or("Sign in", |p| p.label.as_str());
        let index_html = INDEX_TEMPLATE
            .replace("{{asset_version}}", &version)
            .replace("{{heading}}", &crate::pages::escape(heading))
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
             connect-src {}; base-uri 'none'; form-action 'none'; object-src 'none'; \
             frame-ancestors {}",
            script_src.join(" "),
            connect_src.join(" "),
            frame_ancestors(&settings.extension.frame_ancestors)
        );

        Self {
            index_html,
            index_csp,
            manifest: render_manifest(settings),
            files,
            version,
        }
    }

    pub fn manifest(&self) -> &str {
        &self.manifest
    }
}

/// The `.trex` manifest for this deployment: the template's placeholders filled from
/// `server.public_url` and `extension.*`, its explanatory comments dropped (they describe the
/// template, not the deployment, and would reach every Tableau author who opens the file).
pub fn render_manifest(settings: &Settings) -> String {
    let e = &settings.extension;
    let esc = crate::pages::escape;
    without_comments(MANIFEST_TEMPLATE)
        .replace("{{PUBLIC_URL}}", &esc(&settings.server.public_base()))
        .replace("{{ID}}", &esc(&e.id))
        .replace("{{VERSION}}", &esc(&e.version))
        .replace("{{NAME}}", &esc(&e.name))
        .replace("{{DESCRIPTION}}", &esc(&e.description))
        .replace("{{AUTHOR_NAME}}", &esc(&e.author_name))
        .replace("{{AUTHOR_EMAIL}}", &esc(&e.author_email))
        .replace("{{WEBSITE}}", &esc(&e.website))
}

/// A warning when the page is to load Tableau's Extensions API library from the broker's own
/// vendor folder and the file is not there: the page would then run standalone in a dashboard.
pub fn missing_tableau_library(tableau_api_url: &str, vendor_dir: &Path) -> Option<String> {
    if url::Url::parse(tableau_api_url).is_ok() {
        return None;
    }
    let name = tableau_api_url
        .trim_start_matches("./")
        .strip_prefix("static/vendor/")?;
    let file = vendor_dir.join(name);
    (!file.is_file()).then(|| {
        format!(
            "extension.tableau_api_url = {tableau_api_url:?}: {} is missing, so inside a dashboard the page cannot talk to Tableau; run scripts/fetch-tableau-lib.sh (or see assets/static/vendor/README.md), or point extension.tableau_api_url at a URL serving the library",
            file.display()
        )
    })
}

/// Why Tableau would refuse to load a manifest for this `public_url`, if it would: it loads
/// extensions over HTTPS, or plain HTTP from the host name `localhost` only.
pub fn tableau_refusal(public_url: &str) -> Option<String> {
    let refused = || {
        Some(format!(
            "server.public_url = {public_url:?}: Tableau loads extensions only over https:// or from http://localhost; set server.public_url to the HTTPS address users reach"
        ))
    };
    let Ok(url) = url::Url::parse(public_url) else {
        return refused();
    };
    match (url.scheme(), url.host_str()) {
        ("https", Some(_)) => None,
        ("http", Some("localhost")) => None,
        _ => refused(),
    }
}

fn without_comments(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start..].find("-->") {
            Some(end) => {
                rest = &rest[start + end + 3..];
                rest = rest.strip_prefix('\n').unwrap_or(rest);
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// `frame-ancestors` sources; none configured means framing by nobody, as CSP reads it.
fn frame_ancestors(sources: &[String]) -> String {
    if sources.is_empty() {
        "'none'".to_owned()
    } else {
        sources.join(" ")
    }
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
    let mut response = HttpResponse::Ok();
    response
        .content_type(*content_type)
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static(cache)))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::ETAG, format!("\"{}\"", assets.version)));
    if path.as_str() == CLIENT_MODULE {
        // A module script from another origin loads only with CORS; it holds no secret.
        response.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"));
    }
    response.body(bytes.clone())
}

pub async fn manifest(assets: web::Data<ExtensionAssets>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/xml; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(assets.manifest.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tableau_refuses_plain_http_except_for_localhost() {
        assert!(tableau_refusal("https://broker.example.com").is_none());
        assert!(tableau_refusal("http://localhost:8080").is_none());
        assert!(tableau_refusal("http://127.0.0.1:8080").is_some());
        assert!(tableau_refusal("http://broker.example.com").is_some());
        assert!(tableau_refusal("not a url").is_some());
    }

    #[test]
    fn comments_are_dropped_and_the_rest_is_kept() {
        let xml = "<?xml?>\n<!-- a\n b -->\n<a><!--c--><b/></a>\n";
        assert_eq!(without_comments(xml), "<?xml?>\n<a><b/></a>\n");
    }
}
