//! `kubectl get nodes -o json`, read by a pull scanner that never builds the document: it
//! walks the few paths a node's GPUs are read from (`items[].metadata.name`,
//! `.metadata.labels`, `.status.capacity`, `.status.allocatable`), borrows the strings it
//! keeps from the input where they hold no escapes, and skips everything else while still
//! checking its syntax. An inventory of 10,000 nodes is about 100 MB of JSON as kubectl
//! indents it, most of it annotations, conditions, images and managed fields that no
//! verdict needs.

use std::borrow::Cow;

use super::{
    keep_label, keep_label_bytes, keep_resource, RawDoc, RawNode, Read, SyntaxError, MAX_DEPTH,
};

/// Reads the document, handing each List item and then the document to `sink`.
pub(super) fn parse<'a>(
    bytes: &'a [u8],
    sink: &mut dyn FnMut(Read<'_, 'a>),
) -> Result<(), SyntaxError> {
    let mut s = Scanner {
        b: bytes,
        pos: 0,
        line: 1,
    };
    // A UTF-8 byte order mark, as some Windows tools write.
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        s.pos = 3;
    }
    s.ws();
    if s.peek() != Some(b'{') {
        return Err(s.err("expected `{`: a node list or a node is a JSON object"));
    }
    let mut doc = RawDoc {
        root: RawNode {
            line: s.line,
            ..RawNode::default()
        },
        ..RawDoc::default()
    };
    s.object(0, |s, key| {
        match key.text(s)?.as_ref() {
            "kind" => {
                doc.kind_line = s.line;
                doc.kind = Some(s.string()?);
            }
            "items" => {
                let mut node = RawNode {
                    labels: Vec::with_capacity(64),
                    ..RawNode::default()
                };
                s.array(1, |s| {
                    s.ws();
                    if s.peek() != Some(b'{') {
                        return Err(s.err("expected `{`: each item of a node list is an object"));
                    }
                    node.reset(s.line);
                    s.node(2, &mut node)?;
                    node.end = s.pos;
                    sink(Read::Item(&mut node));
                    Ok(())
                })?;
                doc.has_items = true;
            }
            other => s.node_member(1, other, &mut doc.root)?,
        }
        Ok(())
    })?;
    s.ws();
    if s.pos < s.b.len() {
        return Err(s.err("unexpected text after the end of the JSON document"));
    }
    sink(Read::Document(doc));
    Ok(())
}

/// Bytes that end a run of ordinary string content.
static STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// An object key as written: compared as bytes, decoded only when kept.
struct Key<'a> {
    raw: &'a [u8],
    escaped: bool,
    offset: usize,
}

impl<'a> Key<'a> {
    fn is(&self, name: &[u8]) -> bool {
        !self.escaped && self.raw == name
    }

    fn text(&self, s: &Scanner<'a>) -> Result<Cow<'a, str>, SyntaxError> {
        let decoded = if self.escaped {
            decode_escapes(self.raw).map(Cow::Owned)
        } else {
            std::str::from_utf8(self.raw).ok().map(Cow::Borrowed)
        };
        decoded.ok_or_else(|| SyntaxError {
            offset: self.offset.min(s.b.len()),
            message: "a key holds an invalid escape or bytes that are not UTF-8".into(),
        })
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    pos: usize,
    /// The 1-based line of `pos`. JSON strings cannot hold a raw newline, so only
    /// whitespace between tokens moves it.
    line: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn err(&self, message: impl Into<String>) -> SyntaxError {
        let message = if self.pos >= self.b.len() {
            format!("the file ends too early: {}", message.into())
        } else {
            message.into()
        };
        SyntaxError {
            offset: self.pos.min(self.b.len()),
            message,
        }
    }

    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.pos) {
            match c {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                    // kubectl indents by four spaces a level: skip indentation eight
                    // bytes at a time.
                    while let Some(chunk) = self.b.get(self.pos..self.pos + 8) {
                        if chunk != b"        " {
                            break;
                        }
                        self.pos += 8;
                    }
                }
                _ => break,
            }
        }
    }

    fn expect(&mut self, c: u8, what: &str) -> Result<(), SyntaxError> {
        self.ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(format!("expected {what}")))
        }
    }

    /// The raw content of the string at `pos` (after whitespace), and whether it holds
    /// escapes; leaves `pos` after the closing quote.
    fn raw_string(&mut self) -> Result<(&'a [u8], bool), SyntaxError> {
        self.ws();
        if self.peek() != Some(b'"') {
            return Err(self.err("expected a string"));
        }
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        let b = self.b;
        loop {
            // Eight bytes at a time while none of them can end the run: most of a
            // kubectl dump is string content.
            while i + 8 <= b.len() {
                let mut lanes = [0u8; 8];
                lanes.copy_from_slice(&b[i..i + 8]);
                let stops = stop_bytes(u64::from_le_bytes(lanes));
                if stops != 0 {
                    i += (stops.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            match b.get(i) {
                None => {
                    self.pos = i;
                    return Err(self.err("a string is not closed"));
                }
                Some(&c) if !STRING_STOP[c as usize] => i += 1,
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok((&b[start..i], escaped));
                }
                Some(b'\\') => {
                    if !matches!(
                        b.get(i + 1),
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' | b'u')
                    ) {
                        self.pos = i;
                        return Err(self.err("a string holds an invalid escape"));
                    }
                    escaped = true;
                    i += 2;
                }
                Some(_) => {
                    self.pos = i;
                    return Err(self.err(
                        "a string holds a raw control character (a newline or tab must be written \\n or \\t)",
                    ));
                }
            }
        }
    }

    /// The string at `pos`, decoded.
    fn string(&mut self) -> Result<Cow<'a, str>, SyntaxError> {
        self.ws();
        let start = self.pos;
        let (raw, escaped) = self.raw_string()?;
        let decoded = if escaped {
            decode_escapes(raw).map(Cow::Owned)
        } else {
            std::str::from_utf8(raw).ok().map(Cow::Borrowed)
        };
        decoded.ok_or_else(|| SyntaxError {
            offset: start,
            message: "a string holds an invalid escape or bytes that are not UTF-8".into(),
        })
    }

    /// A string or, for quantities written without quotes, a number, as written.
    fn scalar(&mut self) -> Result<Cow<'a, str>, SyntaxError> {
        self.ws();
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                self.number()?;
                Ok(Cow::Borrowed(
                    std::str::from_utf8(&self.b[start..self.pos]).unwrap_or_default(),
                ))
            }
            _ => self.string(),
        }
    }

    /// Calls `member` with each key of the object at `pos`; `member` consumes the value.
    fn object(
        &mut self,
        depth: usize,
        mut member: impl FnMut(&mut Self, Key<'a>) -> Result<(), SyntaxError>,
    ) -> Result<(), SyntaxError> {
        if depth >= MAX_DEPTH {
            return Err(self.err(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.ws();
        // `"labels": null` and the like, as hand-made files write an empty object.
        if self.peek() == Some(b'n') {
            return self.literal(b"null");
        }
        self.expect(b'{', "`{`")?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let offset = self.pos;
            let (raw, escaped) = self.raw_string()?;
            let key = Key {
                raw,
                escaped,
                offset,
            };
            self.expect(b':', "`:` after an object key")?;
            member(self, key)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected `,` or `}` in an object")),
            }
        }
    }

    /// Calls `element` for each element of the array at `pos`.
    fn array(
        &mut self,
        depth: usize,
        mut element: impl FnMut(&mut Self) -> Result<(), SyntaxError>,
    ) -> Result<(), SyntaxError> {
        if depth >= MAX_DEPTH {
            return Err(self.err(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.expect(b'[', "`[`")?;
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            element(self)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected `,` or `]` in an array")),
            }
        }
    }

    /// Skips one value, checking its syntax. Iterative, with the open containers kept as
    /// bits (1: object), so that skipping costs no calls per nested value.
    fn skip_value(&mut self, depth: usize) -> Result<(), SyntaxError> {
        let mut open: u128 = 0;
        let mut level = 0usize;
        'value: loop {
            self.ws();
            match self.peek() {
                Some(b'"') => {
                    self.raw_string()?;
                }
                Some(c @ (b'{' | b'[')) => {
                    if depth + level >= MAX_DEPTH {
                        return Err(self.err(format!("nested deeper than {MAX_DEPTH} levels")));
                    }
                    self.pos += 1;
                    self.ws();
                    let is_object = c == b'{';
                    let close = if is_object { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                    } else {
                        open = (open << 1) | u128::from(is_object);
                        level += 1;
                        if is_object {
                            self.raw_string()?;
                            self.expect(b':', "`:` after an object key")?;
                        }
                        continue 'value;
                    }
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                _ => return Err(self.err("expected a value")),
            }
            // After a value: close containers until one continues with `,`.
            loop {
                if level == 0 {
                    return Ok(());
                }
                self.ws();
                let in_object = open & 1 == 1;
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if in_object {
                            self.raw_string()?;
                            self.expect(b':', "`:` after an object key")?;
                        }
                        continue 'value;
                    }
                    Some(b'}') if in_object => {}
                    Some(b']') if !in_object => {}
                    _ if in_object => return Err(self.err("expected `,` or `}` in an object")),
                    _ => return Err(self.err("expected `,` or `]` in an array")),
                }
                self.pos += 1;
                open >>= 1;
                level -= 1;
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), SyntaxError> {
        if self.b[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.err("expected a value (`true`, `false`, `null`, a number, a string, an object or an array)"))
        }
    }

    fn number(&mut self) -> Result<(), SyntaxError> {
        let digits = |s: &mut Self| {
            let start = s.pos;
            while s.peek().is_some_and(|c| c.is_ascii_digit()) {
                s.pos += 1;
            }
            s.pos > start
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        // JSON writes no leading zeros: `0` stands alone.
        let mut ok = if self.peek() == Some(b'0') {
            self.pos += 1;
            true
        } else {
            digits(self)
        };
        if ok && self.peek() == Some(b'.') {
            self.pos += 1;
            ok = digits(self);
        }
        if ok && matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            ok = digits(self);
        }
        if ok {
            Ok(())
        } else {
            Err(self.err("malformed number"))
        }
    }

    /// The members of a Node object.
    fn node(&mut self, depth: usize, node: &mut RawNode<'a>) -> Result<(), SyntaxError> {
        self.object(depth, |s, key| {
            let key = key.text(s)?;
            s.node_member(depth + 1, &key, node)
        })
    }

    fn node_member(
        &mut self,
        depth: usize,
        key: &str,
        node: &mut RawNode<'a>,
    ) -> Result<(), SyntaxError> {
        match key {
            "kind" => node.kind = Some(self.string()?),
            "metadata" => self.object(depth, |s, key| {
                if key.is(b"name") {
                    node.name = Some(s.string()?);
                    Ok(())
                } else if key.is(b"labels") {
                    s.object(depth + 1, |s, key| {
                        if key.escaped || keep_label_bytes(key.raw) {
                            let key = key.text(s)?;
                            if keep_label(&key) {
                                let value = s.string()?;
                                node.labels.push((key, value));
                                return Ok(());
                            }
                        }
                        s.skip_value(depth + 2)
                    })
                } else {
                    s.skip_value(depth + 1)
                }
            })?,
            "status" => self.object(depth, |s, key| {
                let list = if key.is(b"capacity") {
                    &mut node.capacity
                } else if key.is(b"allocatable") {
                    &mut node.allocatable
                } else {
                    return s.skip_value(depth + 1);
                };
                s.object(depth + 1, |s, key| {
                    let key = key.text(s)?;
                    if keep_resource(&key) {
                        let value = s.scalar()?;
                        list.push((key, value));
                        Ok(())
                    } else {
                        s.skip_value(depth + 2)
                    }
                })
            })?,
            _ => self.skip_value(depth)?,
        }
        Ok(())
    }
}

/// The high bit of each byte that is `"`, `\` or a control character, exact for the
/// lowest such byte (a borrow may mark bytes above it too).
fn stop_bytes(chunk: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_in = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let quote = zero_in(chunk ^ (ONES * u64::from(b'"')));
    let backslash = zero_in(chunk ^ (ONES * u64::from(b'\\')));
    let control = chunk.wrapping_sub(ONES * 0x20) & !chunk & HIGH;
    quote | backslash | control
}

/// Decodes a string's content with escapes; `None` for a bad escape or invalid UTF-8.
fn decode_escapes(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let e = *raw.get(i + 1)?;
        i += 2;
        let simple = match e {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let high = hex4(raw.get(i..i + 4)?)?;
                i += 4;
                let code = if (0xD800..0xDC00).contains(&high) {
                    // A UTF-16 surrogate pair: the low half must follow as `\uDC00`-`\uDFFF`.
                    if raw.get(i..i + 2)? != b"\\u" {
                        return None;
                    }
                    let low = hex4(raw.get(i + 2..i + 6)?)?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return None;
                    }
                    i += 6;
                    0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    high
                };
                let ch = char::from_u32(code)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            _ => return None,
        };
        out.push(simple);
    }
    String::from_utf8(out).ok()
}

fn hex4(digits: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(digits).ok()?;
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document and copies of its items.
    struct Read<'a> {
        doc: RawDoc<'a>,
        items: Vec<RawNode<'a>>,
    }

    fn doc(text: &str) -> Result<Read<'_>, SyntaxError> {
        let mut items = Vec::new();
        let mut docs = Vec::new();
        parse(text.as_bytes(), &mut |read| match read {
            super::Read::Item(node) => items.push(node.clone()),
            super::Read::Document(doc) => docs.push(doc),
        })?;
        assert_eq!(docs.len(), 1);
        Ok(Read {
            doc: docs.remove(0),
            items,
        })
    }

    #[test]
    fn decodes_escapes_and_surrogate_pairs() {
        assert_eq!(decode_escapes(br#"a\"b\\c\/d\n"#).unwrap(), "a\"b\\c/d\n");
        assert_eq!(decode_escapes(br"\u00e9\u4e2d").unwrap(), "é中");
        assert_eq!(decode_escapes(br"\ud83d\ude80").unwrap(), "🚀");
        for bad in [
            &br"\ud83d"[..],
            br"\ud83dx",
            br"\ude80",
            br"\x",
            br"\u12",
            br"\u12g4",
        ] {
            assert_eq!(
                decode_escapes(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn the_first_stop_byte_is_found_in_any_lane() {
        for lane in 0..8 {
            for stop in [b'"', b'\\', b'\n', 0x00, 0x1f] {
                for after in [b'a', b'"', 0x00, 0xff] {
                    let mut chunk = *b"ab\xc3\xa9defg";
                    chunk[lane] = stop;
                    if lane < 7 {
                        chunk[lane + 1] = after;
                    }
                    let first = stop_bytes(u64::from_le_bytes(chunk)).trailing_zeros() / 8;
                    assert_eq!(first as usize, lane, "{chunk:?}");
                }
            }
        }
        assert_eq!(stop_bytes(u64::from_le_bytes(*b"nvidia.c")), 0);
        assert_eq!(stop_bytes(u64::from_le_bytes(*b" ~\x7f\x80\xff@#%")), 0);
    }

    #[test]
    fn keeps_only_what_a_verdict_needs() {
        let d = doc(r#"{"kind":"List","items":[{"kind":"Node","metadata":{"name":"n\u00e9",
            "labels":{"a":"1","nvidia.com/gpu.product":"Tesla-T4","kubernetes.io/hostname":"h"}},
            "status":{"capacity":{"cpu":"8","nvidia.com/gpu":1},"allocatable":{"nvidia.com/gpu":"1"},
            "images":[{"names":["x"],"sizeBytes":-1.5e3}],"x":[true,false,null]}}]}"#)
        .unwrap();
        let items = d.items;
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].name.as_deref(), Some("né"));
        let labels: Vec<_> = items[0]
            .labels
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        assert_eq!(
            labels,
            [
                ("nvidia.com/gpu.product", "Tesla-T4"),
                ("kubernetes.io/hostname", "h")
            ]
        );
        assert_eq!(items[0].capacity[0].1, "1");
        assert_eq!(d.doc.kind.as_deref(), Some("List"));
    }

    #[test]
    fn counts_lines_to_each_node() {
        let d = doc("{\n \"items\": [\n  {\n   \"metadata\": {\"name\": \"a\"}\n  },\n  {\"metadata\": {}}\n ]\n}\n").unwrap();
        let lines: Vec<_> = d.items.iter().map(|n| n.line).collect();
        assert_eq!(lines, [3, 6]);
    }

    #[test]
    fn rejects_bad_syntax_where_it_is() {
        for (text, at) in [
            ("{\"items\": [", 11),
            ("{\"a\": 1,}", 8),
            ("{\"a\": [1 2]}", 9),
            ("{\"a\": tru}", 6),
            ("{\"a\": \"x\ny\"}", 8),
            ("{\"a\": 01}", 7),
            ("{} x", 3),
            ("[]", 0),
            ("{\"a\": \"\\q\"}", 7),
        ] {
            let e = doc(text).err().unwrap_or_else(|| panic!("{text} parsed"));
            assert_eq!(e.offset, at, "{text}: {}", e.message);
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = format!("{{\"a\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let e = doc(&text).err().unwrap();
        assert!(e.message.contains("nested deeper"), "{}", e.message);
    }
}
