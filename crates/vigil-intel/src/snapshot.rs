//! The persisted form of one source's advisories: what the matcher needs to start, without
//! re-reading or re-parsing the feed.
//!
//! Layout: the 8-byte magic `VGLINTEL`, a little-endian `u32` format number, then the
//! [`SourceSnapshot`] in postcard (compact, varint-encoded serde). A snapshot holds classified
//! [`Advisory`] values — affected sets already refined, CWEs, severity, IOCs — and, for each,
//! the byte span of its published JSON in the source's record pack (for `vigil intel show`).
//! Loading is a decode (no JSON) plus compiling the affected sets, which the index does in
//! parallel. A snapshot of another format number is refused with a message that says to
//! re-import; corrupted bytes are an error, never a panic (postcard bounds every length by
//! the input).
//!
//! These bytes are self-contained, so the server can keep them in its store as one blob per
//! source.

use serde::{Deserialize, Serialize};

use crate::advisory::Advisory;

const MAGIC: &[u8; 8] = b"VGLINTEL";
/// The snapshot format number; bump it when [`Advisory`] or this layout changes.
pub const FORMAT: u32 = 1;

/// Where a record's published JSON sits in the record pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSpan {
    /// Byte offset.
    pub offset: u64,
    /// Byte length.
    pub len: u64,
}

/// One advisory and where its record is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredAdvisory {
    /// The advisory.
    pub advisory: Advisory,
    /// Its record in the pack.
    pub record: RecordSpan,
}

/// All advisories of one source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceSnapshot {
    /// The source name.
    pub source: String,
    /// Its advisories.
    pub advisories: Vec<StoredAdvisory>,
}

impl SourceSnapshot {
    /// Encodes with the magic and format number.
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(64 + self.advisories.len() * 256);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT.to_le_bytes());
        postcard::to_extend(self, out).map_err(|e| format!("cannot encode snapshot: {e}"))
    }

    /// Decodes, checking the magic and format number.
    pub fn decode(bytes: &[u8]) -> Result<SourceSnapshot, String> {
        let (snapshot, rest) = postcard::take_from_bytes::<SourceSnapshot>(body(bytes)?)
            .map_err(|e| format!("corrupt snapshot: {e}"))?;
        if !rest.is_empty() {
            return Err(format!("corrupt snapshot: {} trailing bytes", rest.len()));
        }
        Ok(snapshot)
    }

    /// Decodes like [`SourceSnapshot::decode`], also giving the byte span of each advisory in
    /// `bytes`, so that one advisory can later be decoded alone ([`decode_advisory`]): the
    /// persisted matcher points into snapshots this way.
    pub(crate) fn decode_with_spans(
        bytes: &[u8],
    ) -> Result<(SourceSnapshot, Vec<RecordSpan>), String> {
        let corrupt = |e: postcard::Error| format!("corrupt snapshot: {e}");
        let start = bytes.len();
        // postcard writes a struct as its fields in order and a sequence as a varint length
        // followed by the elements, so the elements can be taken one by one.
        let (source, mut rest) =
            postcard::take_from_bytes::<String>(body(bytes)?).map_err(corrupt)?;
        let (count, after) = postcard::take_from_bytes::<u64>(rest).map_err(corrupt)?;
        rest = after;
        // Every element takes at least one byte: bound the allocation by the input.
        let mut advisories =
            Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(rest.len()));
        let mut spans = Vec::with_capacity(advisories.capacity());
        for _ in 0..count {
            let offset = start - rest.len();
            let (advisory, after) =
                postcard::take_from_bytes::<StoredAdvisory>(rest).map_err(corrupt)?;
            spans.push(RecordSpan {
                offset: offset as u64,
                len: (rest.len() - after.len()) as u64,
            });
            advisories.push(advisory);
            rest = after;
        }
        if !rest.is_empty() {
            return Err(format!("corrupt snapshot: {} trailing bytes", rest.len()));
        }
        Ok((SourceSnapshot { source, advisories }, spans))
    }
}

/// Decodes one advisory from the bytes of its span (see
/// [`SourceSnapshot::decode_with_spans`]).
pub(crate) fn decode_advisory(bytes: &[u8]) -> Result<StoredAdvisory, String> {
    let (advisory, rest) = postcard::take_from_bytes::<StoredAdvisory>(bytes)
        .map_err(|e| format!("corrupt snapshot entry: {e}"))?;
    if !rest.is_empty() {
        return Err(format!(
            "corrupt snapshot entry: {} trailing bytes",
            rest.len()
        ));
    }
    Ok(advisory)
}

/// The postcard body after the magic and a supported format number.
fn body(bytes: &[u8]) -> Result<&[u8], String> {
    let body = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or("not a vigil intel snapshot (bad magic)")?;
    let (format, body) = body
        .split_first_chunk::<4>()
        .ok_or("truncated snapshot header")?;
    let format = u32::from_le_bytes(*format);
    if format != FORMAT {
        return Err(format!(
            "snapshot format {format}, this vigil reads {FORMAT}: re-import or re-sync the source"
        ));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisory::RecordOrigin;
    use vigil_core::osv::OsvRecord;

    fn sample() -> SourceSnapshot {
        let record: OsvRecord = serde_json::from_str(
            r#"{"id":"MAL-2025-47141","aliases":["GHSA-qjqf-7j6f-82c4"],"modified":"2025-09-17T00:29:08Z",
                "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
                "affected":[{"package":{"ecosystem":"npm","name":"@ctrl/tinycolor"},
                  "ranges":[{"type":"SEMVER","events":[{"introduced":"4.1.1"},{"last_affected":"4.1.2"}]}],
                  "versions":["4.1.1"]}],
                "database_specific":{"iocs":{"urls":["https://evil.example/"]}}}"#,
        )
        .unwrap();
        let advisory = Advisory::from_record(
            &record,
            RecordOrigin {
                source: "s".into(),
                location: "x.json".into(),
                line: Some(3),
            },
        );
        SourceSnapshot {
            source: "s".into(),
            advisories: vec![StoredAdvisory {
                advisory,
                record: RecordSpan { offset: 0, len: 10 },
            }],
        }
    }

    #[test]
    fn round_trips() {
        let snap = sample();
        let bytes = snap.encode().unwrap();
        assert_eq!(SourceSnapshot::decode(&bytes).unwrap(), snap);
    }

    #[test]
    fn spans_decode_each_advisory_alone() {
        let mut snap = sample();
        let mut second = snap.advisories[0].clone();
        second.advisory.id = "MAL-2".into();
        snap.advisories.push(second);
        let bytes = snap.encode().unwrap();
        let (decoded, spans) = SourceSnapshot::decode_with_spans(&bytes).unwrap();
        assert_eq!(decoded, snap);
        assert_eq!(spans.len(), 2);
        for (span, want) in spans.iter().zip(&snap.advisories) {
            let slice = &bytes[span.offset as usize..(span.offset + span.len) as usize];
            assert_eq!(&decode_advisory(slice).unwrap(), want);
        }
        for cut in 0..bytes.len() {
            assert!(
                SourceSnapshot::decode_with_spans(&bytes[..cut]).is_err(),
                "{cut}"
            );
        }
    }

    #[test]
    fn refuses_damage_without_panicking() {
        let bytes = sample().encode().unwrap();
        assert!(SourceSnapshot::decode(b"nope").is_err());
        let mut other = bytes.clone();
        other[8] = 99;
        assert!(
            SourceSnapshot::decode(&other)
                .unwrap_err()
                .contains("re-import")
        );
        for cut in 0..bytes.len() {
            assert!(SourceSnapshot::decode(&bytes[..cut]).is_err(), "{cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(SourceSnapshot::decode(&extra).is_err());
    }

    proptest::proptest! {
        #[test]
        fn corrupted_bytes_never_panic(flips in proptest::collection::vec((0usize..4096, proptest::num::u8::ANY), 1..8)) {
            let mut bytes = sample().encode().unwrap();
            let len = bytes.len();
            for (at, value) in flips {
                bytes[12 + at % (len - 12)] = value;
            }
            let _ = SourceSnapshot::decode(&bytes);
        }
    }
}
