//! `oauth-broker providers`: the catalogue for people (one block per preset) or, with
//! `--json`, as one JSON array, each preset with the redirect URI to register for it.

use super::presets::{self, Preset};

/// The redirect URI a provider of this name gets: `{callback_url}/complete/{name}`.
fn redirect_uri(callback_base: &str, preset: &Preset) -> String {
    format!("{callback_base}/complete/{}", preset.name)
}

pub fn render(callback_base: &str, json: bool) -> String {
    if json {
        let list: Vec<serde_json::Value> = presets::all()
            .iter()
            .map(|p| {
                let mut value = serde_json::to_value(p).expect("a preset serialises");
                value["placeholders"] = p.placeholders().into();
                value["redirect_uri"] = redirect_uri(callback_base, p).into();
                value
            })
            .collect();
        let mut text = serde_json::to_string_pretty(&list).expect("a list serialises");
        text.push('\n');
        return text;
    }
    let mut out = String::new();
    for p in presets::all() {
        let kind = if p.oidc {
            "OpenID Connect"
        } else {
            "OAuth 2.0"
        };
        out.push_str(&format!("{} ({}, {kind})\n", p.name, p.label));
        out.push_str(&format!("  authorize     {}\n", p.authorize_url));
        out.push_str(&format!("  token         {}\n", p.token_url));
        out.push_str(&format!("  api           {}\n", p.api_url));
        if let Some(issuer) = &p.issuer {
            out.push_str(&format!("  issuer        {issuer}\n"));
        }
        let scopes = if p.scopes.is_empty() {
            "(none: set on the app)".to_owned()
        } else {
            presets::join_scopes(&p.scopes, &p.scope_separator)
        };
        out.push_str(&format!("  scopes        {scopes}\n"));
        out.push_str(&format!(
            "  pkce          {}\n  client auth   {}\n",
            if p.pkce { "yes" } else { "no" },
            match p.client_auth {
                crate::settings::ClientAuth::Basic => "basic",
                crate::settings::ClientAuth::Body => "body",
            }
        ));
        for (k, v) in &p.extra_authorize_params {
            out.push_str(&format!("  extra param   {k}={v}\n"));
        }
        for (name, param) in &p.params {
            out.push_str(&format!(
                "  needs         providers.{}.params.{name}: {} (e.g. {})\n",
                p.name, param.description, param.example
            ));
        }
        out.push_str(&format!(
            "  redirect URI  {}\n",
            redirect_uri(callback_base, p)
        ));
        out.push_str(&format!("  docs          {}\n\n", p.docs));
    }
    out
}
