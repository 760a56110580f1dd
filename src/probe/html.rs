//! Reading the HTML the probes receive: error pages' text, `form_post`
//! responses and Mastodon's sign-in page.
//!
//! The pages come from two independent programs (the provider and Mastodon)
//! and from whatever proxy sits in front of them, so they are parsed with
//! html5ever through the `scraper` crate, the HTML5 parser of the Servo
//! project: attribute order, quoting, entities and unclosed tags then do not
//! matter, as they would for regular expressions.

use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

/// The path of Mastodon's OmniAuth request phase for the `openid_connect`
/// strategy: Devise's `/auth` prefix, OmniAuth's `/auth`, then the strategy.
pub const REQUEST_PHASE_PATH: &str = "/auth/auth/openid_connect";

/// The path of Mastodon's sign-in page and of its password form.
pub const SIGN_IN_PATH: &str = "/auth/sign_in";

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("the selectors in this module are valid CSS")
}

/// Returns the text a browser shows: every text node outside `script`,
/// `style` and `template`, joined with spaces.
pub fn visible_text(html: &str) -> String {
    let document = parse(html);
    let mut text = String::new();

    // One pass that skips hidden subtrees, so deep nesting stays linear.
    let mut stack = vec![*document.root_element()];
    while let Some(node) = stack.pop() {
        match node.value() {
            Node::Text(chunk) => {
                text.push_str(chunk);
                text.push(' ');
            }
            Node::Element(element) if matches!(element.name(), "script" | "style" | "template") => continue,
            _ => {}
        }
        let children: Vec<_> = node.children().collect();
        stack.extend(children.into_iter().rev());
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Pages larger than this are cut before parsing. The error texts and forms
/// the probes look for sit near the top, and html5ever's time grows faster
/// than linearly with deep nesting, so a hostile page cannot stall a run.
const MAX_PARSED_BYTES: usize = 64 * 1024;

/// Parses at most [`MAX_PARSED_BYTES`] of a page, cut at a character boundary.
fn parse(html: &str) -> Html {
    let mut end = html.len().min(MAX_PARSED_BYTES);
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    Html::parse_document(&html[..end])
}

/// Returns the fields of a `form_post` response: a form whose action is
/// `redirect_uri`, as providers send for `response_mode=form_post`.
pub fn form_post_fields(html: &str, page_url: &Url, redirect_uri: &Url) -> Option<Vec<(String, String)>> {
    let document = parse(html);
    let form = document.select(&selector("form[action]")).find(|form| {
        let action = form.value().attr("action").unwrap_or_default();
        page_url.join(action).is_ok_and(|action| same_endpoint(&action, redirect_uri))
    })?;
    Some(input_fields(form))
}

fn input_fields(form: ElementRef<'_>) -> Vec<(String, String)> {
    form.select(&selector("input[name]"))
        .map(|input| {
            let name = input.value().attr("name").unwrap_or_default().to_string();
            let value = input.value().attr("value").unwrap_or_default().to_string();
            (name, value)
        })
        .collect()
}

/// True when two URLs have the same scheme, host, port and path.
pub fn same_endpoint(left: &Url, right: &Url) -> bool {
    left.scheme() == right.scheme()
        && left.host_str().map(str::to_ascii_lowercase) == right.host_str().map(str::to_ascii_lowercase)
        && left.port_or_known_default() == right.port_or_known_default()
        && left.path() == right.path()
}

/// The parts of Mastodon's `/auth/sign_in` page that the probe reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignInPage {
    /// `<meta name="csrf-param">`, normally `authenticity_token`.
    pub csrf_param: Option<String>,
    /// `<meta name="csrf-token">`, the session's masked global token. It is a
    /// per-session value that the report never prints.
    pub csrf_token: Option<String>,
    /// The element that starts the OIDC login, when the page has one.
    pub oidc_entry: Option<OidcEntry>,
    /// True when the page has the password form, which OMNIAUTH_ONLY hides.
    pub password_form: bool,
    /// The text of the flash message, shown after a failed request phase.
    pub flash: Option<String>,
}

/// The OIDC login element of the sign-in page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcEntry {
    /// `a` for Mastodon's link with `data-method="post"`, `form` for a `button_to`.
    pub element: String,
    /// The visible label, whitespace collapsed.
    pub label: String,
    /// `data-method` of a link; Mastodon 4.x writes `post`.
    pub data_method: Option<String>,
    /// The hidden `authenticity_token` of a form. A `button_to` token is bound
    /// to that form's action, so it is the one to send.
    pub form_token: Option<String>,
}

/// Parses Mastodon's sign-in page. Links and forms count when their target
/// resolves, against `page_url`, to the request phase path on the page's host.
pub fn parse_sign_in(html: &str, page_url: &Url) -> SignInPage {
    let document = parse(html);
    let meta = |name: &str| {
        document
            .select(&selector(&format!("meta[name=\"{name}\"]")))
            .find_map(|element| element.value().attr("content").map(str::to_string))
    };

    let targets = |target: &str| page_url.join(target.trim()).ok().filter(|url| url.host_str() == page_url.host_str());
    let mut oidc_entry = None;
    let mut password_form = false;
    for element in document.select(&selector("a[href], form[action]")) {
        let attribute = if element.value().name() == "a" { "href" } else { "action" };
        let Some(target) = element.value().attr(attribute).and_then(targets) else { continue };
        let path = target.path().trim_end_matches('/').to_ascii_lowercase();
        if path == REQUEST_PHASE_PATH && oidc_entry.is_none() {
            oidc_entry = Some(OidcEntry {
                element: element.value().name().to_string(),
                label: element.text().collect::<Vec<_>>().join(" ").split_whitespace().collect::<Vec<_>>().join(" "),
                data_method: element.value().attr("data-method").map(str::to_ascii_lowercase),
                form_token: (element.value().name() == "form")
                    .then(|| input_fields(element).into_iter().find(|(name, _)| name == "authenticity_token").map(|(_, value)| value))
                    .flatten(),
            });
        } else if path == SIGN_IN_PATH && element.value().name() == "form" {
            password_form = true;
        }
    }

    let flash = document
        .select(&selector(".flash-message.alert"))
        .chain(document.select(&selector(".flash-message")))
        .map(|element| element.text().collect::<Vec<_>>().join(" ").split_whitespace().collect::<Vec<_>>().join(" "))
        .find(|text| !text.is_empty());

    SignInPage { csrf_param: meta("csrf-param"), csrf_token: meta("csrf-token"), oidc_entry, password_form, flash }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGN_IN: &str = r#"<!DOCTYPE html><html lang="en"><head>
<meta charset="utf-8"><title>Log in - social.example</title>
<meta name="csrf-param" content="authenticity_token">
<meta name="csrf-token" content="GLOBAL-TOKEN">
</head><body class="lighter">
<form class="simple_form new_user" id="new_user" action="/auth/sign_in" method="post">
<input type="hidden" name="authenticity_token" value="PER-FORM-TOKEN">
<input type="email" name="user[email]"><button type="submit">Log in</button></form>
<div class="simple_form alternative-login"><h4>Or log in with</h4><div class="actions">
<a class="button button-openid_connect" rel="nofollow" data-method="post" href="/auth/auth/openid_connect">Company &amp; SSO</a>
</div></div></body></html>"#;

    fn page_url() -> Url {
        Url::parse("https://social.example/auth/sign_in").unwrap()
    }

    #[test]
    fn sign_in_page_yields_meta_token_and_link() {
        let page = parse_sign_in(SIGN_IN, &page_url());
        assert_eq!(page.csrf_param.as_deref(), Some("authenticity_token"));
        assert_eq!(page.csrf_token.as_deref(), Some("GLOBAL-TOKEN"));
        assert!(page.password_form);
        let entry = page.oidc_entry.expect("the OIDC link");
        assert_eq!(entry.element, "a");
        assert_eq!(entry.label, "Company & SSO");
        assert_eq!(entry.data_method.as_deref(), Some("post"));
        assert_eq!(entry.form_token, None);
    }

    #[test]
    fn button_to_form_keeps_its_own_token() {
        let html = r#"<meta name='csrf-token' content='META'><form action="https://social.example/auth/auth/openid_connect" method="post" class="button_to"><button type="submit">SSO</button><input type="hidden" name="authenticity_token" value="FORM-TOKEN"></form>"#;
        let entry = parse_sign_in(html, &page_url()).oidc_entry.expect("the OIDC form");
        assert_eq!(entry.element, "form");
        assert_eq!(entry.form_token.as_deref(), Some("FORM-TOKEN"));
    }

    #[test]
    fn omniauth_only_page_has_no_password_form() {
        let html = r#"<meta name="csrf-token" content="T"><div class="alternative-login"><h4>Log in with</h4><a data-method="post" href="/auth/auth/openid_connect">SSO</a></div>"#;
        let page = parse_sign_in(html, &page_url());
        assert!(!page.password_form);
        assert!(page.oidc_entry.is_some());
    }

    #[test]
    fn link_to_other_host_is_not_the_entry() {
        let html = r#"<a data-method="post" href="https://evil.example/auth/auth/openid_connect">SSO</a>"#;
        assert_eq!(parse_sign_in(html, &page_url()).oidc_entry, None);
    }

    #[test]
    fn flash_message_text_is_read() {
        let html = r#"<div class="flash-message alert"><strong>Could not authenticate you from OpenIDConnect because "Issuer mismatch".</strong></div>"#;
        let page = parse_sign_in(html, &page_url());
        assert_eq!(page.flash.as_deref(), Some("Could not authenticate you from OpenIDConnect because \"Issuer mismatch\"."));
    }

    #[test]
    fn visible_text_handles_deep_nesting() {
        let html = "<div>x".repeat(40_000);
        let text = visible_text(&html);
        assert!(text.starts_with("x x"), "{}", &text[..10]);
    }

    #[test]
    fn visible_text_skips_style_and_script() {
        let html = "<html><head><style>h1{color:red}</style><script>var x='invalid_client'</script></head><body><h1>Redirect URI Error</h1><p>The request fails.</p></body></html>";
        assert_eq!(visible_text(html), "Redirect URI Error The request fails.");
    }

    #[test]
    fn form_post_fields_are_read_from_matching_form() {
        let html = r#"<form method="post" action="https://mastodon.example/auth/auth/openid_connect/callback"><input type="hidden" name="error" value="login_required"/><input type="hidden" name="state" value="s1"/></form>"#;
        let page = Url::parse("https://auth.example/application/o/authorize/").unwrap();
        let callback = Url::parse("https://mastodon.example/auth/auth/openid_connect/callback").unwrap();
        let fields = form_post_fields(html, &page, &callback).expect("the form_post form");
        assert_eq!(fields, vec![("error".to_string(), "login_required".to_string()), ("state".to_string(), "s1".to_string())]);
    }
}
