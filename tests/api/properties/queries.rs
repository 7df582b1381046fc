//! Query strings, pure: `parse_unique` on any query.

use super::PURE_CASES;
use super::strategies::parse_unique;
use super::strategies::query_string;
use oauth_broker::query::QueryError;
use proptest::prelude::*;
use proptest::test_runner::Config;

proptest! {
    #![proptest_config(Config::with_cases(PURE_CASES))]

    /// Whatever the query, what comes back is within the bounds the routes rely on.
    #[test]
    fn any_query_parses_within_bounds_or_is_refused(query in query_string()) {
        if let Ok(params) = parse_unique(&query) {
            prop_assert!(params.len() <= 16);
            for (key, value) in &params {
                prop_assert!(key.len() <= 64, "key {key:?}");
                prop_assert!(value.len() <= 4096);
            }
        }
    }

    /// Distinct parameters within bounds come back exactly as a browser encoded them.
    #[test]
    fn distinct_parameters_round_trip(
        params in prop::collection::hash_map("[^\u{0}]{1,16}", any::<String>(), 0..=16),
    ) {
        prop_assume!(params.values().all(|v| v.len() <= 4096) && params.keys().all(|k| k.len() <= 64));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        prop_assert_eq!(parse_unique(&query), Ok(params));
    }

    /// A parameter given twice is refused, naming it, wherever the repeat is.
    #[test]
    fn a_repeated_parameter_is_refused(
        params in prop::collection::hash_map("[a-z]{1,8}", "[a-zA-Z0-9]{0,8}", 1..=15),
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        again in "[a-zA-Z0-9]{0,8}",
    ) {
        let mut pairs: Vec<(String, String)> = params.into_iter().collect();
        let repeated = pairs[pick.index(pairs.len())].0.clone();
        pairs.insert(at.index(pairs.len() + 1), (repeated.clone(), again));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        prop_assert_eq!(parse_unique(&query), Err(QueryError::Repeated(repeated)));
    }

    /// More than 16 parameters, or one too long, is refused.
    #[test]
    fn too_many_or_too_long_parameters_are_refused(extra in 17..40usize, long in 4097..6000usize) {
        let many: Vec<String> = (0..extra).map(|i| format!("p{i}=1")).collect();
        prop_assert_eq!(parse_unique(&many.join("&")), Err(QueryError::TooMany));
        prop_assert_eq!(
            parse_unique(&format!("state=abc&code={}", "x".repeat(long))),
            Err(QueryError::TooLong)
        );
    }
}
