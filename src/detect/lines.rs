//! Splits the child's raw stderr bytes into bounded lines.
//!
//! Bytes arrive in arbitrary chunks (a line may span many reads, a read may hold many lines).
//! [`LineSplitter`] hands out each complete line once, without its `\n` and without a trailing
//! `\r`, decoded lossily (invalid UTF-8 becomes U+FFFD, never an error).
//!
//! It must never buffer more than `max_line_bytes` however long a line is: a program that
//! writes a gigabyte without a newline costs `max_line_bytes` of memory. The head of an
//! over-long line is kept (cut at a character boundary) and the rest is dropped up to the newline.

/// Turns a stream of byte chunks into lines of at most `max_line_bytes` bytes.
#[derive(Debug)]
pub struct LineSplitter {
    max: usize,
    buf: Vec<u8>,
    /// The current line was longer than `max`: drop bytes until its newline.
    discarding: bool,
}

impl LineSplitter {
    /// A splitter whose lines are at most `max_line_bytes` bytes (at least 1).
    pub fn new(max_line_bytes: usize) -> LineSplitter {
        LineSplitter {
            max: max_line_bytes.max(1),
            buf: Vec::new(),
            discarding: false,
        }
    }

    /// Feeds a chunk; calls `emit` once for each line the chunk completes, in order.
    pub fn push(&mut self, bytes: &[u8], emit: &mut impl FnMut(String)) {
        let mut rest = bytes;
        while !rest.is_empty() {
            match rest.iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    self.append(&rest[..nl]);
                    emit(self.take_line());
                    rest = &rest[nl + 1..];
                }
                None => {
                    self.append(rest);
                    break;
                }
            }
        }
    }

    /// End of stream: the last line if it had no newline (or was cut and not yet handed out).
    pub fn finish(&mut self) -> Option<String> {
        if self.buf.is_empty() && !self.discarding {
            return None;
        }
        Some(self.take_line())
    }

    /// Bytes of the current unfinished line held in memory (never more than `max_line_bytes`).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes allocated for the current line; stays at or under `max_line_bytes`.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    fn append(&mut self, part: &[u8]) {
        if self.discarding {
            return;
        }
        let room = self.max - self.buf.len();
        let (keep, overflow) = if part.len() > room {
            (&part[..room], true)
        } else {
            (part, false)
        };
        // Grow by doubling but never past `max`, so the allocation itself stays bounded
        // (a plain `extend` could round the capacity up beyond the limit).
        let needed = self.buf.len() + keep.len();
        if needed > self.buf.capacity() {
            let target = needed.max(self.buf.capacity() * 2).max(64).min(self.max);
            self.buf.reserve_exact(target - self.buf.len());
        }
        self.buf.extend_from_slice(keep);
        if overflow {
            self.discarding = true;
        }
    }

    fn take_line(&mut self) -> String {
        let mut end = self.buf.len();
        if self.discarding {
            // The cut may have split a multi-byte character: drop its partial bytes rather
            // than turning them into a replacement character.
            end = char_boundary_before(&self.buf, end);
        } else if self.buf.last() == Some(&b'\r') {
            end -= 1;
        }
        let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.clear();
        self.discarding = false;
        // A huge line's allocation is not kept for the ordinary lines that follow.
        if self.buf.capacity() > 4096 {
            self.buf.shrink_to(4096);
        }
        line
    }
}

/// The largest `end' <= end` such that `bytes[..end']` does not finish inside a UTF-8 sequence.
fn char_boundary_before(bytes: &[u8], end: usize) -> usize {
    // A UTF-8 character is at most 4 bytes: look back for the lead byte of the last one.
    for back in 1..=end.min(4) {
        let i = end - back;
        let b = bytes[i];
        if b & 0xC0 == 0x80 {
            continue; // continuation byte
        }
        let len = match b {
            0x00..=0x7F => 1,
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1, // not a lead byte: invalid anyway, keep it for the lossy decoder
        };
        return if i + len > end { i } else { end };
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(max: usize, chunks: &[&[u8]]) -> Vec<String> {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut |l| out.push(l));
        }
        out.extend(s.finish());
        out
    }

    #[test]
    fn lines_across_chunks() {
        assert_eq!(
            split(100, &[b"ab", b"c\nde\r\n", b"\nf"]),
            ["abc", "de", "", "f"]
        );
    }

    #[test]
    fn no_trailing_line_after_final_newline() {
        assert_eq!(split(100, &[b"a\n"]), ["a"]);
    }

    #[test]
    fn long_line_is_cut_at_a_char_boundary() {
        // "é" is two bytes: a cut at 3 bytes would split the second one.
        let out = split(3, &["éé tail\nab\n".as_bytes()]);
        assert_eq!(out, ["é", "ab"]);
    }

    #[test]
    fn long_line_without_newline_is_cut_at_finish() {
        assert_eq!(split(4, &[b"abcdefgh", b"ijk"]), ["abcd"]);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(split(100, &[b"a\xffb\n"]), ["a\u{FFFD}b"]);
    }

    #[test]
    fn boundary_helper() {
        assert_eq!(char_boundary_before("aé".as_bytes(), 2), 1);
        assert_eq!(char_boundary_before("aé".as_bytes(), 3), 3);
        assert_eq!(char_boundary_before("€".as_bytes(), 2), 0);
        assert_eq!(char_boundary_before(b"ab", 2), 2);
    }
}
