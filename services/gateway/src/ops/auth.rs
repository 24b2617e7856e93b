//! Who may use the operators' console and how they prove it (api.md "Operators"): the operators
//! and their tokens come from `GONGSHI_OPERATOR_TOKENS` (`name:token` pairs); scripts send
//! `Authorization: Bearer <token>`; a browser signs in at `/ops/login` and gets a session cookie
//! (`HttpOnly`, `SameSite=Strict`, `Secure` over https) whose session carries a CSRF token that
//! every form and cookie-authenticated POST must send back. Tokens are compared in constant time
//! (`gongshi_platform::tokens`).

use crate::Gateway;
use crate::pages;
use askama::Template;
use axum::Form;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use gongshi_platform::store::operators::{self, Session};
use gongshi_platform::{ApiError, ErrorCode, tokens};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The session cookie's name.
const SESSION_COOKIE: &str = "gongshi_ops_session";
/// The sign-in form's CSRF cookie (double submit: the form carries the same value).
const LOGIN_COOKIE: &str = "gongshi_ops_login";
/// Shortest token accepted in `GONGSHI_OPERATOR_TOKENS`.
const MIN_TOKEN_CHARS: usize = 12;

/// One operator's entry in `GONGSHI_OPERATOR_TOKENS`: `name:token`.
#[derive(Clone)]
pub struct OperatorToken {
    /// The operator's name, as the audit log records it.
    pub name: String,
    token: String,
}

impl std::fmt::Debug for OperatorToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorToken")
            .field("name", &self.name)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl OperatorToken {
    /// SHA-256 hex of the token (what a session remembers of it).
    fn digest(&self) -> String {
        digest_hex(&self.token)
    }

    /// Checks one `GONGSHI_OPERATOR_TOKENS` entry as clap reads it: an empty entry (an empty
    /// variable, a trailing comma) is accepted and ignored, anything else must parse.
    pub fn check(entry: &str) -> Result<String, String> {
        if entry.trim().is_empty() {
            return Ok(String::new());
        }
        OperatorToken::parse(entry).map(|_| entry.to_owned())
    }

    /// The operators of `GONGSHI_OPERATOR_TOKENS` (entries checked by [`Self::check`]).
    pub fn all(entries: &[String]) -> Vec<OperatorToken> {
        entries
            .iter()
            .filter_map(|e| OperatorToken::parse(e).ok())
            .collect()
    }

    /// Reads `name:token`. Errors: no colon, an empty name, or a token shorter than 12
    /// characters (a guessable token guards the power to publish).
    pub fn parse(entry: &str) -> Result<OperatorToken, String> {
        let Some((name, token)) = entry.trim().split_once(':') else {
            return Err("expected name:token (运营人员令牌应写作 名称:令牌)".to_owned());
        };
        let (name, token) = (name.trim(), token.trim());
        if name.is_empty() {
            return Err("the operator's name is empty (名称为空)".to_owned());
        }
        if token.chars().count() < MIN_TOKEN_CHARS {
            return Err(format!(
                "the token of {name} is shorter than {MIN_TOKEN_CHARS} characters (令牌过短)"
            ));
        }
        Ok(OperatorToken {
            name: name.to_owned(),
            token: token.to_owned(),
        })
    }
}

/// The operator whose token this is (compared in constant time: `gongshi_platform::tokens`).
fn operator_for<'a>(tokens: &'a [OperatorToken], presented: &str) -> Option<&'a OperatorToken> {
    tokens::find(tokens.iter().map(|t| t.token.as_str()), presented).map(|i| &tokens[i])
}

/// Whether two CSRF tokens are equal, in constant time.
fn same_token(a: &str, b: &str) -> bool {
    tokens::same(a, b)
}

/// 32 random bytes as hex (from the OS's CSPRNG, through UUIDv4's 122 random bits twice).
fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn digest_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// How an operator proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A browser session cookie: unsafe requests must carry the session's CSRF token.
    Session,
    /// `Authorization: Bearer`: not sent by a browser on its own, so no CSRF token is needed.
    Bearer,
}

/// A signed-in operator: every console handler takes one as its first extractor. Without
/// credentials, `/ops/api/*` answers 401 JSON and a page asked for by a browser redirects to
/// `/ops/login?next=…` (else 401).
#[derive(Debug, Clone)]
pub struct Operator {
    /// The operator's name (what the audit log records).
    pub name: String,
    /// The session's CSRF token for the page's forms (empty for bearer tokens).
    pub csrf: String,
    /// How they signed in.
    pub via: Via,
}

impl Operator {
    /// Checks the CSRF token of an unsafe request: a session must send its own token (form field
    /// `csrf` or header `X-CSRF-Token`); bearer requests need none. 403 `forbidden` otherwise.
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), ApiError> {
        match self.via {
            Via::Bearer => Ok(()),
            Via::Session if same_token(&self.csrf, sent.unwrap_or_default()) => Ok(()),
            Via::Session => Err(ApiError::new(
                ErrorCode::Forbidden,
                "表单已过期或来源不明，请刷新页面后重试 (missing or wrong CSRF token)",
            )),
        }
    }
}

/// Why a request was not let in.
#[derive(Debug)]
pub enum Refused {
    /// 401 JSON (API routes, non-browser clients).
    Unauthorized(ApiError),
    /// A browser asking for a page: to the sign-in form.
    SignIn(String),
    /// The store could not be asked.
    Unavailable(ApiError),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Unauthorized(e) | Refused::Unavailable(e) => e.into_response(),
            Refused::SignIn(next) => {
                let query =
                    serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default();
                Redirect::to(&format!("/ops/login?{query}")).into_response()
            }
        }
    }
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// Where to go back to after sign-in: only a console path of this site (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/ops/") && !n.starts_with("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => "/ops/".to_owned(),
    }
}

impl FromRequestParts<Gateway> for Operator {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, gw: &Gateway) -> Result<Self, Self::Rejection> {
        let tokens = &OperatorToken::all(&gw.config.operator_tokens);
        if let Some(bearer) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            return match operator_for(tokens, bearer.trim()) {
                Some(t) => Ok(Operator {
                    name: t.name.clone(),
                    csrf: String::new(),
                    via: Via::Bearer,
                }),
                None => Err(Refused::Unauthorized(ApiError::new(
                    ErrorCode::Unauthorized,
                    "运营人员令牌不正确 (unknown operator token)",
                ))),
            };
        }
        let jar = CookieJar::from_headers(&parts.headers);
        if let Some(cookie) = jar.get(SESSION_COOKIE) {
            let session =
                operators::session(&gw.store.pool, &digest_hex(cookie.value()), gw.clock.now())
                    .await
                    .map_err(|e| Refused::Unavailable(crate::routes::store_error(e)))?;
            // A session ends when the token it was signed in with is no longer configured
            // (rotated after a leak, or the operator removed).
            if let Some(Session {
                operator,
                csrf,
                token_digest,
                ..
            }) = session
                && tokens
                    .iter()
                    .any(|t| t.name == operator && tokens::same(&t.digest(), &token_digest))
            {
                return Ok(Operator {
                    name: operator,
                    csrf,
                    via: Via::Session,
                });
            }
        }
        let path = parts.uri.path();
        if !path.starts_with("/ops/api/") && wants_html(&parts.headers) {
            let next = parts
                .uri
                .path_and_query()
                .map_or(path, |pq| pq.as_str())
                .to_owned();
            return Err(Refused::SignIn(next));
        }
        Err(Refused::Unauthorized(ApiError::new(
            ErrorCode::Unauthorized,
            "需要运营人员凭据：Authorization: Bearer <令牌>，或在 /ops/login 登录 (operator credentials required)",
        )))
    }
}

/// Whether cookies must be `Secure`: the gateway is served over https (its public URL, or a
/// TLS-terminating proxy's `X-Forwarded-Proto`).
fn over_https(gw: &Gateway, headers: &HeaderMap) -> bool {
    gw.config
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/ops")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .build()
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "ops/login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    next: &'a str,
    error: Option<&'a str>,
}

/// `?next=` of the sign-in page.
#[derive(Debug, Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

/// `GET /ops/login`: the sign-in form, with a fresh CSRF cookie for it.
pub(crate) async fn login_form(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    login_page(jar, over_https(&gw, &headers), &next, None, StatusCode::OK)
}

/// The sign-in form with a fresh CSRF token (in the form and its cookie), saying `error` if any.
fn login_page(
    jar: CookieJar,
    secure: bool,
    next: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let csrf = random_token();
    let jar = jar.add(cookie(LOGIN_COOKIE, csrf.clone(), secure));
    let page = LoginPage {
        csrf: &csrf,
        next,
        error,
    };
    (jar, pages::html(status, &page)).into_response()
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    token: String,
    csrf: String,
    next: Option<String>,
}

/// `POST /ops/login`: checks the token and the form's CSRF cookie, starts a session and goes to
/// `next`; a wrong token shows the form again with 401.
pub(crate) async fn login(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    let secure = over_https(&gw, &headers);
    let next = safe_next(form.next.as_deref());
    let expected = jar.get(LOGIN_COOKIE).map(|c| c.value().to_owned());
    let again =
        |status, error: &str, jar: CookieJar| login_page(jar, secure, &next, Some(error), status);
    if !same_token(expected.as_deref().unwrap_or_default(), &form.csrf) {
        return again(
            StatusCode::FORBIDDEN,
            "登录表单已过期，请重新输入令牌 (the sign-in form expired)",
            jar,
        );
    }
    let operators = OperatorToken::all(&gw.config.operator_tokens);
    let Some(signed_in) = operator_for(&operators, form.token.trim()) else {
        tracing::warn!(message = "operator sign-in refused: unknown token");
        return again(
            StatusCode::UNAUTHORIZED,
            "令牌不正确 (unknown operator token)",
            jar,
        );
    };
    let id = random_token();
    let now = gw.clock.now();
    let lifetime = i64::try_from(gw.config.operator_session_secs).unwrap_or(i64::MAX / 2);
    let name = signed_in.name.clone();
    let session = Session {
        operator: name.clone(),
        token_digest: signed_in.digest(),
        csrf: random_token(),
        expires_at: now + chrono::Duration::seconds(lifetime),
    };
    if let Err(e) = operators::create_session(&gw.store.pool, &digest_hex(&id), &session, now).await
    {
        return crate::routes::store_error(e).into_response();
    }
    tracing::info!(operator = %name, message = "operator signed in");
    let jar = jar
        .remove(Cookie::build(LOGIN_COOKIE).path("/ops"))
        .add(cookie(SESSION_COOKIE, id, secure));
    (jar, Redirect::to(&next)).into_response()
}

/// The sign-out form's field.
#[derive(Debug, Deserialize)]
pub(crate) struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /ops/logout`: ends the session (CSRF-checked) and returns to the sign-in page.
pub(crate) async fn logout(
    State(gw): State<Gateway>,
    op: Operator,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    op.check_csrf(form.csrf.as_deref())?;
    if let Some(c) = jar.get(SESSION_COOKIE) {
        operators::delete_session(&gw.store.pool, &digest_hex(c.value()))
            .await
            .map_err(crate::routes::store_error)?;
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/ops"));
    Ok((jar, Redirect::to("/ops/login")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_and_checked() {
        let tokens = vec![
            OperatorToken::parse("wang:token-of-wang-123").expect("valid"),
            OperatorToken::parse(" li : token-of-li-45678 ").expect("valid"),
        ];
        let name = |presented| operator_for(&tokens, presented).map(|t| t.name.as_str());
        assert_eq!(name("token-of-li-45678"), Some("li"));
        assert_eq!(name("token-of-wang-123"), Some("wang"));
        assert_eq!(name("token-of-wang-12"), None);
        assert_eq!(name(""), None);
        // An empty variable or a trailing comma is no operator, not an error.
        assert_eq!(OperatorToken::check(""), Ok(String::new()));
        assert!(OperatorToken::check("short:abc").is_err());
        let entries = vec!["wang:token-of-wang-123".to_owned(), String::new()];
        assert_eq!(OperatorToken::all(&entries).len(), 1);
        assert!(OperatorToken::parse("no-colon").is_err());
        assert!(OperatorToken::parse(":token-without-name").is_err());
        assert!(OperatorToken::parse("short:abc").is_err());
        assert!(!format!("{:?}", tokens[0]).contains("token-of-wang"));
    }

    #[test]
    fn sign_in_returns_only_to_console_paths() {
        assert_eq!(
            safe_next(Some("/ops/records?status=held")),
            "/ops/records?status=held"
        );
        assert_eq!(safe_next(Some("https://evil.example/")), "/ops/");
        assert_eq!(safe_next(Some("//evil.example/ops/")), "/ops/");
        assert_eq!(safe_next(Some("/ops/\\evil")), "/ops/");
        assert_eq!(safe_next(None), "/ops/");
    }

    #[test]
    fn csrf_is_required_of_sessions_only() {
        let session = Operator {
            name: "wang".into(),
            csrf: "abc".into(),
            via: Via::Session,
        };
        assert!(session.check_csrf(Some("abc")).is_ok());
        assert!(session.check_csrf(Some("abd")).is_err());
        assert!(session.check_csrf(None).is_err());
        let bearer = Operator {
            via: Via::Bearer,
            csrf: String::new(),
            ..session
        };
        assert!(bearer.check_csrf(None).is_ok());
    }
}
