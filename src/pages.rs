//! The broker's own HTML pages (sign-in and completion outcomes, the demo consent page): short,
//! self-contained, and served with the strict headers the contract lists.
//!
//! Pages carry no script and no outside resource; their one stylesheet is inline and allowed by
//! its hash, so the Content-Security-Policy can stay `default-src 'none'`. The confirmation
//! code page refreshes itself with a `<meta http-equiv="refresh">` (which no CSP directive
//! governs) so that it can say when the code was typed.
//!
//! The completion page's states are built here, once each: the first answer and a reload in
//! the same browser show the very same text.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const PAGE_TEMPLATE: &str = include_str!("../assets/pages/page.html");
const PAGE_STYLE: &str = include_str!("../assets/pages/page.css");

static STYLE_HASH: LazyLock<String> =
    LazyLock::new(|| format!("'sha256-{}'", STANDARD.encode(Sha256::digest(PAGE_STYLE))));

/// The store could not be reached: nothing was lost, and trying again will work.
pub fn unavailable() -> HttpResponse {
    Page::problem("Try again shortly", "Sign-in is briefly unavailable")
        .para("The sign-in service could not reach its shared store. Nothing was lost.")
        .para("Wait a moment, then go back to your dashboard and press Sign in again.")
        .respond(StatusCode::SERVICE_UNAVAILABLE)
}

/// How often the confirmation code page asks again whether the code was typed. Each ask is one
/// request with two store reads; a person takes longer than this to type eight characters.
pub const CODE_PAGE_REFRESH_SECS: u32 = 5;

/// The confirmation code, and where to type it; `expires_in` is how long it still works.
pub fn confirmation_code(code: &str, expires_in: u64) -> Page {
    let minutes = expires_in.div_ceil(60).max(1);
    let shown = match (code.get(..4), code.get(4..)) {
        (Some(head), Some(tail)) if !tail.is_empty() => format!("{head}-{tail}"),
        _ => code.to_owned(),
    };
    Page::ok("Your confirmation code", "Almost done: type this code in your dashboard")
        .highlight(shown)
        .para(format!(
            "Go back to your dashboard and type this code where it asks for it, within {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        ))
        .para("Type it only into the dashboard where you pressed Sign in yourself, just now. If anyone asks you for this code, or sent you the link that brought you here, don't give it: it would hand them your sign-in.")
        .para("This page will say so once the code has been typed.")
        .refresh_every(CODE_PAGE_REFRESH_SECS)
}

/// The tokens reached the dashboard.
pub fn signed_in() -> Page {
    Page::ok("Signed in", "You're signed in")
        .para("Go back to your dashboard; it has your sign-in now.")
        .para("You can close this window.")
}

/// A reload of the code page once the code can no longer be used.
pub fn code_no_longer_valid() -> Page {
    Page::problem("Sign-in not finished", "This code can no longer be used")
        .para("It ran out, was typed wrong too many times, or a newer sign-in replaced it. For your safety each code works once, for a few minutes.")
        .para("Go back to your dashboard and press Sign in again.")
}

/// What a page says: a title, a heading, and paragraphs of plain text (escaped here), plus an
/// optional highlighted value (the confirmation code) and an optional form (the demo consent).
#[derive(Debug, Default)]
pub struct Page {
    pub title: String,
    pub heading: String,
    pub paragraphs: Vec<String>,
    pub highlight: Option<String>,
    /// Raw, already-escaped HTML for forms built by the demo provider.
    pub trusted_html: Option<String>,
    /// "ok" or "problem": chooses the accent colour.
    pub tone: Tone,
    /// Reload the page after this many seconds.
    pub refresh_secs: Option<u32>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    #[default]
    Ok,
    Problem,
}

impl Page {
    pub fn ok(title: &str, heading: &str) -> Self {
        Self {
            title: title.into(),
            heading: heading.into(),
            tone: Tone::Ok,
            ..Self::default()
        }
    }

    pub fn problem(title: &str, heading: &str) -> Self {
        Self {
            title: title.into(),
            heading: heading.into(),
            tone: Tone::Problem,
            ..Self::default()
        }
    }

    pub fn para(mut self, text: impl Into<String>) -> Self {
        self.paragraphs.push(text.into());
        self
    }

    pub fn highlight(mut self, text: impl Into<String>) -> Self {
        self.highlight = Some(text.into());
        self
    }

    pub fn refresh_every(mut self, secs: u32) -> Self {
        self.refresh_secs = Some(secs);
        self
    }

    pub fn trusted_html(mut self, html: String) -> Self {
        self.trusted_html = Some(html);
        self
    }

    pub fn render(&self) -> String {
        let mut body = String::new();
        // The code first: it is what the person came for.
        if let Some(code) = &self.highlight {
            body.push_str("<p class=\"code\" id=\"confirm-code\">");
            body.push_str(&escape(code));
            body.push_str("</p>\n");
        }
        for p in &self.paragraphs {
            body.push_str("<p>");
            body.push_str(&escape(p));
            body.push_str("</p>\n");
        }
        if let Some(html) = &self.trusted_html {
            body.push_str(html);
        }
        let head = match self.refresh_secs {
            Some(secs) => format!("<meta http-equiv=\"refresh\" content=\"{secs}\">\n"),
            None => String::new(),
        };
        PAGE_TEMPLATE
            .replace("{{head}}", &head)
            .replace("{{style}}", PAGE_STYLE)
            .replace("{{title}}", &escape(&self.title))
            .replace(
                "{{tone}}",
                match self.tone {
                    Tone::Ok => "ok",
                    Tone::Problem => "problem",
                },
            )
            .replace("{{heading}}", &escape(&self.heading))
            .replace("{{body}}", &body)
    }

    /// The page as a response with every header the contract requires.
    pub fn respond(&self, status: StatusCode) -> HttpResponse {
        let mut builder = HttpResponse::build(status);
        strict_headers(&mut builder, "'none'");
        builder
            .content_type("text/html; charset=utf-8")
            .body(self.render())
    }

    /// Like `respond`, but the page may submit forms to its own origin (the demo consent page).
    pub fn respond_with_forms(&self, status: StatusCode) -> HttpResponse {
        let mut builder = HttpResponse::build(status);
        strict_headers(&mut builder, "'self'");
        builder
            .content_type("text/html; charset=utf-8")
            .body(self.render())
    }
}

/// `Cache-Control: no-store`, `Referrer-Policy: no-referrer`, `nosniff`, no framing, and a CSP
/// that allows only the page's own inline stylesheet.
pub fn strict_headers(builder: &mut HttpResponseBuilder, form_action: &str) {
    let csp = format!(
        "default-src 'none'; style-src {}; img-src 'self' data:; form-action {form_action}; \
         base-uri 'none'; frame-ancestors 'none'",
        *STYLE_HASH
    );
    builder
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header(("Cross-Origin-Opener-Policy", "same-origin"))
        .insert_header((header::CONTENT_SECURITY_POLICY, csp));
}

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        let html = Page::problem("t", "<b>")
            .para("<script>x</script>")
            .render();
        assert!(!html.contains("<script>x"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("&lt;b&gt;"));
    }

    #[test]
    fn only_the_code_page_refreshes_itself() {
        let code = confirmation_code("ABCD2345", 300).render();
        assert!(code.contains("ABCD-2345"));
        assert!(code.contains(&format!(
            "<meta http-equiv=\"refresh\" content=\"{CODE_PAGE_REFRESH_SECS}\">"
        )));
        assert!(code.contains("within 5 minutes"));
        assert!(!signed_in().render().contains("http-equiv"));
        assert!(!code_no_longer_valid().render().contains("http-equiv"));
        assert!(!Page::ok("a", "b").render().contains("{{head}}"));
    }

    #[test]
    fn the_inline_style_is_allowed_by_hash() {
        assert!(STYLE_HASH.starts_with("'sha256-"));
        assert!(Page::ok("a", "b").render().contains("<style>"));
    }
}
