//! API tokens, stored hashed (PostgreSQL).

use ::postgres::Row;

use super::{Tx, get};
use crate::codec::{from_json, opt_ts, to_json};
use crate::error::Result;
use crate::time::Timestamp;
use crate::token::{NewToken, TokenId, TokenInfo, generate_secret, secret_hash};

/// `last_used_at` is refreshed at most this often per token (as on SQLite).
const LAST_USED_PRECISION_MS: i64 = 60_000;

const TOKEN_SELECT: &str =
    "SELECT id, name, scopes::text, created_at, last_used_at, revoked_at FROM api_tokens";

fn token_from_row(row: &Row) -> Result<TokenInfo> {
    let id: i64 = get(row, 0)?;
    Ok(TokenInfo {
        id: TokenId(id),
        name: get(row, 1)?,
        scopes: from_json("api_tokens", "scopes", id, get(row, 2)?)?,
        created_at: Timestamp::from_unix_millis(get(row, 3)?),
        last_used_at: opt_ts(get(row, 4)?),
        revoked_at: opt_ts(get(row, 5)?),
    })
}

/// Creates a token; its secret is returned once and stored only as a hash.
pub(crate) fn create_token(
    tx: &Tx,
    name: &str,
    scopes: &[String],
    now: Timestamp,
) -> Result<NewToken> {
    let secret = generate_secret()?;
    let scopes = to_json("token scopes", scopes)?;
    let row = tx.conn()?.query_one(
        "create token",
        "INSERT INTO api_tokens (name, scopes, secret_sha256, created_at)
         VALUES ($1, $2::text::jsonb, $3, $4) RETURNING id",
        &[&name, &scopes, &secret_hash(&secret), &now.unix_millis()],
    )?;
    Ok(NewToken {
        id: TokenId(get(&row, 0)?),
        secret,
    })
}

/// The token whose secret this is, unless unknown or revoked, and whether `last_used_at`
/// needs refreshing.
pub(crate) fn find_token(
    tx: &Tx,
    secret: &str,
    now: Timestamp,
) -> Result<Option<(TokenInfo, bool)>> {
    let row = tx.conn()?.query_opt(
        "verify token",
        &format!("{TOKEN_SELECT} WHERE secret_sha256 = $1 AND revoked_at IS NULL"),
        &[&secret_hash(secret)],
    )?;
    let Some(row) = row else {
        return Ok(None);
    };
    let info = token_from_row(&row)?;
    let stale = info.last_used_at.is_none_or(|t| {
        now.unix_millis().saturating_sub(t.unix_millis()) >= LAST_USED_PRECISION_MS
    });
    Ok(Some((info, stale)))
}

/// Records a use of a token.
pub(crate) fn touch_token(tx: &Tx, id: TokenId, now: Timestamp) -> Result<()> {
    tx.conn()?.execute(
        "touch token",
        "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1",
        &[&id.0, &now.unix_millis()],
    )?;
    Ok(())
}

/// Revokes a token; whether it existed and was live.
pub(crate) fn revoke_token(tx: &Tx, id: TokenId, now: Timestamp) -> Result<bool> {
    let n = tx.conn()?.execute(
        "revoke token",
        "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        &[&id.0, &now.unix_millis()],
    )?;
    Ok(n == 1)
}

/// Every token, by id.
pub(crate) fn tokens(tx: &Tx) -> Result<Vec<TokenInfo>> {
    tx.conn()?
        .query("read tokens", &format!("{TOKEN_SELECT} ORDER BY id"), &[])?
        .iter()
        .map(token_from_row)
        .collect()
}

/// One token.
pub(crate) fn token(tx: &Tx, id: TokenId) -> Result<Option<TokenInfo>> {
    tx.conn()?
        .query_opt(
            "read token",
            &format!("{TOKEN_SELECT} WHERE id = $1"),
            &[&id.0],
        )?
        .as_ref()
        .map(token_from_row)
        .transpose()
}
