//! The HTTP API (PRODUCT.md §6), axum over the detection engine and the store.
//!
//! | route | scope | does |
//! |---|---|---|
//! | `POST /api/v1/inventory` | `ingest` | apply an agent snapshot (gzip/zstd), detect, answer what changed |
//! | `POST /api/v1/query` | `read` | run a pipeline: `{columns, records, took_ms, truncated}` |
//! | `GET /api/v1/findings` | `read` | list findings (`status`, `host`, `advisory`, `after`, `limit`) |
//! | `GET /api/v1/findings/{id}` | `read` | one finding |
//! | `POST /api/v1/findings/{id}/{ack\|resolve\|mute}` | `write` | status change (mute: `{"reason"}`; resolve: `{"thaw": true}` undoes freezes) |
//! | `POST /api/v1/intel` | `admin` | import OSV JSON or a custom list (`?name=`, `?kind=osv\|list\|csv`) |
//! | `POST /api/v1/tokens` | `admin` | create a token (`{"name", "scopes"}`) |
//! | `GET /api/v1/workflows/runs` | `read` | workflow runs (outbox items; `status`, `finding`, `limit`), newest first |
//! | `POST /api/v1/workflows/runs/{id}/retry` | `write` | a dead run back to pending, attempts reset |
//! | `GET /api/v1/metrics/mttx` | `read` | MTTD/MTTA/MTTI, aggregated and per finding |
//! | `GET /metrics` | `read` | Prometheus text |
//! | `GET /healthz` | none | liveness |
//!
//! Scopes: `admin` allows everything, `write` allows `read`; `ingest` allows only ingest (an
//! agent's token cannot read the fleet's inventory). Tokens are verified against their
//! SHA-256 in the store. A missing or unknown token is 401, a token without the scope 403.
//! Every error is `{"message", "span", "hint"}` (span and hint set for query errors).
//!
//! Store work runs on blocking threads; handlers never block the async runtime.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use vigil_intel::{AdvisoryIndex, ImportOptions};
use vigil_store::{
    FindingFilter, FindingId, FindingRecord, FindingStatus, OutboxId, OutboxStatus, Store,
    StoreError, Timestamp, TokenInfo,
};
use vigil_workflow::ActionServices;

use crate::engine::Detector;
use crate::event::{Description, payload};
use crate::intel::UploadKind;
use crate::lifecycle::{Lifecycle, LifecycleError, StatusAction, describe_from_store};
use crate::metrics::{Gauges, Metrics};
use crate::outbox::{RetryOutcome, StoreOutbox, run_json};
use crate::query::{DEFAULT_LIMIT, QueryFailure, run_query};
use crate::snapshot::{self, SnapshotError};

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Send snapshots.
    Ingest,
    /// Query, list findings, read metrics.
    Read,
    /// Change finding statuses.
    Write,
    /// Import intel, create tokens.
    Admin,
}

impl Scope {
    /// Every scope, as spelled in tokens.
    pub const ALL: [&'static str; 4] = ["ingest", "read", "write", "admin"];

    /// `ingest`, `read`, `write`, `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }

    /// Whether a token with `scopes` may do what needs `self`.
    pub fn allowed_by(self, scopes: &[String]) -> bool {
        scopes.iter().any(|s| match s.as_str() {
            "admin" => true,
            "write" => matches!(self, Scope::Write | Scope::Read),
            "read" => self == Scope::Read,
            "ingest" => self == Scope::Ingest,
            _ => false,
        })
    }
}

/// Request size limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest body as sent.
    pub max_body_bytes: usize,
    /// Largest snapshot once decoded.
    pub max_snapshot_bytes: usize,
}

/// Everything the handlers share.
pub struct AppState {
    /// The detection engine (and through it the store, intel, workflows).
    pub detector: Arc<Detector>,
    /// Status changes.
    pub lifecycle: Lifecycle,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Size limits.
    pub limits: Limits,
    /// Action services for `resolve` with `thaw` (quarantine runs on this host).
    pub services: Option<ActionServices>,
}

impl AppState {
    fn store(&self) -> &Arc<Store> {
        self.detector.store()
    }
}

/// An error answer: `{"message", "span", "hint"}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    span: Option<(usize, usize)>,
    hint: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            span: None,
            hint: None,
        }
    }

    fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Busy { .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "message": self.message,
            "span": self.span.map(|(start, end)| json!({"start": start, "end": end})),
            "hint": self.hint,
        });
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"vigil\""),
            );
        }
        response
    }
}

type ApiResult<T> = Result<T, ApiError>;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("worker failed: {e}")))?
}

/// Checks the bearer token for `need`.
async fn authorize(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    need: Scope,
) -> ApiResult<TokenInfo> {
    let refuse = |status, message: &str| {
        state.metrics.auth_failures.fetch_add(1, Ordering::Relaxed);
        Err(ApiError::new(status, message))
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "missing bearer token (Authorization: Bearer vgl_…)",
        );
    };
    let secret = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if secret.is_empty() || secret.len() > 256 {
        return refuse(StatusCode::UNAUTHORIZED, "malformed Authorization header");
    }
    let store = Arc::clone(state.store());
    let token = blocking(move || Ok(store.verify_token(&secret, Timestamp::now())?)).await?;
    let Some(token) = token else {
        return refuse(StatusCode::UNAUTHORIZED, "unknown or revoked token");
    };
    if !need.allowed_by(&token.scopes) {
        return refuse(
            StatusCode::FORBIDDEN,
            &format!(
                "token {:?} lacks the `{}` scope (it has: {})",
                token.name,
                need.as_str(),
                token.scopes.join(", ")
            ),
        );
    }
    Ok(token)
}

/// The router.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.limits.max_body_bytes;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(prometheus))
        .route("/api/v1/inventory", post(inventory))
        .route("/api/v1/query", post(query))
        .route("/api/v1/findings", get(list_findings))
        .route("/api/v1/findings/{id}", get(one_finding))
        .route("/api/v1/findings/{id}/{action}", post(finding_action))
        .route("/api/v1/intel", post(import_intel))
        .route("/api/v1/tokens", post(create_token))
        .route("/api/v1/workflows/runs", get(list_runs))
        .route("/api/v1/workflows/runs/{id}/retry", post(retry_run))
        .route("/api/v1/metrics/mttx", get(mttx))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), count))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn count(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    state.metrics.request(&route, response.status().as_u16());
    response
}

async fn healthz(State(state): State<Arc<AppState>>) -> ApiResult<Json<Value>> {
    let store = Arc::clone(state.store());
    let version = blocking(move || Ok(store.schema_version()?)).await?;
    Ok(Json(json!({"status": "ok", "schema_version": version})))
}

fn millis(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

async fn inventory(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Scope::Ingest).await?;
    let started = Instant::now();
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let limit = state.limits.max_snapshot_bytes;
    let metrics = Arc::clone(&state.metrics);
    let detector = Arc::clone(&state.detector);
    let reject = move |e: SnapshotError| {
        metrics.snapshots_rejected.fetch_add(1, Ordering::Relaxed);
        let status = match e {
            SnapshotError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            SnapshotError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.to_string())
    };
    let report = blocking(move || {
        let decoded = snapshot::decode_body(&body, encoding.as_deref(), limit).map_err(&reject)?;
        let snapshot = snapshot::parse(&decoded)
            .and_then(snapshot::AgentSnapshot::into_store)
            .map_err(&reject)?;
        Ok(detector.ingest(&snapshot, Timestamp::now())?)
    })
    .await?;
    let mut value = serde_json::to_value(&report).map_err(ApiError::internal)?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert("took_ms".into(), json!(millis(started)));
    }
    Ok(Json(value))
}

#[derive(Deserialize)]
struct QueryBody {
    query: String,
    #[serde(default)]
    default_limit: Option<u64>,
}

async fn query(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Scope::Read).await?;
    let started = Instant::now();
    let request: QueryBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the body must be {{\"query\": \"fetch …\"}}: {e}"),
        )
    })?;
    state.metrics.queries.fetch_add(1, Ordering::Relaxed);
    let store = Arc::clone(state.store());
    let result = blocking(move || {
        run_query(
            &store,
            &request.query,
            Timestamp::now(),
            request.default_limit.unwrap_or(DEFAULT_LIMIT),
        )
        .map_err(|e| match e {
            QueryFailure::Query(q) => ApiError {
                status: StatusCode::BAD_REQUEST,
                message: q.message,
                span: Some((q.span.start, q.span.end)),
                hint: q.hint,
            },
            QueryFailure::Store(s) => ApiError::from(s),
        })
    })
    .await?;
    let mut value = result.to_json();
    if let Some(obj) = value.as_object_mut() {
        obj.insert("took_ms".into(), json!(millis(started)));
    }
    Ok(Json(value))
}

/// What the advisories behind a finding say, from the index in use (the store's mirror when
/// the index no longer has them).
fn describe(index: &AdvisoryIndex, store: &Store, f: &FindingRecord) -> Description {
    let mut d = Description {
        kind: "VULNERABILITY".into(),
        ..Description::default()
    };
    let mut found = false;
    for id in std::iter::once(&f.advisory_id).chain(&f.aliases) {
        let Some(a) = index.by_id(id) else { continue };
        found = true;
        if a.kind == vigil_intel::AdvisoryKind::Malicious {
            d.kind = "MALICIOUS".into();
        }
        if d.title.is_none() {
            d.title = a.summary.clone();
        }
        for cwe in &a.cwes {
            if !d.cwes.contains(cwe) {
                d.cwes.push(cwe.clone());
            }
        }
    }
    if found {
        d
    } else {
        describe_from_store(store, f).unwrap_or(d)
    }
}

/// A finding as the API shows it: the §5 fields plus its lifecycle timestamps.
pub fn finding_json(f: &FindingRecord, d: &Description) -> Value {
    let mut map = payload(f, d);
    map.insert("finding.id".into(), json!(f.id.0.to_string()));
    map.insert("finding.mute_reason".into(), json!(f.mute_reason));
    for (key, ts) in [
        ("detected_at", Some(f.detected_at)),
        ("acknowledged_at", f.acknowledged_at),
        ("resolved_at", f.resolved_at),
        ("updated_at", Some(f.updated_at)),
    ] {
        map.insert(key.into(), json!(ts.map(Timestamp::to_rfc3339)));
    }
    Value::Object(map)
}

#[derive(Deserialize)]
struct FindingsParams {
    status: Option<String>,
    host: Option<String>,
    advisory: Option<String>,
    after: Option<i64>,
    limit: Option<usize>,
}

async fn list_findings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<FindingsParams>,
) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Scope::Read).await?;
    let mut statuses = Vec::new();
    for s in params.status.iter().flat_map(|s| s.split(',')) {
        let s = s.trim().to_ascii_uppercase();
        if s.is_empty() {
            continue;
        }
        statuses.push(FindingStatus::parse(&s).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("unknown status {s:?}: use NEW, ACKNOWLEDGED, RESOLVED, MUTED"),
            )
        })?);
    }
    let limit = params.limit.unwrap_or(1000).clamp(1, 10_000);
    let filter = FindingFilter {
        statuses,
        host_name: params.host,
        advisory_id: params.advisory,
        after: params.after.map(FindingId),
        limit,
    };
    let store = Arc::clone(state.store());
    let index = state.detector.intel().index();
    let findings = blocking(move || {
        let list = store.list_findings(&filter)?;
        Ok(list
            .iter()
            .map(|f| finding_json(f, &describe(&index, &store, f)))
            .collect::<Vec<_>>())
    })
    .await?;
    let next = (findings.len() == limit)
        .then(|| findings.last().and_then(|f| f.get("finding.id").cloned()))
        .flatten();
    Ok(Json(json!({"findings": findings, "next_after": next})))
}

fn finding_id(text: &str) -> ApiResult<FindingId> {
    text.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(FindingId)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("{text:?} is not a finding id"),
            )
        })
}

async fn one_finding(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Scope::Read).await?;
    let id = finding_id(&id)?;
    let store = Arc::clone(state.store());
    let index = state.detector.intel().index();
    blocking(move || match store.finding(id)? {
        Some(f) => Ok(Json(finding_json(&f, &describe(&index, &store, &f)))),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("finding {} does not exist", id.0),
        )),
    })
    .await
}

#[derive(Deserialize, Default)]
struct ActionBody {
    reason: Option<String>,
    #[serde(default)]
    thaw: bool,
}

async fn finding_action(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let token = authorize(&state, &headers, Scope::Write).await?;
    let id = finding_id(&id)?;
    let body: ActionBody = if body.iter().all(u8::is_ascii_whitespace) {
        ActionBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("the body must be {{\"reason\": \"…\"}}: {e}"),
            )
        })?
    };
    let thaw = body.thaw;
    let action = StatusAction::parse(&action, body.reason).map_err(lifecycle_error)?;
    if thaw && action != StatusAction::Resolve {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "thaw goes with resolve",
        ));
    }
    let st = Arc::clone(&state);
    blocking(move || {
        let outcome = st
            .lifecycle
            .change(id, &action, Some(&token.name), Timestamp::now())
            .map_err(lifecycle_error)?;
        if outcome.changed {
            st.metrics.status_changes.fetch_add(1, Ordering::Relaxed);
            st.metrics.events.fetch_add(1, Ordering::Relaxed);
            st.metrics
                .tasks_enqueued
                .fetch_add(outcome.enqueued as u64, Ordering::Relaxed);
        }
        let thawed = if thaw {
            let services = st.services.as_ref().ok_or_else(|| {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "this server runs no actions, so it cannot thaw",
                )
            })?;
            let outbox = StoreOutbox::new(Arc::clone(st.store()));
            vigil_workflow::thaw_finding(
                st.detector.workflows(),
                &outbox,
                &id.0.to_string(),
                services,
            )
            .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, e.message))?
        } else {
            Vec::new()
        };
        let index = st.detector.intel().index();
        let mut value = finding_json(
            &outcome.finding,
            &describe(&index, st.store(), &outcome.finding),
        );
        if let Some(obj) = value.as_object_mut() {
            obj.insert("changed".into(), json!(outcome.changed));
            obj.insert(
                "finding.previous_status".into(),
                json!(outcome.previous.as_str()),
            );
            obj.insert("event.id".into(), json!(outcome.event_id));
            obj.insert("thawed".into(), json!(thawed));
        }
        Ok(Json(value))
    })
    .await
}

fn lifecycle_error(e: LifecycleError) -> ApiError {
    let status = match &e {
        LifecycleError::NotFound(_) => StatusCode::NOT_FOUND,
        LifecycleError::Conflict(_) => StatusCode::CONFLICT,
        LifecycleError::Invalid(_) => StatusCode::BAD_REQUEST,
        LifecycleError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError::new(status, e.to_string())
}

#[derive(Deserialize)]
struct RunsParams {
    status: Option<String>,
    finding: Option<String>,
    limit: Option<usize>,
}

async fn list_runs(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<RunsParams>,
) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Scope::Read).await?;
    let status = match params.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(OutboxStatus::parse(&s.to_ascii_lowercase()).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("unknown status {s:?}: use pending, in_flight, delivered or dead"),
            )
        })?),
    };
    let finding = match params.finding.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(f) => Some(finding_id(f)?),
    };
    let limit = params.limit.unwrap_or(1000).clamp(1, 10_000);
    let store = Arc::clone(state.store());
    let workflows = Arc::clone(state.detector.workflows());
    let runs = blocking(move || {
        Ok(store
            .list_outbox_for(status, finding, limit)?
            .iter()
            .map(|item| run_json(item, &workflows))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(json!({ "runs": runs })))
}

async fn retry_run(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Scope::Write).await?;
    let Some(id) = id.parse::<i64>().ok().filter(|n| *n > 0).map(OutboxId) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{id:?} is not a run id"),
        ));
    };
    let store = Arc::clone(state.store());
    let workflows = Arc::clone(state.detector.workflows());
    blocking(
        move || match crate::outbox::retry_run(&store, id, Timestamp::now())? {
            RetryOutcome::Requeued(item) => Ok(Json(run_json(&item, &workflows))),
            RetryOutcome::NotDead(status) => Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "run {} is {}, not dead: only dead runs are retried",
                    id.0,
                    status.as_str()
                ),
            )),
            RetryOutcome::NotFound => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("run {} does not exist", id.0),
            )),
        },
    )
    .await
}

#[derive(Deserialize)]
struct IntelParams {
    name: Option<String>,
    kind: Option<String>,
    ecosystem: Option<String>,
}

async fn import_intel(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<IntelParams>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Scope::Admin).await?;
    let started = Instant::now();
    let kind = match (&params.kind, headers.get(header::CONTENT_TYPE)) {
        (Some(k), _) => Some(UploadKind::parse(k).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("unknown kind {k:?}: use osv, list or csv"),
            )
        })?),
        (None, Some(ct)) => ct.to_str().ok().and_then(UploadKind::parse),
        (None, None) => None,
    };
    let name = params
        .name
        .unwrap_or_else(|| format!("api-{}", Timestamp::now().unix_millis()));
    let name = vigil_intel::import::slug(&name);
    let mut options = ImportOptions::default();
    if let Some(e) = &params.ecosystem {
        options.default_ecosystem = vigil_core::Ecosystem::parse(e);
    }
    let detector = Arc::clone(&state.detector);
    let value = blocking(move || {
        let intel = detector.intel();
        let _changing = intel.changing();
        let source = intel
            .import_bytes(&body, kind, &name, &options)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
        let (report, warnings) = detector
            .reload_intel(Timestamp::now())
            .map_err(ApiError::internal)?;
        Ok(json!({
            "source": {
                "name": source.name,
                "kind": source.kind.map(|k| k.as_str()),
                "advisories": source.advisories,
                "skipped_total": source.skipped_total,
                "skipped": source.skipped.iter().take(20).collect::<Vec<_>>(),
            },
            "warnings": warnings,
            "detection": report,
        }))
    })
    .await?;
    let mut value = value;
    if let Some(obj) = value.as_object_mut() {
        obj.insert("took_ms".into(), json!(millis(started)));
    }
    Ok(Json(value))
}

#[derive(Deserialize)]
struct TokenBody {
    name: String,
    scopes: Vec<String>,
}

async fn create_token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Scope::Admin).await?;
    let request: TokenBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the body must be {{\"name\", \"scopes\"}}: {e}"),
        )
    })?;
    validate_scopes(&request.scopes).map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, m))?;
    let store = Arc::clone(state.store());
    blocking(move || {
        let token = store.create_token(&request.name, &request.scopes, Timestamp::now())?;
        Ok(Json(json!({
            "id": token.id.0,
            "name": request.name,
            "scopes": request.scopes,
            "secret": token.secret,
        })))
    })
    .await
}

/// Scopes must be known and at least one.
pub fn validate_scopes(scopes: &[String]) -> Result<(), String> {
    if scopes.is_empty() {
        return Err("a token needs at least one scope".into());
    }
    for s in scopes {
        if !Scope::ALL.contains(&s.as_str()) {
            return Err(format!(
                "unknown scope {s:?}: use {}",
                Scope::ALL.join(", ")
            ));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct MttxParams {
    limit: Option<usize>,
}

async fn mttx(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<MttxParams>,
) -> ApiResult<Json<Value>> {
    authorize(&state, &headers, Scope::Read).await?;
    let store = Arc::clone(state.store());
    let limit = params.limit.unwrap_or(1000);
    let m = blocking(move || Ok(crate::mttx::compute(&store.finding_timings()?, limit))).await?;
    Ok(Json(serde_json::to_value(m).map_err(ApiError::internal)?))
}

async fn prometheus(State(state): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult<Response> {
    authorize(&state, &headers, Scope::Read).await?;
    let store = Arc::clone(state.store());
    let advisories = state.detector.intel().index().len();
    let gauges = blocking(move || {
        let rows = store.query(
            "SELECT status, count(*) FROM findings GROUP BY status ORDER BY status",
            &[],
            16,
        )?;
        let findings = rows
            .rows
            .into_iter()
            .filter_map(|r| match (r.first(), r.get(1)) {
                (Some(vigil_store::SqlValue::Text(s)), Some(vigil_store::SqlValue::Integer(n))) => {
                    Some((s.clone(), u64::try_from(*n).unwrap_or(0)))
                }
                _ => None,
            })
            .collect();
        let o = store.outbox_counts()?;
        Ok(Gauges {
            findings,
            outbox: vec![
                ("pending", o.pending),
                ("in_flight", o.in_flight),
                ("delivered", o.delivered),
                ("dead", o.dead),
            ],
            advisories,
            mttx: crate::mttx::compute(&store.finding_timings()?, 0),
        })
    })
    .await?;
    let text = state.metrics.render(&gauges);
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}
