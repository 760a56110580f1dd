//! Checks on what a run sent and printed: the probe requests its JSON report
//! lists, the requests a `ReplayServer` recorded, and its output.

use serde_json::Value;

use super::route::RecordedRequest;

/// Returns the probe requests that a JSON report lists under `checked.probes.requests`, or none.
pub fn reported_requests(report: &Value) -> Vec<Value> {
    report["checked"]["probes"]["requests"].as_array().cloned().unwrap_or_default()
}

/// Asserts that every reported request has a URL that starts with one of `origins` and does not contain `secret`.
pub fn assert_reported_urls(requests: &[Value], origins: &[&str], secret: &str) {
    for request in requests {
        let url = request["url"].as_str().expect("a request URL");
        assert!(origins.iter().any(|origin| url.starts_with(origin)), "a probe went elsewhere than {origins:?}: {url}");
        assert!(!url.contains(secret), "a request URL carries the secret: {url}");
    }
}

/// Asserts that no recorded request carries `secret` in its path or query.
pub fn assert_secret_not_in_urls(requests: &[RecordedRequest], secret: &str) {
    for request in requests {
        assert!(!request.target().contains(secret), "a request URL carries the secret: {}", request.target());
    }
}

/// Asserts that `text` contains neither the client secret nor `-SECRET-`, a part
/// of `secret` that reveals a secret printed cut short.
pub fn assert_client_secret_not_printed(text: &str, secret: &str) {
    assert!(secret.contains("-SECRET-"), "the test secret {secret} lacks the `-SECRET-` part");
    assert!(!text.contains(secret), "the client secret appears in the output:\n{text}");
    assert!(!text.contains("-SECRET-"), "part of the client secret appears in the output");
}
