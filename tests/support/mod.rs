//! Test servers on 127.0.0.1 with certificates generated at test time.
//!
//! Each integration test that needs them starts with `mod support;`.

// Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code, unused_imports)]

pub mod fixture;
pub mod pki;
pub mod route;
pub mod server;

pub use pki::{install_ring_provider, CertVariant, ServerCert, TestPki, WRONG_HOST_NAME};
pub use route::{ParamRule, RecordedRequest, Route};
pub use server::ReplayServer;
