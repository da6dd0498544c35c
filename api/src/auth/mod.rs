//! Who is calling: JWT access tokens over sessions, the actor behind them,
//! and the network guard for admin routes.
//!
//! An access token (HS256, short-lived) names a session; every request checks
//! that the session is still live (cached for a few seconds) and loads the
//! caller's actor from the events (`Commands::actor`, cached and invalidated
//! by customer, role and staff events). A customer session (one-time code)
//! never carries staff permissions, even for someone who holds roles: those
//! need the password (and second factor) of a staff session.
pub mod codes;
pub mod password;
pub mod sessions;
pub mod totp;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::{Actor, CustomerId, Permission};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// Signed in with a password (and TOTP when enabled): has the roles' permissions.
    Staff,
    /// Signed in with a code from the bot: sees only their own data.
    Customer,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Staff => "staff",
            SessionKind::Customer => "customer",
        }
    }
    pub fn parse(s: &str) -> Option<SessionKind> {
        match s {
            "staff" => Some(SessionKind::Staff),
            "customer" => Some(SessionKind::Customer),
            _ => None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    sid: Uuid,
    kind: SessionKind,
    iat: i64,
    exp: i64,
}

/// Keys derived from `MRJ_SECRET_KEY`: one encrypts secrets at rest (TOTP
/// keys), one signs tokens, one keys the hashes of sign-in codes.
#[derive(Clone)]
pub struct AuthKeys {
    pub secrets: secrets::SecretKey,
    encoding: EncodingKey,
    decoding: DecodingKey,
    pub code_key: [u8; 32],
}

fn derive(label: &str, passphrase: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(label.as_bytes());
    h.update([0]);
    h.update(passphrase.as_bytes());
    h.finalize().into()
}

impl AuthKeys {
    pub fn from_passphrase(passphrase: &str) -> Result<AuthKeys, secrets::SecretError> {
        let secrets = secrets::SecretKey::from_passphrase(passphrase)?;
        let jwt = derive("mrjbot/api/jwt/v1", passphrase);
        Ok(AuthKeys {
            secrets,
            encoding: EncodingKey::from_secret(&jwt),
            decoding: DecodingKey::from_secret(&jwt),
            code_key: derive("mrjbot/api/login-code/v1", passphrase),
        })
    }

    pub fn access_token(&self, id: CustomerId, session: Uuid, kind: SessionKind, ttl: Duration) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: id.0.to_string(),
            sid: session,
            kind,
            iat: now,
            exp: now + ttl.as_secs() as i64,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).expect("HS256 signing cannot fail")
    }

    fn decode(&self, token: &str) -> ApiResult<(CustomerId, Uuid, SessionKind)> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation) {
            Ok(data) => {
                let id = CustomerId::parse(&data.claims.sub).map_err(|_| ApiError::unauthorized("malformed token"))?;
                Ok((id, data.claims.sid, data.claims.kind))
            }
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "token_expired",
                "the access token has expired; refresh it",
            )),
            Err(_) => Err(ApiError::unauthorized("invalid access token")),
        }
    }
}

/// The caller of a route that needs a signed-in user.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: CustomerId,
    pub session: Uuid,
    pub kind: SessionKind,
    /// With the roles' permissions for a staff session; none for a customer session.
    pub actor: Actor,
}

impl AuthUser {
    /// A staff session holding `p`.
    pub fn require(&self, p: Permission) -> ApiResult<()> {
        if self.kind == SessionKind::Staff && self.actor.has(p) {
            Ok(())
        } else {
            Err(ApiError::forbidden(p))
        }
    }

    /// A staff session holding at least one of `ps`.
    pub fn require_any(&self, ps: &[Permission]) -> ApiResult<()> {
        if ps.iter().any(|p| self.require(*p).is_ok()) {
            return Ok(());
        }
        let names: Vec<&str> = ps.iter().map(|p| p.name()).collect();
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("one of these permissions is required: {}", names.join(", ")),
        )
        .with_details(serde_json::json!({ "any_of": names })))
    }

    pub fn require_staff(&self) -> ApiResult<()> {
        if self.kind == SessionKind::Staff {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "staff_only",
                "sign in with your staff password for this",
            ))
        }
    }

    pub fn permissions(&self) -> Vec<Permission> {
        match &self.actor {
            Actor::User { permissions, .. } => permissions.iter().copied().collect(),
            Actor::System => Permission::ALL.to_vec(),
        }
    }
}

fn bearer(parts: &Parts) -> ApiResult<&str> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("sign in first: no Authorization header"))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<AuthUser>() {
            return Ok(user.clone());
        }
        let token = bearer(parts)?;
        let (id, session, kind) = state.auth.decode(token)?;
        if !state.session_active(session).await? {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "session_revoked",
                "this session has ended; sign in again",
            ));
        }
        let actor = state.actor_for(id, kind).await?;
        let user = AuthUser { id, session, kind, actor };
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

/// The caller's address: the socket peer, or the last `X-Forwarded-For` hop
/// when the API runs behind a reverse proxy that sets it.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    pub fn of(parts: &Parts, trust_forwarded_for: bool) -> ClientIp {
        if trust_forwarded_for {
            let hop = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse::<IpAddr>().ok());
            if hop.is_some() {
                return ClientIp(hop);
            }
        }
        ClientIp(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
    }

    pub fn key(&self) -> String {
        self.0.map(|ip| ip.to_string()).unwrap_or_else(|| "unknown".into())
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientIp::of(parts, state.config.trust_forwarded_for))
    }
}

impl AppState {
    /// Whether the admin allow-list (if any) admits `ip`.
    pub fn admits(&self, ip: ClientIp) -> ApiResult<()> {
        let list = &self.config.admin_allow_list;
        if list.is_empty() || ip.0.is_some_and(|ip| list.iter().any(|net| net.contains(&ip))) {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "ip_not_allowed",
            "admin access is not allowed from this network",
        ))
    }
}

/// Middleware for `/api/admin/*`: the IP allow-list, before anything else.
pub async fn admin_network(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let ip = ClientIp::of(&parts, state.config.trust_forwarded_for);
    if let Err(e) = state.admits(ip) {
        return e.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}
