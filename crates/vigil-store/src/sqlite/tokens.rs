//! API tokens, stored hashed.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::db;
use crate::codec::{from_json, opt_ts, to_json};
use crate::error::Result;
use crate::sqlite::inventory::get;
use crate::time::Timestamp;
use crate::token::{NewToken, TokenId, TokenInfo, generate_secret, secret_hash};

/// `last_used_at` is refreshed at most this often per token (a write per request would turn
/// every API read into a database write).
const LAST_USED_PRECISION_MS: i64 = 60_000;

const TOKEN_SELECT: &str =
    "SELECT id, name, scopes, created_at, last_used_at, revoked_at FROM api_tokens";

fn token_from_row(row: &Row<'_>) -> Result<TokenInfo> {
    let id: i64 = get(row, 0)?;
    Ok(TokenInfo {
        id: TokenId(id),
        name: get(row, 1)?,
        scopes: from_json("api_tokens", "scopes", id, &get::<String>(row, 2)?)?,
        created_at: Timestamp::from_unix_millis(get(row, 3)?),
        last_used_at: opt_ts(get(row, 4)?),
        revoked_at: opt_ts(get(row, 5)?),
    })
}

/// Creates a token; its secret is returned once and stored only as a hash.
pub(crate) fn create_token(
    conn: &Connection,
    name: &str,
    scopes: &[String],
    now: Timestamp,
) -> Result<NewToken> {
    let secret = generate_secret()?;
    let scopes = to_json("token scopes", scopes)?;
    conn.prepare_cached(
        "INSERT INTO api_tokens (name, scopes, secret_sha256, created_at) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            name,
            scopes,
            secret_hash(&secret),
            now.unix_millis()
        ])
    })
    .map_err(db("create token"))?;
    Ok(NewToken {
        id: TokenId(conn.last_insert_rowid()),
        secret,
    })
}

/// The token whose secret this is, unless unknown or revoked. Returns whether `last_used_at`
/// needs refreshing, so the caller can do that write only when needed.
pub(crate) fn find_token(
    conn: &Connection,
    secret: &str,
    now: Timestamp,
) -> Result<Option<(TokenInfo, bool)>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "{TOKEN_SELECT} WHERE secret_sha256 = ?1 AND revoked_at IS NULL"
        ))
        .map_err(db("verify token"))?;
    let mut rows = stmt
        .query([secret_hash(secret)])
        .map_err(db("verify token"))?;
    let Some(row) = rows.next().map_err(db("verify token"))? else {
        return Ok(None);
    };
    let info = token_from_row(row)?;
    let stale = info.last_used_at.is_none_or(|t| {
        now.unix_millis().saturating_sub(t.unix_millis()) >= LAST_USED_PRECISION_MS
    });
    Ok(Some((info, stale)))
}

/// Records a use of a token.
pub(crate) fn touch_token(conn: &Connection, id: TokenId, now: Timestamp) -> Result<()> {
    conn.prepare_cached("UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute(params![id.0, now.unix_millis()]))
        .map_err(db("touch token"))?;
    Ok(())
}

/// Revokes a token; whether it existed and was live.
pub(crate) fn revoke_token(conn: &Connection, id: TokenId, now: Timestamp) -> Result<bool> {
    conn.prepare_cached(
        "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
    )
    .and_then(|mut stmt| stmt.execute(params![id.0, now.unix_millis()]))
    .map(|n| n == 1)
    .map_err(db("revoke token"))
}

/// Every token, by id.
pub(crate) fn tokens(conn: &Connection) -> Result<Vec<TokenInfo>> {
    let mut stmt = conn
        .prepare_cached(&format!("{TOKEN_SELECT} ORDER BY id"))
        .map_err(db("read tokens"))?;
    let mut rows = stmt.query([]).map_err(db("read tokens"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db("read tokens"))? {
        out.push(token_from_row(row)?);
    }
    Ok(out)
}

/// One token.
pub(crate) fn token(conn: &Connection, id: TokenId) -> Result<Option<TokenInfo>> {
    let mut stmt = conn
        .prepare_cached(&format!("{TOKEN_SELECT} WHERE id = ?1"))
        .map_err(db("read token"))?;
    let found = stmt
        .query_row([id.0], |row| Ok(token_from_row(row)))
        .optional()
        .map_err(db("read token"))?;
    found.transpose()
}
