//! The same inputs over real HTTP: `/complete` and `/signin` answer 400 or 404, never 500.

use super::HTTP_CASES;
use super::shared_app::{Net, connect, fetch, networked, passed, run_cases, served};
use super::strategies::{path_segment, query_string};
use crate::helpers;
use crate::helpers::assert_strict_headers;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::json;

/// The answer to `url` is a refusal: a 400 page with the strict headers, or a 404 where
/// `not_found` (an empty last segment is no route of these).
fn refused(net: &Net, url: &str, not_found: bool) -> Result<(), TestCaseError> {
    let response = net.get(url);
    let response = response.map_err(|e| TestCaseError::fail(format!("{url}: {e}")))?;
    if not_found {
        prop_assert_eq!(response.status, 404, "{}", url);
    } else {
        prop_assert_eq!(response.status, 400, "{} answered {}", url, response.body);
        assert_strict_headers(&response);
    }
    Ok(())
}

#[test]
fn any_query_to_complete_answers_400_never_500() {
    let app = served();
    run_cases(HTTP_CASES, query_string(), |net, query| {
        let url = format!("{}/complete/mock?{query}", app.base);
        refused(net, &url, false)
    });
}

#[test]
fn any_provider_and_query_to_complete_answers_400_or_404_never_500() {
    let app = served();
    run_cases(
        HTTP_CASES,
        (path_segment(), query_string()),
        |net, (provider, query)| {
            let url = format!("{}/complete/{provider}?{query}", app.base);
            refused(net, &url, provider.is_empty())
        },
    );
}

#[test]
fn any_signin_path_answers_400_or_404_never_500() {
    let app = served();
    run_cases(
        HTTP_CASES,
        (path_segment(), prop::option::of(query_string())),
        |net, (ticket, query)| {
            let mut url = format!("{}/signin/{ticket}", app.base);
            if let Some(query) = query {
                url = format!("{url}?{query}");
            }
            refused(net, &url, ticket.is_empty())
        },
    );
}

/// A real sign-in link answers 303 once, then 400, whatever the query next to it.
#[test]
fn a_real_ticket_works_once_whatever_else_is_sent() {
    let app = served();
    let (system, ws) = connect(app);
    let http = system.block_on(async { helpers::http_client() });
    let mut runner = TestRunner::new(networked(32));
    let outcome = runner.run(&query_string(), |query| {
        let mut guard = ws.borrow_mut();
        let ws = &mut *guard;
        let answers = system.block_on(async {
            ws.send_json(&json!({"type": "begin"})).await;
            let signin = ws.try_recv(helpers::WAIT).await.ok_or("no signin frame")?;
            let link = signin["url"]
                .as_str()
                .ok_or(format!("not a signin: {signin}"))?;
            let link = format!("{link}?{query}");
            Ok::<_, String>((fetch(&http, &link).await?, fetch(&http, &link).await?))
        });
        let (first, second) = answers.map_err(TestCaseError::fail)?;
        prop_assert_eq!(first.status, 303);
        prop_assert_eq!(second.status, 400);
        Ok(())
    });
    passed(outcome);
}
