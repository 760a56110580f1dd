//! Rules for authentik servers: caveats that depend on the release
//! (`caveats`), and the cross-check of the provider read through the admin
//! API (`cross_check`).
//!
//! Each rule reads `Context::authentik`, which the run fills for authentik
//! servers only, so every rule stays quiet for other providers.

mod caveats;
mod cross_check;

use crate::providers::authentik::api::{ApiFacts, ProviderObject};
use crate::providers::authentik::version::KnownVersion;
use crate::providers::authentik::Facts;
use crate::providers::ProviderKind;

use super::Context;

pub(super) use caveats::RULES as CAVEAT_RULES;
pub(super) use cross_check::RULES as CROSS_CHECK_RULES;

/// Returns the authentik facts when the provider is authentik.
fn facts<'a>(context: &Context<'a>) -> Option<&'a Facts> {
    if !context.is_provider(ProviderKind::Authentik) {
        return None;
    }
    context.authentik
}

fn known_version<'a>(context: &Context<'a>) -> Option<&'a KnownVersion> {
    facts(context)?.version.as_ref()
}

fn api<'a>(context: &Context<'a>) -> Option<&'a ApiFacts> {
    facts(context)?.api.as_ref()
}

fn provider<'a>(context: &Context<'a>) -> Option<&'a ProviderObject> {
    api(context)?.provider.as_ref()
}

/// Returns a non-empty variable value.
fn non_empty<'a>(context: &Context<'a>, name: &str) -> Option<super::Var<'a>> {
    context.var(name).filter(|var| !var.value.is_empty())
}

/// Returns the place in authentik's admin interface where the provider is edited.
fn provider_page(provider: &ProviderObject) -> String {
    match &provider.name {
        Some(name) => format!("Applications > Providers > {name} > Edit"),
        None => "Applications > Providers > (the provider) > Edit".to_string(),
    }
}
