//! Resume secrets, origins and typed confirmation codes, pure.

use super::PURE_CASES;
use super::strategies::{hostile_text, query_string};
use oauth_broker::routes::ws::{normalise_origin, resume_param};
use oauth_broker::secrets::ConfirmationCode;
use oauth_broker::store::{code_matches, normalise_code};
use proptest::prelude::*;
use proptest::test_runner::Config;

proptest! {
    #![proptest_config(Config::with_cases(PURE_CASES))]

    /// Whatever `/ws` is asked with, a secret it accepts is one of ours in shape.
    #[test]
    fn any_ws_query_yields_a_well_formed_secret_or_none(query in query_string()) {
        if let Ok(Some(secret)) = resume_param(&query) {
            let secret = secret.expose();
            prop_assert!(!secret.is_empty() && secret.len() <= 64);
            prop_assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
    }

    /// One well-formed secret is taken as is, whatever other parameters come with it; a second
    /// copy, or a secret of another shape, is invalid.
    #[test]
    fn resume_takes_one_alphanumeric_secret_only(
        secret in "[A-Za-z0-9]{1,64}",
        other_key in "[a-z]{1,8}",
        long in "[A-Za-z0-9]{65,100}",
        bad in "[A-Za-z0-9]{0,10}[^A-Za-z0-9][A-Za-z0-9]{0,10}",
    ) {
        prop_assert_eq!(
            resume_param(&format!("resume={secret}")).map(|s| s.map(|s| s.expose().to_owned())),
            Ok(Some(secret.clone()))
        );
        let twice = format!("resume={secret}&resume={secret}");
        prop_assert!(resume_param(&twice).is_err(), "{}", twice);
        prop_assert!(resume_param(&format!("resume={}", long)).is_err(), "{} characters", long.len());
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("resume", &bad)
            .finish();
        prop_assert!(resume_param(&encoded).is_err(), "{}", encoded);
        if other_key != "resume" {
            prop_assert_eq!(resume_param(&format!("{other_key}={secret}")).map(|s| s.is_some()), Ok(false));
            let beside = format!("{other_key}=1&resume={secret}&{other_key}2=x");
            prop_assert_eq!(
                resume_param(&beside).map(|s| s.map(|s| s.expose().to_owned())),
                Ok(Some(secret.clone()))
            );
        }
    }

    /// Normalising an `Origin` twice changes nothing the first time did not.
    #[test]
    fn origin_normalisation_is_idempotent(origin in hostile_text()) {
        let once = normalise_origin(&origin);
        prop_assert_eq!(normalise_origin(&once), once);
    }

    /// Origins compare as browsers send them: case and default ports do not matter.
    #[test]
    fn origins_ignore_case_and_default_ports(
        https in any::<bool>(),
        host in "[a-z][a-z0-9-]{0,20}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
        port in prop::option::of(1u16..),
    ) {
        // Punycode labels must be valid punycode; browsers never send a broken one.
        prop_assume!(!host.contains("xn--"));
        let scheme = if https { "https" } else { "http" };
        let default_port = if https { 443 } else { 80 };
        let plain = match port {
            Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
            _ => format!("{scheme}://{host}"),
        };
        let sent = match port {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        };
        prop_assert_eq!(normalise_origin(&sent.to_uppercase()), plain.clone());
        prop_assert_eq!(normalise_origin(&format!(" {sent}/ ")), plain);
    }

    /// A code is accepted however the person types it: lower case, hyphens, spaces.
    #[test]
    fn a_code_matches_however_it_is_typed(
        code in "[A-Z2-9]{8}",
        lower in any::<bool>(),
        separators in prop::collection::vec(prop::sample::select(vec!["", "-", " ", "\t", " - "]), 9),
    ) {
        let held = ConfirmationCode::new(normalise_code(&code));
        let mut typed = String::new();
        for (i, c) in code.chars().enumerate() {
            typed.push_str(separators[i]);
            typed.push(if lower { c.to_ascii_lowercase() } else { c });
        }
        typed.push_str(separators[8]);
        prop_assert!(code_matches(&held, &typed), "{typed:?}");
    }

    /// No other text matches a held code, and normalising never grows without bound.
    #[test]
    fn other_text_does_not_match_a_code(code in "[A-Z2-9]{8}", typed in hostile_text()) {
        let held = ConfirmationCode::new(code.as_str());
        let normalised = normalise_code(&typed);
        prop_assert!(normalised.chars().count() <= 64);
        prop_assert_eq!(code_matches(&held, &typed), normalised == code);
    }
}
