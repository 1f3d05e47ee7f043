//! YAML text → a small node tree that remembers where every node starts.
//!
//! Why not bind straight from a YAML library into structs: the reference (goccy/go-yaml, strict mode)
//! reports errors with `[line:column]` positions that users rely on (`[2:1] unknown field "x"`,
//! `[3:1] mapping key "a" already defined at [1:1]`), rejects duplicate keys, resolves aliases, keeps
//! a UTF-8 BOM as part of the first key and ignores every document after the first. Building our own
//! tree from saphyr-parser's positioned events gives all of that, and the tree is tiny.

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};
use std::collections::HashMap;
use std::fmt;

/// A 1-based line and column, printed `[line:col]` like the reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}:{}]", self.line, self.col)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// `null`, `~` or an empty plain scalar.
    Null,
    /// A scalar's text; `plain` is false for quoted and block scalars (never null, never a bool).
    Str {
        text: String,
        plain: bool,
    },
    Seq(Vec<YNode>),
    Map(Vec<(Key, YNode)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub text: String,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub struct YNode {
    pub kind: Kind,
    /// Where the node starts; for a block mapping, the `:` of its first entry (the reference's
    /// convention, visible in `[2:7] mapping was used where sequence is expected`).
    pub pos: Pos,
}

impl YNode {
    pub fn null(pos: Pos) -> Self {
        YNode {
            kind: Kind::Null,
            pos,
        }
    }

    /// A short name of the node's kind for messages (`string`, `sequence`, `mapping`).
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            Kind::Null => "null",
            Kind::Str { .. } => "string",
            Kind::Seq(_) => "sequence",
            Kind::Map(_) => "mapping",
        }
    }
}

/// A YAML syntax or structure error, already worded for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeError {
    pub pos: Pos,
    pub message: String,
}

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.pos, self.message)
    }
}

/// Limits that keep hostile documents cheap: nesting depth and nodes after alias expansion.
const MAX_DEPTH: usize = 128;
const MAX_NODES: usize = 1_000_000;

/// Parses the first document of `src`. An empty stream is `Null`.
pub fn parse(src: &str) -> Result<YNode, TreeError> {
    let has_bom = src.starts_with('\u{feff}');
    let mut b = Builder {
        src,
        parser: Parser::new_from_str(src),
        anchors: HashMap::new(),
        nodes: 0,
        open_flow: Vec::new(),
        cursor: std::cell::Cell::new((0, 0)),
        ascii: src.is_ascii(),
    };
    let mut doc: Option<YNode> = None;
    loop {
        let (ev, span) = b.next()?;
        match ev {
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                let node = b.node(0)?;
                if doc.is_none() {
                    doc = Some(node);
                }
            }
            // Later documents are read (syntax errors still count) and ignored, as the reference does.
            _ => {
                let _ = span;
            }
        }
    }
    let mut doc = doc.unwrap_or(YNode::null(Pos { line: 1, col: 1 }));
    if has_bom {
        // goccy keeps the BOM as part of the first key, which then is an unknown field.
        if let Kind::Map(entries) = &mut doc.kind
            && let Some((key, _)) = entries.first_mut()
            && key.pos.line == 1
        {
            key.text.insert(0, '\u{feff}');
            key.pos.col = 1;
        }
    }
    Ok(doc)
}

struct Builder<'a> {
    src: &'a str,
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: HashMap<usize, YNode>,
    nodes: usize,
    /// Start positions of flow collections not yet closed (`[` or `{`), for unclosed-bracket errors.
    open_flow: Vec<(Pos, char)>,
    /// saphyr counts positions in chars; (char index, byte offset) of the last conversion, so
    /// converting the increasing positions of a parse is linear overall.
    cursor: std::cell::Cell<(usize, usize)>,
    ascii: bool,
}

fn pos_of(m: &saphyr_parser::Marker) -> Pos {
    Pos {
        line: m.line(),
        col: m.col() + 1,
    }
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), TreeError> {
        match self.parser.next_event() {
            Some(Ok(pair)) => Ok(pair),
            Some(Err(e)) => Err(self.scan_error(&e)),
            None => Ok((
                Event::StreamEnd,
                Span::empty(saphyr_parser::Marker::new(0, 1, 0)),
            )),
        }
    }

    /// Words scanner errors the way the reference does for the common mistakes.
    fn scan_error(&self, e: &ScanError) -> TreeError {
        let at = pos_of(e.marker());
        let info = e.info();
        if info.contains("tab") {
            // Report the tab itself, as goccy does.
            if let Some(line) = self.src.lines().nth(at.line.saturating_sub(1))
                && let Some(i) = line.chars().position(|c| c == '\t')
            {
                return TreeError {
                    pos: Pos {
                        line: at.line,
                        col: i + 1,
                    },
                    message: "found character '\t' that cannot start any token".into(),
                };
            }
        }
        if let Some((open, bracket)) = self.open_flow.last().copied()
            && (info.contains("did not find expected node content")
                || info.contains("did not find expected ',' or")
                || info.contains("end of stream"))
        {
            let message = if bracket == '[' {
                "sequence end token ']' not found"
            } else {
                "mapping end token '}' not found"
            };
            return TreeError {
                pos: open,
                message: message.into(),
            };
        }
        if info.contains("did not find expected '-' indicator")
            || info.contains("did not find expected key")
            || info.contains("mapping values are not allowed")
        {
            return TreeError {
                pos: at,
                message: "value is not allowed in this context".into(),
            };
        }
        TreeError {
            pos: at,
            message: info.to_string(),
        }
    }

    fn count(&mut self, pos: Pos) -> Result<(), TreeError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(TreeError {
                pos,
                message: format!(
                    "document expands to more than {MAX_NODES} nodes (alias expansion is bounded)"
                ),
            });
        }
        Ok(())
    }

    /// Reads one node (the next event starts it).
    fn node(&mut self, depth: usize) -> Result<YNode, TreeError> {
        let (ev, span) = self.next()?;
        self.node_from(ev, span, depth)
    }

    fn node_from(&mut self, ev: Event<'a>, span: Span, depth: usize) -> Result<YNode, TreeError> {
        let pos = pos_of(&span.start);
        if depth > MAX_DEPTH {
            return Err(TreeError {
                pos,
                message: format!("document nests deeper than {MAX_DEPTH} levels"),
            });
        }
        self.count(pos)?;
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = style == ScalarStyle::Plain;
                let kind = if plain && matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL")
                {
                    Kind::Null
                } else {
                    Kind::Str {
                        text: text.into_owned(),
                        plain,
                    }
                };
                let node = YNode { kind, pos };
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(node) => {
                    let node = node.clone();
                    self.count_tree(&node)?;
                    Ok(node)
                }
                None => Err(TreeError {
                    pos,
                    message: "unknown alias".into(),
                }),
            },
            Event::SequenceStart(anchor, _) => {
                let flow = self.byte_at(span.start.index()) == Some(b'[');
                if flow {
                    self.open_flow.push((pos, '['));
                }
                let mut items = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node_from(ev, span, depth + 1)?);
                }
                if flow {
                    self.open_flow.pop();
                }
                let node = YNode {
                    kind: Kind::Seq(items),
                    pos,
                };
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::MappingStart(anchor, _) => {
                let flow = self.byte_at(span.start.index()) == Some(b'{');
                if flow {
                    self.open_flow.push((pos, '{'));
                }
                let mut entries: Vec<(Key, YNode)> = Vec::new();
                let mut map_pos = pos;
                loop {
                    let (ev, kspan) = self.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let kpos = pos_of(&kspan.start);
                    let key_text = match ev {
                        Event::Scalar(text, style, anchor, _) => {
                            let node = YNode {
                                kind: Kind::Str {
                                    text: text.to_string(),
                                    plain: style == ScalarStyle::Plain,
                                },
                                pos: kpos,
                            };
                            self.remember(anchor, &node);
                            text.into_owned()
                        }
                        Event::Alias(id) => match self.anchors.get(&id).map(|n| &n.kind) {
                            Some(Kind::Str { text, .. }) => text.clone(),
                            _ => {
                                return Err(TreeError {
                                    pos: kpos,
                                    message: "mapping keys must be scalars".into(),
                                });
                            }
                        },
                        _ => {
                            return Err(TreeError {
                                pos: kpos,
                                message: "mapping keys must be scalars".into(),
                            });
                        }
                    };
                    if entries.is_empty() && !flow {
                        map_pos = self.colon_after(&kspan).unwrap_or(kpos);
                    }
                    if let Some((first, _)) = entries.iter().find(|(k, _)| k.text == key_text) {
                        return Err(TreeError {
                            pos: kpos,
                            message: format!(
                                "mapping key \"{key_text}\" already defined at {}",
                                first.pos
                            ),
                        });
                    }
                    let value = self.node(depth + 1)?;
                    entries.push((
                        Key {
                            text: key_text,
                            pos: kpos,
                        },
                        value,
                    ));
                }
                if flow {
                    self.open_flow.pop();
                }
                let node = YNode {
                    kind: Kind::Map(entries),
                    pos: map_pos,
                };
                self.remember(anchor, &node);
                Ok(node)
            }
            other => Err(TreeError {
                pos,
                message: format!("unexpected YAML event {other:?}"),
            }),
        }
    }

    /// The byte offset of char index `idx` (None past the end).
    fn byte_offset(&self, idx: usize) -> Option<usize> {
        if self.ascii {
            return (idx <= self.src.len()).then_some(idx);
        }
        let (mut ci, mut bi) = self.cursor.get();
        if idx < ci {
            (ci, bi) = (0, 0);
        }
        let mut chars = self.src[bi..].chars();
        while ci < idx {
            bi += chars.next()?.len_utf8();
            ci += 1;
        }
        self.cursor.set((ci, bi));
        Some(bi)
    }

    fn byte_at(&self, idx: usize) -> Option<u8> {
        self.byte_offset(idx)
            .and_then(|b| self.src.as_bytes().get(b).copied())
    }

    fn remember(&mut self, anchor: usize, node: &YNode) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }

    fn count_tree(&mut self, node: &YNode) -> Result<(), TreeError> {
        self.count(node.pos)?;
        match &node.kind {
            Kind::Seq(items) => items.iter().try_for_each(|n| self.count_tree(n)),
            Kind::Map(entries) => entries.iter().try_for_each(|(_, n)| self.count_tree(n)),
            _ => Ok(()),
        }
    }

    /// The position of the `:` that follows a key.
    fn colon_after(&self, key: &Span) -> Option<Pos> {
        let start = self.byte_offset(key.end.index())?;
        let rest = self.src.get(start..)?;
        let mut col = key.end.col() + 1;
        for c in rest.chars() {
            match c {
                ':' => {
                    return Some(Pos {
                        line: key.end.line(),
                        col,
                    });
                }
                ' ' | '\t' | '"' | '\'' => col += 1,
                _ => return None,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> String {
        parse(src).unwrap_err().to_string()
    }

    #[test]
    fn duplicate_keys_name_both_positions() {
        assert_eq!(
            err("default_verdict: allow\nrules: []\ndefault_verdict: block\n"),
            "[3:1] mapping key \"default_verdict\" already defined at [1:1]"
        );
        assert_eq!(
            err("rules:\n  - name: r\n    effect: allow\n    effect: block\n"),
            "[4:5] mapping key \"effect\" already defined at [3:5]"
        );
    }

    #[test]
    fn syntax_errors_are_worded_like_the_reference() {
        assert_eq!(
            err("rules:\n  - name: r\n   effect: allow\n"),
            "[3:4] value is not allowed in this context"
        );
        assert_eq!(
            err("rules:\n\t- name: r\n"),
            "[2:1] found character '\t' that cannot start any token"
        );
        assert_eq!(err("rules: [\n"), "[1:8] sequence end token ']' not found");
    }

    #[test]
    fn block_mapping_position_is_its_first_colon() {
        let doc = parse("rules:\n  name: r\n").unwrap();
        let Kind::Map(entries) = doc.kind else {
            panic!()
        };
        assert_eq!(entries[0].1.pos, Pos { line: 2, col: 7 });
    }

    #[test]
    fn bom_joins_the_first_key_and_later_documents_are_ignored() {
        let doc = parse("\u{feff}a: 1\n").unwrap();
        let Kind::Map(entries) = doc.kind else {
            panic!()
        };
        assert_eq!(entries[0].0.text, "\u{feff}a");
        let doc = parse("a: 1\n---\na: 2\n").unwrap();
        let Kind::Map(entries) = doc.kind else {
            panic!()
        };
        assert_eq!(entries.len(), 1);
        assert!(matches!(&entries[0].1.kind, Kind::Str { text, .. } if text == "1"));
    }

    #[test]
    fn aliases_resolve_and_nulls_are_recognised() {
        let doc = parse("a: &m {x: 1}\nb: *m\nc: ~\nd: 'null'\n").unwrap();
        let Kind::Map(entries) = doc.kind else {
            panic!()
        };
        assert_eq!(entries[0].1.kind, entries[1].1.kind);
        assert_eq!(entries[2].1.kind, Kind::Null);
        assert!(matches!(&entries[3].1.kind, Kind::Str { plain: false, .. }));
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            src.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
                p = i - 1
            ));
        }
        assert!(err(&src).contains("alias expansion is bounded"));
    }

    #[test]
    fn positions_after_non_ascii_text() {
        // saphyr counts chars; the flow `[` and the block `:` are found after multi-byte names.
        let doc = parse("rules:\n  - name: \"Règle Ω\"\n    match: {tool_names: [é]}\n").unwrap();
        let Kind::Map(entries) = doc.kind else {
            panic!()
        };
        let Kind::Seq(rules) = &entries[0].1.kind else {
            panic!()
        };
        assert_eq!(rules[0].pos, Pos { line: 2, col: 9 });
        assert_eq!(
            err("a: 'é'\nb: [\n"),
            "[2:4] sequence end token ']' not found"
        );
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(parse("").unwrap().kind, Kind::Null);
        assert_eq!(parse("# only a comment\n").unwrap().kind, Kind::Null);
    }
}
