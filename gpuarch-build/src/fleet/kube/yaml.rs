//! `kubectl get nodes -o yaml`, read line by line without building the document.
//!
//! The subset is what kubectl (through go-yaml) prints, plus what people do to such files
//! by hand:
//! - block mappings (`key: value`, plain, `'single'` or `"double"` quoted keys) and block
//!   sequences (`- item`, at the parent key's indentation or deeper);
//! - plain, single- and double-quoted scalars, also folded over several lines, and `|` / `>`
//!   block scalars (with `-`/`+` chomping and an indentation indicator);
//! - `{}` and `[]` for empty values; any other flow collection, anchor, alias or tag is
//!   skipped where it is not needed and refused where it is (a label value);
//! - `#` comments, blank lines, CRLF line ends, a byte order mark, and several documents
//!   separated by `---`.
//!
//! Only the paths a node's GPUs are read from are followed; every other value is skipped
//! by its indentation, so a skipped part is not checked beyond that.

use std::borrow::Cow;

use super::{keep_label, keep_resource, RawDoc, RawNode, Read, SyntaxError};

/// Reads every document, handing each List item and then each document to `sink`.
pub(super) fn parse<'a>(
    text: &'a str,
    sink: &mut dyn FnMut(Read<'_, 'a>),
) -> Result<(), SyntaxError> {
    let mut p = Parser {
        text,
        pos: 0,
        line: 1,
        cur: None,
    };
    if text.starts_with('\u{feff}') {
        p.pos = 3;
    }
    let mut node = RawNode::default();
    loop {
        // Document markers and whatever lies between documents.
        while let Some(raw) = p.raw_line() {
            let content = raw.text.trim_end();
            let is_marker = content == "---" || content.starts_with("--- ") || content == "...";
            if is_marker || is_blank_or_comment(content) {
                p.advance_raw(&raw);
            } else {
                break;
            }
        }
        let Some(first) = p.peek()? else {
            break;
        };
        let mut doc = RawDoc {
            root: RawNode {
                line: first.number,
                ..RawNode::default()
            },
            ..RawDoc::default()
        };
        if first.content(text).starts_with('-') {
            return Err(p.error_at(
                &first,
                "expected `key: value`: a node list or a node is a mapping",
            ));
        }
        p.mapping(first.indent, |p, key, line, rest| {
            match key.as_ref() {
                "kind" => {
                    doc.kind_line = line.number;
                    doc.kind = Some(p.scalar(&line, rest)?);
                }
                "items" => {
                    p.nested_sequence(&line, rest, |p, item| {
                        node.reset(item.number);
                        p.mapping(item.indent, |p, key, line, rest| {
                            p.node_member(&key, line, rest, &mut node)
                        })?;
                        sink(Read::Item(&mut node));
                        Ok(())
                    })?;
                    doc.has_items = true;
                }
                _ => p.node_member(&key, line, rest, &mut doc.root)?,
            }
            Ok(())
        })?;
        if let Some(line) = p.peek()? {
            return Err(p.error_at(
                &line,
                "unexpected indentation: this line is not inside any key",
            ));
        }
        sink(Read::Document(doc));
    }
    Ok(())
}

fn is_blank_or_comment(content: &str) -> bool {
    let t = content.trim_start_matches(' ');
    t.is_empty() || t.starts_with('#')
}

/// One line of significant content.
#[derive(Clone, Copy, Debug)]
struct Line {
    /// Byte offset of the line's first byte.
    line_start: usize,
    /// Column of the content (past indentation and any `- ` taken off).
    indent: usize,
    /// The content: from `line_start + indent` to `end` (before `\r\n`).
    end: usize,
    number: usize,
}

impl Line {
    fn content<'a>(&self, text: &'a str) -> &'a str {
        &text[self.line_start + self.indent..self.end]
    }
}

/// A line as it is in the file.
struct RawLine<'a> {
    text: &'a str,
    /// Offset of the next line.
    next: usize,
}

struct Parser<'a> {
    text: &'a str,
    /// Offset of the next line not yet read.
    pos: usize,
    /// The number of the line at `pos`.
    line: usize,
    /// A line read ahead (and possibly shortened by a `- ` taken off).
    cur: Option<Line>,
}

impl<'a> Parser<'a> {
    fn error_at(&self, line: &Line, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            offset: line.line_start + line.indent,
            message: message.into(),
        }
    }

    fn raw_line(&self) -> Option<RawLine<'a>> {
        if self.pos >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.pos..];
        let (len, next) = match rest.find('\n') {
            Some(i) => (i, self.pos + i + 1),
            None => (rest.len(), self.text.len()),
        };
        let text = rest[..len].strip_suffix('\r').unwrap_or(&rest[..len]);
        Some(RawLine { text, next })
    }

    fn advance_raw(&mut self, raw: &RawLine<'a>) {
        self.pos = raw.next;
        self.line += 1;
    }

    /// The next line with content, without taking it; `None` at the end of the document.
    fn peek(&mut self) -> Result<Option<Line>, SyntaxError> {
        if let Some(line) = self.cur {
            return Ok(Some(line));
        }
        while let Some(raw) = self.raw_line() {
            let content = raw.text;
            if content == "---" || content.starts_with("--- ") || content == "..." {
                return Ok(None);
            }
            if is_blank_or_comment(content) {
                self.advance_raw(&raw);
                continue;
            }
            let indent = content.len() - content.trim_start_matches(' ').len();
            let line = Line {
                line_start: self.pos,
                indent,
                end: self.pos + content.len(),
                number: self.line,
            };
            if content[indent..].starts_with('\t') {
                return Err(self.error_at(&line, "a tab in indentation: YAML indents with spaces"));
            }
            self.advance_raw(&raw);
            self.cur = Some(line);
            return Ok(Some(line));
        }
        Ok(None)
    }

    fn take(&mut self) {
        self.cur = None;
    }

    /// Skips every following line indented deeper than `indent` (and blank lines among
    /// them): the rest of a value whose key sits at `indent`.
    fn skip_deeper(&mut self, indent: usize) {
        debug_assert!(self.cur.is_none());
        while let Some(raw) = self.raw_line() {
            let content = raw.text;
            let depth = content.len() - content.trim_start_matches(' ').len();
            if depth == content.len() || depth > indent {
                self.advance_raw(&raw);
            } else {
                break;
            }
        }
    }

    /// Calls `entry(key, key_line, rest)` for each `key: rest` of the mapping at `indent`;
    /// `entry` consumes the value.
    fn mapping(
        &mut self,
        indent: usize,
        mut entry: impl FnMut(&mut Self, Cow<'a, str>, Line, &'a str) -> Result<(), SyntaxError>,
    ) -> Result<(), SyntaxError> {
        while let Some(line) = self.peek()? {
            if line.indent < indent {
                break;
            }
            if line.indent > indent {
                return Err(self.error_at(
                    &line,
                    "unexpected indentation: expected a key at the column of the keys above",
                ));
            }
            let content = line.content(self.text);
            if content == "-" || content.starts_with("- ") {
                return Err(
                    self.error_at(&line, "a sequence item where a `key: value` was expected")
                );
            }
            let (key, rest) =
                split_key(content).ok_or_else(|| self.error_at(&line, "expected `key: value`"))?;
            self.take();
            entry(self, key, line, rest)?;
        }
        Ok(())
    }

    /// Where the value of the key on `line` continues on the following lines: a block at a
    /// deeper column, or a sequence at the key's own column.
    fn block_after(&mut self, line: &Line) -> Result<Option<Line>, SyntaxError> {
        let Some(next) = self.peek()? else {
            return Ok(None);
        };
        let content = next.content(self.text);
        let is_item = content == "-" || content.starts_with("- ");
        if next.indent > line.indent || (next.indent == line.indent && is_item) {
            Ok(Some(next))
        } else {
            Ok(None)
        }
    }

    /// Skips the value of the key on `line`.
    fn skip_value(&mut self, line: &Line, rest: &str) -> Result<(), SyntaxError> {
        if rest.is_empty() || rest.starts_with('#') {
            if let Some(block) = self.block_after(line)? {
                if block.indent == line.indent {
                    // A sequence at the key's column: its items and everything under them.
                    while let Some(next) = self.peek()? {
                        let content = next.content(self.text);
                        if next.indent < line.indent
                            || (next.indent == line.indent
                                && !(content == "-" || content.starts_with("- ")))
                        {
                            break;
                        }
                        self.take();
                        self.skip_deeper(line.indent);
                    }
                    return Ok(());
                }
            }
        }
        if let Some(next) = self.cur {
            if next.indent <= line.indent {
                return Ok(());
            }
            self.cur = None;
            self.pos = next.line_start;
            self.line = next.number;
        }
        self.skip_deeper(line.indent);
        Ok(())
    }

    /// The mapping under the key on `line`: `{}` or an indented block.
    fn nested_mapping(
        &mut self,
        line: &Line,
        rest: &'a str,
        entry: impl FnMut(&mut Self, Cow<'a, str>, Line, &'a str) -> Result<(), SyntaxError>,
    ) -> Result<(), SyntaxError> {
        let rest = strip_comment(rest);
        if rest == "{}" {
            return Ok(());
        }
        if !rest.is_empty() {
            return Err(self.error_at(
                line,
                "expected a mapping (indented `key: value` lines) under this key",
            ));
        }
        match self.block_after(line)? {
            None => Ok(()),
            Some(block) if block.indent == line.indent => {
                Err(self.error_at(&block, "expected a mapping, found a sequence"))
            }
            Some(block) => self.mapping(block.indent, entry),
        }
    }

    /// Calls `item(line)` for each item of the sequence under the key on `line`, with the
    /// item's first line read ahead at the item's column.
    fn nested_sequence(
        &mut self,
        line: &Line,
        rest: &'a str,
        mut item: impl FnMut(&mut Self, Line) -> Result<(), SyntaxError>,
    ) -> Result<(), SyntaxError> {
        let rest = strip_comment(rest);
        if rest == "[]" {
            return Ok(());
        }
        if !rest.is_empty() {
            return Err(self.error_at(line, "expected a sequence (`- ` lines) under this key"));
        }
        let Some(first) = self.block_after(line)? else {
            return Ok(());
        };
        let indent = first.indent;
        while let Some(next) = self.peek()? {
            if next.indent < indent {
                break;
            }
            let content = next.content(self.text);
            let is_item = content == "-" || content.starts_with("- ");
            if next.indent == line.indent && !is_item {
                // The next key of the mapping that holds the sequence.
                break;
            }
            if next.indent > indent || !is_item {
                return Err(self.error_at(&next, "expected a sequence item (`- `)"));
            }
            let after = content[1..].len() - content[1..].trim_start_matches(' ').len();
            if content.len() == 1 + after {
                // `-` alone: the item is the block below it.
                self.take();
                match self.peek()? {
                    Some(inner) if inner.indent > indent => item(self, inner)?,
                    _ => {
                        return Err(self
                            .error_at(&next, "an empty sequence item where a node was expected"))
                    }
                }
            } else {
                let inner = Line {
                    indent: next.indent + 1 + after,
                    ..next
                };
                self.cur = Some(inner);
                item(self, inner)?;
            }
        }
        Ok(())
    }

    /// The scalar value of the key on `line`, whose text after the colon is `rest`.
    fn scalar(&mut self, line: &Line, rest: &'a str) -> Result<Cow<'a, str>, SyntaxError> {
        let at = |p: &Self, message: &str| p.error_at(line, message.to_string());
        match rest.as_bytes().first() {
            None | Some(b'#') => {
                if self.block_after(line)?.is_some() {
                    return Err(at(self, "expected a single value, found a block under this key"));
                }
                Ok(Cow::Borrowed(""))
            }
            Some(b'"') => {
                let text = self.continued(line, rest);
                unquote(text, double_quoted).ok_or_else(|| at(self, "malformed double-quoted string"))
            }
            Some(b'\'') => {
                let text = self.continued(line, rest);
                unquote(text, single_quoted).ok_or_else(|| at(self, "malformed single-quoted string"))
            }
            Some(b'|' | b'>') => self.block_scalar(line, rest).ok_or_else(|| at(self, "malformed block scalar header")),
            Some(b'{' | b'[' | b'&' | b'*' | b'!') => Err(at(
                self,
                "expected a plain or quoted string: flow collections, anchors, aliases and tags are not read here",
            )),
            Some(_) => {
                let first = strip_comment(rest);
                let start = self.cur.map_or(self.pos, |l| l.line_start);
                let more = self.continuation_lines(line);
                if more.is_empty() {
                    return Ok(Cow::Borrowed(first));
                }
                let mut out = first.to_string();
                for l in more {
                    // A plain scalar cannot hold `: `: a deeper `key: value` line is
                    // misplaced, not more text.
                    if split_key(l).is_some() {
                        let offset = start + self.text[start..].find(l).unwrap_or(0);
                        return Err(SyntaxError {
                            offset,
                            message: "unexpected indentation: this `key: value` is deeper than the keys above".into(),
                        });
                    }
                    if !l.is_empty() {
                        out.push(' ');
                        out.push_str(strip_comment(l));
                    }
                }
                Ok(Cow::Owned(out))
            }
        }
    }

    /// Lines indented deeper than the key on `line`, as continuation of its scalar.
    fn continuation_lines(&mut self, line: &Line) -> Vec<&'a str> {
        let mut out = Vec::new();
        if let Some(next) = self.cur {
            if next.indent <= line.indent {
                return out;
            }
            self.cur = None;
            self.pos = next.line_start;
            self.line = next.number;
        }
        while let Some(raw) = self.raw_line() {
            let depth = raw.text.len() - raw.text.trim_start_matches(' ').len();
            if depth == raw.text.len() || depth > line.indent {
                out.push(raw.text.trim());
                self.advance_raw(&raw);
            } else {
                break;
            }
        }
        while out.last() == Some(&"") {
            out.pop();
        }
        out
    }

    /// A quoted scalar's text with its continuation lines folded in: each line break
    /// becomes a space, an empty line a newline.
    fn continued(&mut self, line: &Line, rest: &'a str) -> Cow<'a, str> {
        let more = self.continuation_lines(line);
        if more.is_empty() {
            return Cow::Borrowed(rest);
        }
        let mut out = rest.trim_end().to_string();
        let mut empty_run = false;
        for l in more {
            if l.is_empty() {
                out.push('\n');
                empty_run = true;
            } else {
                if !empty_run && !out.ends_with('\\') {
                    out.push(' ');
                } else if out.ends_with('\\') {
                    out.pop();
                }
                out.push_str(l);
                empty_run = false;
            }
        }
        Cow::Owned(out)
    }

    fn block_scalar(&mut self, line: &Line, rest: &'a str) -> Option<Cow<'a, str>> {
        let header = strip_comment(rest);
        let literal = header.starts_with('|');
        let mut chomp = ' ';
        let mut explicit_indent = None;
        for c in header[1..].chars() {
            match c {
                '-' | '+' if chomp == ' ' => chomp = c,
                '1'..='9' if explicit_indent.is_none() => explicit_indent = c.to_digit(10),
                _ => return None,
            }
        }
        if let Some(next) = self.cur.take() {
            self.pos = next.line_start;
            self.line = next.number;
        }
        let mut lines = Vec::new();
        let mut content_indent = explicit_indent.map(|i| line.indent + i as usize);
        while let Some(raw) = self.raw_line() {
            let depth = raw.text.len() - raw.text.trim_start_matches(' ').len();
            if depth == raw.text.len() {
                lines.push("");
                self.advance_raw(&raw);
                continue;
            }
            let indent = *content_indent.get_or_insert(depth);
            if depth <= line.indent || depth < indent {
                break;
            }
            lines.push(&raw.text[indent..]);
            self.advance_raw(&raw);
        }
        let trailing = lines.iter().rev().take_while(|l| l.is_empty()).count();
        let body = &lines[..lines.len() - trailing];
        let mut out = String::new();
        for (i, l) in body.iter().enumerate() {
            if i > 0 {
                let previous = body[i - 1];
                if literal || previous.starts_with(' ') || l.starts_with(' ') {
                    out.push('\n');
                } else if l.is_empty() {
                    // A folded break before an empty line is dropped: the empty line
                    // itself is the newline.
                    if previous.is_empty() {
                        out.push('\n');
                    }
                } else {
                    out.push(if previous.is_empty() { '\n' } else { ' ' });
                }
            }
            out.push_str(l);
        }
        match chomp {
            '-' => {}
            '+' => out.extend(std::iter::repeat_n(
                '\n',
                trailing + usize::from(!body.is_empty()),
            )),
            _ if !body.is_empty() => out.push('\n'),
            _ => {}
        }
        Some(Cow::Owned(out))
    }

    fn node_member(
        &mut self,
        key: &str,
        line: Line,
        rest: &'a str,
        node: &mut RawNode<'a>,
    ) -> Result<(), SyntaxError> {
        match key {
            "kind" => node.kind = Some(self.scalar(&line, rest)?),
            "metadata" => {
                self.nested_mapping(&line, rest, |p, key, line, rest| match key.as_ref() {
                    "name" => {
                        node.name = Some(p.scalar(&line, rest)?);
                        Ok(())
                    }
                    "labels" => p.nested_mapping(&line, rest, |p, key, line, rest| {
                        if keep_label(&key) {
                            let value = p.scalar(&line, rest)?;
                            node.labels.push((key, value));
                            Ok(())
                        } else {
                            p.skip_value(&line, rest)
                        }
                    }),
                    _ => p.skip_value(&line, rest),
                })?
            }
            "status" => self.nested_mapping(&line, rest, |p, key, line, rest| {
                let list = match key.as_ref() {
                    "capacity" => &mut node.capacity,
                    "allocatable" => &mut node.allocatable,
                    _ => return p.skip_value(&line, rest),
                };
                p.nested_mapping(&line, rest, |p, key, line, rest| {
                    if keep_resource(&key) {
                        let value = p.scalar(&line, rest)?;
                        list.push((key, value));
                        Ok(())
                    } else {
                        p.skip_value(&line, rest)
                    }
                })
            })?,
            _ => self.skip_value(&line, rest)?,
        }
        Ok(())
    }
}

/// Splits `key: rest` (plain or quoted key); `None` when the line is not a mapping entry.
fn split_key(content: &str) -> Option<(Cow<'_, str>, &str)> {
    let (key, after) = match *content.as_bytes().first()? {
        q @ (b'"' | b'\'') => {
            let close = quoted_end(content, q)?;
            let raw = &content[..=close];
            let key = if q == b'"' {
                double_quoted(raw)?
            } else {
                single_quoted(raw)?
            };
            (key, &content[close + 1..])
        }
        b'?' => return None,
        _ => {
            let colon = content
                .match_indices(':')
                .map(|(i, _)| i)
                .find(|&i| matches!(content.as_bytes().get(i + 1), None | Some(b' ' | b'\t')))?;
            (
                Cow::Borrowed(content[..colon].trim_end()),
                &content[colon..],
            )
        }
    };
    let after = after.trim_start_matches(' ');
    let rest = after.strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
        return None;
    }
    Some((key, rest.trim()))
}

/// The index of the quote that closes the quoted scalar at the start of `s`.
fn quoted_end(s: &str, quote: u8) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' if quote == b'"' => i += 2,
            c if c == quote => {
                if quote == b'\'' && b.get(i + 1) == Some(&b'\'') {
                    i += 2;
                } else {
                    return Some(i);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Applies `unquote` to text that is either borrowed from the input or folded from it.
fn unquote<'a>(
    text: Cow<'a, str>,
    unquote: fn(&str) -> Option<Cow<'_, str>>,
) -> Option<Cow<'a, str>> {
    match text {
        Cow::Borrowed(t) => unquote(t),
        Cow::Owned(t) => unquote(&t).map(|c| Cow::Owned(c.into_owned())),
    }
}

/// A plain scalar without a trailing ` # comment`.
fn strip_comment(s: &str) -> &str {
    let cut = s.match_indices(" #").next().map_or(s.len(), |(i, _)| i);
    s[..cut].trim_end()
}

fn single_quoted(s: &str) -> Option<Cow<'_, str>> {
    let end = quoted_end(s, b'\'')?;
    if !strip_comment(&s[end + 1..]).is_empty() {
        return None;
    }
    let inner = &s[1..end];
    Some(if inner.contains("''") {
        Cow::Owned(inner.replace("''", "'"))
    } else {
        Cow::Borrowed(inner)
    })
}

fn double_quoted(s: &str) -> Option<Cow<'_, str>> {
    let end = quoted_end(s, b'"')?;
    if !strip_comment(&s[end + 1..]).is_empty() {
        return None;
    }
    let inner = &s[1..end];
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next()?;
        let hex = |chars: &mut std::str::Chars<'_>, n: usize| -> Option<char> {
            let digits: String = chars.by_ref().take(n).collect();
            if digits.len() != n {
                return None;
            }
            char::from_u32(u32::from_str_radix(&digits, 16).ok()?)
        };
        out.push(match e {
            '0' => '\0',
            'a' => '\x07',
            'b' => '\x08',
            't' | '\t' => '\t',
            'n' => '\n',
            'v' => '\x0b',
            'f' => '\x0c',
            'r' => '\r',
            'e' => '\x1b',
            ' ' => ' ',
            '"' => '"',
            '/' => '/',
            '\\' => '\\',
            'N' => '\u{85}',
            '_' => '\u{a0}',
            'L' => '\u{2028}',
            'P' => '\u{2029}',
            'x' => hex(&mut chars, 2)?,
            'u' => hex(&mut chars, 4)?,
            'U' => hex(&mut chars, 8)?,
            _ => return None,
        });
    }
    Some(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documents and copies of their items.
    fn read(text: &str) -> Result<(Vec<RawDoc<'_>>, Vec<RawNode<'_>>), SyntaxError> {
        let mut docs = Vec::new();
        let mut items = Vec::new();
        parse(text, &mut |read| match read {
            Read::Item(node) => items.push(node.clone()),
            Read::Document(doc) => docs.push(doc),
        })?;
        Ok((docs, items))
    }

    fn one(text: &str) -> (RawDoc<'_>, Vec<RawNode<'_>>) {
        let (mut docs, items) =
            read(text).unwrap_or_else(|e| panic!("{}: {}", e.offset, e.message));
        assert_eq!(docs.len(), 1);
        (docs.remove(0), items)
    }

    #[test]
    fn reads_what_kubectl_prints() {
        let text = "\
apiVersion: v1
items:
- apiVersion: v1
  kind: Node
  metadata:
    annotations:
      kubectl.kubernetes.io/last-applied-configuration: |
        {\"apiVersion\":\"v1\",
         \"kind\":\"Node\"}
      note: >-
        folded
        text
    labels:
      kubernetes.io/hostname: gpu-1   # trailing comment
      nvidia.com/gpu.machine: NVIDIA DGX-2H
      nvidia.com/cuda.driver.rev: \"\"
      'nvidia.com/gpu.family': 'it''s'
      \"nvidia.com/gpu.product\": \"Tesla-T4\\u0021\"
      other: x
    name: gpu-1
  spec:
    taints:
    - effect: NoSchedule
      key: nvidia.com/gpu
  status:
    capacity:
      nvidia.com/gpu: \"4\"
      cpu: \"8\"
    conditions:
    - message: kubelet has sufficient memory
        available
      type: MemoryPressure
    images: []
- kind: Node
  metadata: {}
kind: List
metadata:
  resourceVersion: \"\"
";
        let (doc, items) = one(text);
        assert_eq!(doc.kind.as_deref(), Some("List"));
        assert!(doc.has_items);
        assert_eq!(items.len(), 2);
        let labels: Vec<_> = items[0]
            .labels
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        assert_eq!(
            labels,
            [
                ("kubernetes.io/hostname", "gpu-1"),
                ("nvidia.com/gpu.machine", "NVIDIA DGX-2H"),
                ("nvidia.com/cuda.driver.rev", ""),
                ("nvidia.com/gpu.family", "it's"),
                ("nvidia.com/gpu.product", "Tesla-T4!"),
            ]
        );
        assert_eq!(items[0].name.as_deref(), Some("gpu-1"));
        assert_eq!(items[0].capacity.len(), 1);
        assert_eq!((items[0].line, items[1].line), (3, 34));
    }

    #[test]
    fn folds_multi_line_scalars() {
        let (doc, _) = one("metadata:\n  labels:\n    nvidia.com/a: one\n      two\n    nvidia.com/b: \"x\n      y\"\n    nvidia.com/c: |-\n      l1\n      l2\n    nvidia.com/d: >\n      f1\n      f2\n\n      f3\n  name: n\nkind: Node\n");
        let v: Vec<_> = doc.root.labels.iter().map(|(_, v)| v.as_ref()).collect();
        assert_eq!(v, ["one two", "x y", "l1\nl2", "f1 f2\nf3\n"]);
        assert_eq!(doc.root.name.as_deref(), Some("n"));
    }

    #[test]
    fn crlf_and_bom_and_documents() {
        let text = "\u{feff}---\r\nkind: Node\r\nmetadata:\r\n  name: a\r\n---\r\nkind: Node\r\nmetadata:\r\n  name: b\r\n";
        let (docs, _) = read(text).unwrap();
        let names: Vec<_> = docs
            .iter()
            .map(|d| d.root.name.as_deref().unwrap())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(docs[1].root.line, 6);
    }

    #[test]
    fn rejects_what_it_cannot_read_where_it_is() {
        for (text, line) in [
            ("kind: Node\n  name: x\n", 2),
            (
                "kind: Node\nmetadata:\n  labels:\n    nvidia.com/a: {x: 1}\n",
                4,
            ),
            (
                "kind: Node\nmetadata:\n  labels:\n    nvidia.com/a: \"open\n",
                4,
            ),
            ("kind: Node\nmetadata:\n\tname: x\n", 3),
            ("- a\n", 1),
            ("kind: Node\njust text\n", 2),
            ("items: x\n", 1),
        ] {
            let e = read(text)
                .err()
                .unwrap_or_else(|| panic!("{text:?} parsed"));
            let at = text[..e.offset].matches('\n').count() + 1;
            assert_eq!(at, line, "{text:?}: {}", e.message);
        }
    }
}
