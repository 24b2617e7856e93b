//! Bearer tokens (ingest, subscriber and operator tokens) checked in constant time: the SHA-256
//! digests of the presented token and of every configured one are compared in full, with no early
//! exit, so neither a token's content nor its length leaks through response timing.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The position in `configured` of the token equal to `presented`, comparing against every entry.
pub fn find<'a>(configured: impl IntoIterator<Item = &'a str>, presented: &str) -> Option<usize> {
    let presented = Sha256::digest(presented.as_bytes());
    let mut found = None;
    for (i, token) in configured.into_iter().enumerate() {
        let digest = Sha256::digest(token.as_bytes());
        if bool::from(digest.as_slice().ct_eq(presented.as_slice())) && found.is_none() {
            found = Some(i);
        }
    }
    found
}

/// Whether two secrets (a CSRF token and its copy, say) are equal and not empty, in constant time.
pub fn same(a: &str, b: &str) -> bool {
    !a.is_empty() && find([a], b).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_matching_token_only() {
        let tokens = ["alpha-token-1", "beta-token-22"];
        assert_eq!(find(tokens, "beta-token-22"), Some(1));
        assert_eq!(find(tokens, "alpha-token-1"), Some(0));
        assert_eq!(find(tokens, "alpha-token-"), None);
        assert_eq!(find(tokens, ""), None);
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("", ""));
    }
}
