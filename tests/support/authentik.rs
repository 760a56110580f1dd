//! A Mastodon configuration for authentik and the real authentik 2025.10
//! discovery document and JWKS, served as https://auth.example.

use super::cli::fixtures;
use super::pki::{CertVariant, TestPki};
use super::route::Route;
use super::server::ReplayServer;

/// A Mastodon env file for the authentik provider `mastodon` without errors: offline, it exits with status 0.
/// Tests point at its lines: the value of OIDC_ISSUER starts at line 6, column 13, and that of OIDC_REDIRECT_URI at line 12, column 19.
pub const AUTHENTIK_ENV: &str = "LOCAL_DOMAIN=mastodon.example
SECRET_KEY_BASE=placeholder-not-a-real-value
OIDC_ENABLED=true
OIDC_DISPLAY_NAME=authentik
OIDC_DISCOVERY=true
OIDC_ISSUER=https://auth.example/application/o/mastodon/
OIDC_AUTH_ENDPOINT=https://auth.example/application/o/authorize/
OIDC_SCOPE=openid,profile,email
OIDC_UID_FIELD=preferred_username
OIDC_CLIENT_ID=mastodon
OIDC_CLIENT_SECRET=mastodon-test-secret
OIDC_REDIRECT_URI=https://mastodon.example/auth/auth/openid_connect/callback
OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED=true
";

/// Returns the discovery document of the authentik provider `mastodon`, with `{{PUBLIC_ORIGIN}}` for its origin.
pub fn authentik_discovery() -> String {
    std::fs::read_to_string(fixtures().join("authentik-2025.10/discovery-public.json")).expect("discovery fixture")
}

/// Returns the routes of the provider `mastodon`: `discovery` as its discovery document, and its JWKS.
pub fn authentik_discovery_routes(discovery: String) -> Vec<Route> {
    let jwks = std::fs::read_to_string(fixtures().join("authentik-2025.10/jwks.json")).expect("JWKS fixture");
    vec![
        Route::get("/application/o/mastodon/.well-known/openid-configuration").header("content-type", "application/json").body(discovery),
        Route::get("/application/o/mastodon/jwks/").header("content-type", "application/json").body(jwks),
    ]
}

/// Serves the discovery document and JWKS of the provider `mastodon` as https://auth.example with a `variant` certificate.
pub fn authentik_server(pki: &TestPki, variant: CertVariant) -> ReplayServer {
    ReplayServer::https(pki, "auth.example", variant, authentik_discovery_routes(authentik_discovery()))
}
