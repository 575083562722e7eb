-- Advisories that vanish from the intel (a source re-imported without them, a list edited)
-- are marked removed instead of deleted: findings keep naming them (their history, the
-- description of an old finding), but `fetch advisories` — and so a `lookup` join in a query
-- or a workflow — lists only what the intel in use says. An advisory that comes back is
-- current again (the mirror's upsert clears the mark).

ALTER TABLE advisories ADD COLUMN removed_at BIGINT;

DROP VIEW q_advisories;

CREATE VIEW q_advisories AS
SELECT
    a.id                                                AS "id",
    a.aliases                                           AS "aliases",
    a.kind                                              AS "kind",
    a.summary                                           AS "summary",
    a.cwes                                              AS "cwes",
    a.severity                                          AS "severity",
    ap.ecosystem                                        AS "ecosystem",
    ap.name                                             AS "name",
    ap.versions                                         AS "versions",
    a.source                                            AS "source",
    vigil_ns(a.published)                              AS "published",
    vigil_ns(a.modified)                                AS "modified",
    vigil_ns(a.withdrawn)                               AS "withdrawn"
FROM advisories a
LEFT JOIN advisory_packages ap ON ap.advisory_id = a.id
WHERE a.removed_at IS NULL;
