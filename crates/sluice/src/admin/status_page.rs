//! The status page at `/`: one self-contained HTML file, built into the binary, whose script
//! polls `/api/status` and draws its own charts. Nothing is fetched from anywhere else.
//!
//! The Content-Security-Policy allows the page's one inline `<script>` and one inline `<style>`
//! by their SHA-256 hashes rather than with `'unsafe-inline'`: the page stays a single file
//! (save it and it still works against the same listener), and any other inline script,
//! should an injected string ever reach the DOM as markup, would not run. The hashes are
//! computed from the embedded file itself, so editing the page cannot leave them stale.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};

const PAGE: &str = include_str!("status_page.html");

/// Built once, from [`PAGE`].
static POLICY: LazyLock<String> = LazyLock::new(|| policy_for(PAGE));

pub async fn status_page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, POLICY.as_str()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}

/// Nothing but the page's own script and style, and requests back to this listener.
fn policy_for(page: &str) -> String {
    let script = inline_hash(page, "<script>", "</script>");
    let style = inline_hash(page, "<style>", "</style>");
    format!(
        "default-src 'none'; script-src '{script}'; style-src '{style}'; connect-src 'self'; \
         img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// The CSP source (`sha256-…`) for the text between `open` and `close`.
fn inline_hash(page: &str, open: &str, close: &str) -> String {
    let start = page
        .find(open)
        .expect("the status page has this inline element")
        + open.len();
    let len = page[start..]
        .find(close)
        .expect("the inline element of the status page is closed");
    let digest = Sha256::digest(&page.as_bytes()[start..start + len]);
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_exactly_one_inline_script_and_style() {
        for tag in ["<script", "<style", "</script>", "</style>"] {
            assert_eq!(PAGE.matches(tag).count(), 1, "{tag}");
        }
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"));
    }

    #[test]
    fn the_policy_hashes_the_inline_text_exactly() {
        let page = "<style>a{}</style><script>x()</script>";
        let policy = policy_for(page);
        // Reference digests from `printf 'x()' | openssl dgst -sha256 -binary | base64`.
        assert!(
            policy.contains("script-src 'sha256-D6IGS8VMvCoyaR/l0h9tERrBTATY01CoPS7l6xDv0kI='"),
            "{policy}"
        );
        assert!(
            policy.contains("style-src 'sha256-X1RutGBrXCt9KkSaXMK7tHftWiRscFHOhxsS8tv8hBk='"),
            "{policy}"
        );
        assert!(!policy.contains("unsafe-inline"));
    }
}
