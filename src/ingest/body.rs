//! A request body decompressed as its `Content-Encoding` says, through a capped reader.
//!
//! The Sentry SDKs compress what they send (sentry-python: brotli when the `brotli` module is
//! importable, else gzip at level 9). A compressed body is small on the wire and may be huge
//! once decoded: 30 MiB of zeros gzip to 30 KiB. So the decoder is read through
//! `Read::take(cap + 1)`: whatever the body claims, at most `cap + 1` bytes are ever produced,
//! and one byte past the cap is the proof that the body was too large (413).
//!
//! Decisions:
//! - `deflate` is zlib-wrapped as HTTP says (RFC 9110, 8.4.1.2); a body whose first two bytes
//!   are not a zlib header, or that fails to decode as zlib, is read as raw deflate, which some
//!   clients send under that name.
//! - `x-gzip` is `gzip` (RFC 9110 asks recipients to treat it so); gzip members written one
//!   after the other are read as one stream, as `gzip -d` does.
//! - A list of encodings (`gzip, br`) is refused with 415: no Sentry SDK sends one, and each
//!   layer would need its own cap.
//! - The brotli decoder's window is at most 16 MiB (the format's largest without the
//!   large-window extension, which is never enabled here): that and the cap bound its memory.

use std::io::Read;

use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};

use super::IngestError;
use crate::detect::python::cut;

/// The largest envelope heal accepts, decompressed (Sentry's own limit for envelopes is 200 MiB
/// with attachments; heal reads errors, and an error's envelope is kilobytes).
pub const ENVELOPE_CAP: usize = 20 * 1024 * 1024;

/// The largest event item heal accepts (Sentry's own limit is 1 MiB too).
pub const EVENT_CAP: usize = 1024 * 1024;

/// What a body is decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
}

/// `body` decoded as `content_encoding` says (none, `identity`, `gzip`, `x-gzip`, `deflate`,
/// `br`; names are case-insensitive), at most `cap` bytes of it.
///
/// Errors: an unknown encoding is 415; a body that does not decode (garbage, a stream cut
/// short) is 400; a body larger than `cap` once decoded is 413, found after reading at most
/// `cap + 1` bytes.
pub fn decode(
    content_encoding: Option<&str>,
    body: &[u8],
    cap: usize,
) -> Result<Vec<u8>, IngestError> {
    match encoding(content_encoding)? {
        Encoding::Identity if body.len() > cap => Err(too_large(cap)),
        Encoding::Identity => Ok(body.to_vec()),
        Encoding::Gzip => read_capped(MultiGzDecoder::new(body), "gzip", cap),
        Encoding::Deflate => inflate(body, cap),
        // 4 KiB is the decoder's input buffer, not a limit on what it produces.
        Encoding::Brotli => read_capped(
            brotli_decompressor::Decompressor::new(body, 4096),
            "br",
            cap,
        ),
    }
}

fn encoding(header: Option<&str>) -> Result<Encoding, IngestError> {
    let name = header.map(str::trim).unwrap_or_default();
    let is = |known: &str| name.eq_ignore_ascii_case(known);
    if name.is_empty() || is("identity") {
        Ok(Encoding::Identity)
    } else if is("gzip") || is("x-gzip") {
        Ok(Encoding::Gzip)
    } else if is("deflate") {
        Ok(Encoding::Deflate)
    } else if is("br") {
        Ok(Encoding::Brotli)
    } else {
        Err(IngestError::UnsupportedEncoding {
            encoding: cut(name, 100).to_string(),
        })
    }
}

/// zlib when the body starts like zlib and decodes as it; raw deflate otherwise.
fn inflate(body: &[u8], cap: usize) -> Result<Vec<u8>, IngestError> {
    if looks_like_zlib(body) {
        match read_capped(ZlibDecoder::new(body), "deflate", cap) {
            // One raw deflate stream in 500 or so starts with two bytes that pass the zlib
            // header check: those fail as zlib and get their second reading below.
            Err(IngestError::Decompress { .. }) => {}
            decoded => return decoded,
        }
    }
    read_capped(DeflateDecoder::new(body), "deflate", cap)
}

/// RFC 1950's header: method 8 (deflate), a window of at most 32 KiB, no preset dictionary, and
/// the two bytes a multiple of 31.
fn looks_like_zlib(body: &[u8]) -> bool {
    let [cmf, flg, ..] = *body else { return false };
    cmf & 0x0f == 8
        && cmf >> 4 <= 7
        && flg & 0x20 == 0
        && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

/// Everything `reader` produces, up to `cap` bytes; one byte more is a 413.
fn read_capped(
    reader: impl Read,
    encoding: &'static str,
    cap: usize,
) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|source| IngestError::Decompress { encoding, source })?;
    if out.len() > cap {
        return Err(too_large(cap));
    }
    Ok(out)
}

fn too_large(cap: usize) -> IngestError {
    IngestError::TooLarge {
        what: "decompressed body",
        cap,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};

    use super::*;

    const TEXT: &[u8] =
        b"{\"event_id\":\"3e4b69dbb2a840eb96e1eb84493cfd2c\"}\n{\"type\":\"event\"}\n{}\n";

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn brotli(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
            enc.write_all(data).unwrap();
        }
        out
    }

    fn status(result: Result<Vec<u8>, IngestError>) -> u16 {
        result.expect_err("expected a refusal").status()
    }

    #[test]
    fn each_encoding_round_trips() {
        let cases: [(Option<&str>, Vec<u8>); 8] = [
            (None, TEXT.to_vec()),
            (Some("identity"), TEXT.to_vec()),
            (Some(""), TEXT.to_vec()),
            (Some("gzip"), gzip(TEXT)),
            (Some(" GZip "), gzip(TEXT)),
            (Some("x-gzip"), gzip(TEXT)),
            (Some("deflate"), zlib(TEXT)),
            (Some("br"), brotli(TEXT)),
        ];
        for (encoding, body) in cases {
            let decoded = decode(encoding, &body, ENVELOPE_CAP);
            assert_eq!(decoded.unwrap(), TEXT, "{encoding:?}");
        }
    }

    #[test]
    fn deflate_also_reads_raw_deflate() {
        let body = raw_deflate(TEXT);
        assert!(!looks_like_zlib(&body));
        assert_eq!(decode(Some("deflate"), &body, ENVELOPE_CAP).unwrap(), TEXT);
    }

    #[test]
    fn concatenated_gzip_members_are_one_body() {
        let mut body = gzip(b"first ");
        body.extend(gzip(b"second"));
        assert_eq!(
            decode(Some("gzip"), &body, ENVELOPE_CAP).unwrap(),
            b"first second"
        );
    }

    #[test]
    fn r16_gzip_bomb_is_refused_after_cap_plus_one_bytes() {
        // 30 MiB of zeros compress to about 30 KiB: the decoder is stopped one byte past the
        // cap, so the refusal never holds more than 20 MiB + 1 byte.
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..30 {
            enc.write_all(&zeros).unwrap();
        }
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 100 * 1024, "bomb is {} bytes", bomb.len());
        let err = decode(Some("gzip"), &bomb, ENVELOPE_CAP).unwrap_err();
        assert_eq!(err.status(), 413);
        assert!(err.to_string().contains("larger than 20 MiB"), "{err}");
    }

    #[test]
    fn brotli_bomb_is_refused_too() {
        let bomb = brotli(&vec![0u8; 3 * 1024 * 1024]);
        assert_eq!(status(decode(Some("br"), &bomb, 1024 * 1024)), 413);
    }

    #[test]
    fn exactly_the_cap_is_accepted() {
        let data = vec![b'x'; 4096];
        assert_eq!(
            decode(Some("gzip"), &gzip(&data), 4096).unwrap().len(),
            4096
        );
        assert_eq!(decode(None, &data, 4096).unwrap().len(), 4096);
        assert_eq!(status(decode(Some("gzip"), &gzip(&data), 4095)), 413);
        assert_eq!(status(decode(None, &data, 4095)), 413);
    }

    #[test]
    fn truncated_streams_are_400() {
        let body = gzip(&[b'a'; 10_000]);
        for cut_at in [body.len() - 4, body.len() / 2, 11, 3] {
            assert_eq!(
                status(decode(Some("gzip"), &body[..cut_at], ENVELOPE_CAP)),
                400,
                "cut at {cut_at}"
            );
        }
        let body = brotli(TEXT);
        assert_eq!(
            status(decode(Some("br"), &body[..body.len() / 2], ENVELOPE_CAP)),
            400
        );
        let body = zlib(TEXT);
        assert_eq!(
            status(decode(
                Some("deflate"),
                &body[..body.len() / 2],
                ENVELOPE_CAP
            )),
            400
        );
    }

    #[test]
    fn garbage_under_a_compressed_encoding_is_400() {
        let garbage = b"this is not compressed at all, whatever the header says";
        for encoding in ["gzip", "deflate", "br"] {
            let err = decode(Some(encoding), garbage, ENVELOPE_CAP).unwrap_err();
            assert_eq!(err.status(), 400, "{encoding}");
            assert!(err.to_string().contains(encoding), "{err}");
        }
        assert_eq!(status(decode(Some("gzip"), b"", ENVELOPE_CAP)), 400);
    }

    #[test]
    fn unknown_encodings_are_415() {
        for encoding in ["zstd", "compress", "gzip, br", "gzip;q=1"] {
            let err = decode(Some(encoding), TEXT, ENVELOPE_CAP).unwrap_err();
            assert_eq!(err.status(), 415, "{encoding}");
        }
        let long = "z".repeat(10_000);
        let err = decode(Some(&long), TEXT, ENVELOPE_CAP).unwrap_err();
        assert!(err.to_string().len() < 400, "the header is quoted cut");
    }

    #[test]
    fn the_sdks_own_bodies_decode() {
        // Captured from sentry-sdk 2.75 posting to a local server (tests/fixtures/sentry/README.md).
        let gz = include_bytes!("../../tests/fixtures/sentry/uncaught.envelope.gz");
        let br = include_bytes!("../../tests/fixtures/sentry/uncaught.envelope.br");
        for (encoding, body) in [("gzip", &gz[..]), ("br", &br[..])] {
            let text = decode(Some(encoding), body, ENVELOPE_CAP).unwrap();
            assert!(text.starts_with(b"{\"event_id\":"), "{encoding}");
            assert!(text.ends_with(b"\"platform\":\"python\"}\n"), "{encoding}");
        }
    }
}
